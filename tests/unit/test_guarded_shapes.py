"""What `storage.writes` refuses to compose, rather than compose wrongly (no database)."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql

from storage.tables import booking_history, bookings
from storage.writes import Guarded, Rows, one_statement

GUARD = (
    update(bookings)
    .where(bookings.c.id == bindparam("booking_id"), bookings.c.status == "pending")
    .values(status="confirmed")
)
ROW = {"booking_id": 1, "to_status": "confirmed"}


def sql(change: Guarded) -> str:
    statement, _ = one_statement(change)
    return str(statement.compile(dialect=postgresql.asyncpg.dialect()))  # type: ignore[no-untyped-call]


def test_a_guard_with_nothing_after_it_is_still_one_valid_statement() -> None:
    text = sql(Guarded(GUARD, {"booking_id": 1}, []))
    assert "CASE WHEN true THEN" in text


def test_an_insert_with_more_than_its_table_is_refused() -> None:
    # Its own VALUES or RETURNING would be lost when rebuilt as INSERT ... SELECT.
    shaped = insert(booking_history).values(reason="set here")
    with pytest.raises(ValueError, match="plain insert"):
        sql(Guarded(GUARD, {"booking_id": 1}, [Rows(shaped, [ROW])]))


def test_a_parameter_with_its_own_value_is_refused() -> None:
    # Renamed for its part of the statement, it would lose the value and insert NULL.
    with_value = insert(booking_history).from_select(
        ["booking_id", "to_status"],
        bookings.select()
        .with_only_columns(bookings.c.id, bindparam("to_status", value="confirmed"))
        .where(bookings.c.id == bindparam("booking_id")),
    )
    with pytest.raises(ValueError, match="to_status"):
        sql(Guarded(GUARD, {"booking_id": 1}, [Rows(with_value, [ROW])]))
