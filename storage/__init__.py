"""SQLAlchemy 2 storage: tables, repositories, migrations. The only code that knows SQL."""
