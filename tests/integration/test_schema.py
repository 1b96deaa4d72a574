"""The migrations build exactly the tables storage/tables.py describes, on both databases."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from bot.app import Services
from core.chat import ConversationKey, Person, Platform
from core.lifecycle import Move, Status
from core.model import Business
from storage import migrate
from storage.migrate import alembic_config
from storage.tables import metadata
from tests.conftest import OWNER, PAGE, new_booking

# Made by migrations on purpose and not described in tables.py: the search indexes, which
# storage/search_index.py reaches with its own SQL (an FTS5 table and triggers on SQLite,
# trigram GIN indexes on PostgreSQL), and Alembic's own table.
SEARCH_ONLY = {"ix_bookings_search_trgm", "ix_bookings_search_pairs"}
# Widened on PostgreSQL only (0007): SQLite keeps any length in a VARCHAR, and changing a
# column's type there would copy the bookings table and lose its search triggers.
WIDENED_ON_POSTGRESQL_ONLY = {("bookings", "payment_status")}


def _unexplained(diff: Any) -> bool:
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    if kind == "remove_table":
        name = diff[1].name
        return not (name.startswith("bookings_") or name == "alembic_version")
    if kind == "remove_index":
        return diff[1].name not in SEARCH_ONLY
    if kind == "modify_type":
        _, _, table, column, _, old, new = diff[0]
        return (table, column) not in WIDENED_ON_POSTGRESQL_ONLY or old.length > new.length
    return True


async def test_the_migrated_schema_matches_the_tables_the_code_uses(services: Services) -> None:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if _unexplained(d)]

    assert await services.db.read(differences) == []


async def test_a_downgrade_leaves_only_rows_the_older_code_reads_and_upgrades_again(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    await services.desk.act(business, booking.id, Move.CANCEL, OWNER)
    await services.desk.refund_issued(business, booking.id, OWNER)
    code = await services.chat.issue_link_code(business.id)
    await services.chat.link(ConversationKey(Platform.SLACK, "T1", "C1"), Person("U1", "R"), code)
    await services.db.write(lambda conn: command.downgrade(alembic_config(conn), "0005"))

    def old_rows(conn: Connection) -> tuple[list[str], list[tuple[str, str]]]:
        kinds = conn.execute(text("SELECT kind FROM events ORDER BY id")).scalars().all()
        moves = conn.execute(text("SELECT from_status, to_status FROM booking_history")).all()
        return list(kinds), [(str(f), str(t)) for f, t in moves]

    kinds, moves = await services.db.read(old_rows)
    assert kinds == ["booking.created", "booking.cancelled"]
    assert moves == [("None", "pending"), ("pending", "cancelled")]
    await migrate.upgrade(services.db)
    assert (await services.desk.booking(business, booking.id)).status is Status.CANCELLED
