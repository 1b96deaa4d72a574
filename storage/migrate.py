"""Run the Alembic migrations that ship inside the package, from any directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database's schema up to date."""
    await db.write(lambda conn: command.upgrade(alembic_config(conn), revision))


def head() -> str:
    """The revision the code's migrations lead to."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if found is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return found


async def current(db: Database) -> str | None:
    """The revision the database is at; None if it was never migrated."""
    return await db.read(lambda conn: MigrationContext.configure(conn).get_current_revision())
