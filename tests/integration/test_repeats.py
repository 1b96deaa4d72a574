"""A repeated booking is found without the database reporting an error: on PostgreSQL every
statement that fails is an ERROR line in the server's own log, naming the payment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event, func, select

from bot.app import Services
from core.model import Business
from storage.tables import bookings, intake_keys
from tests.conftest import PAGE, new_booking


@contextlib.contextmanager
def statement_errors() -> Iterator[list[str]]:
    """Every error a database answered a statement with while the block runs."""
    seen: list[str] = []

    def record(context: Any) -> None:
        seen.append(type(context.original_exception).__name__)

    event.listen(Engine, "handle_error", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "handle_error", record)


async def _count(services: Services, table: Any) -> int:
    query = select(func.count()).select_from(table)
    return await services.db.read(lambda conn: int(conn.execute(query).scalar_one()))


async def test_repeats_return_the_first_booking_and_postgresql_reports_no_error(
    services: Services, business: Business
) -> None:
    first, created = await services.desk.intake(business, new_booking(txn="T-1", key="k-1"), PAGE)
    assert created
    with statement_errors() as errors:
        # the same request again; the same payment under a new key; the same key again,
        # alone and ten at once
        again, made_again = await services.desk.intake(
            business, new_booking(txn="T-1", key="k-1"), PAGE
        )
        same_payment, made_payment = await services.desk.intake(
            business, new_booking(txn="T-1", key="k-2"), PAGE
        )
        together = await asyncio.gather(
            *(
                services.desk.intake(business, new_booking(txn="T-2", key="k-3"), PAGE)
                for _ in range(10)
            )
        )
    assert (again.id, made_again) == (first.id, False)
    assert (same_payment.id, made_payment) == (first.id, False)
    assert sum(made for _, made in together) == 1
    assert len({booking.id for booking, _ in together}) == 1
    assert await _count(services, bookings) == 2
    assert await _count(services, intake_keys) == 2  # k-1 and k-3: a repeat adds no key
    if services.db.dialect == "postgresql":
        assert errors == []
