"""The migrations build exactly the tables storage/tables.py describes, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from bot.app import Services
from storage.tables import metadata

# Made by migrations on purpose and not described in tables.py: the search indexes, which
# storage/search_index.py reaches with its own SQL (an FTS5 table and triggers on SQLite,
# trigram GIN indexes on PostgreSQL), and Alembic's own table.
SEARCH_ONLY = {"ix_bookings_search_trgm", "ix_bookings_search_pairs"}


def _unexplained(diff: Any) -> bool:
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    if kind == "remove_table":
        name = diff[1].name
        return not (name.startswith("bookings_") or name == "alembic_version")
    if kind == "remove_index":
        return diff[1].name not in SEARCH_ONLY
    return True


async def test_the_migrated_schema_matches_the_tables_the_code_uses(services: Services) -> None:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if _unexplained(d)]

    assert await services.db.read(differences) == []
