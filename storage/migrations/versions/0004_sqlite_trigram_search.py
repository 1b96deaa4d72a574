"""SQLite: a trigram index of the search text, kept in step by triggers.

PostgreSQL has had its pg_trgm index since 0001; this brings SQLite the same help for rare
terms (see storage/bookings.py: the store probes it, then chooses).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATEMENTS = (
    """CREATE VIRTUAL TABLE bookings_fts USING fts5(
        search_text, content='bookings', content_rowid='id', tokenize='trigram'
    )""",
    """CREATE TRIGGER bookings_fts_insert AFTER INSERT ON bookings BEGIN
        INSERT INTO bookings_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER bookings_fts_delete AFTER DELETE ON bookings BEGIN
        INSERT INTO bookings_fts(bookings_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER bookings_fts_update AFTER UPDATE OF search_text ON bookings BEGIN
        INSERT INTO bookings_fts(bookings_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO bookings_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    "INSERT INTO bookings_fts(bookings_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER bookings_fts_{trigger}")
    op.execute("DROP TABLE bookings_fts")
