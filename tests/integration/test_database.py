"""How writes reach the database: group commit, a locked SQLite file, checkpoints."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select

from bot.app import Services
from core.clock import FixedClock
from core.lifecycle import Move, Status
from core.model import Business
from core.replies import BookingCard, BookingList
from storage.tables import booking_history, bookings, events, outbox
from tests.conftest import (
    NOW,
    OWNER,
    PAGE,
    TEST_DB,
    _admin,
    _migrated,
    _plum_salon,
    _truncate,
    new_booking,
)

# The suite's own database name, not input: the f-string is safe.
DROP_OUR_CONNECTIONS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608
    f"WHERE datname = '{TEST_DB}' AND pid <> pg_backend_pid()"
)


async def count(services: Services, table: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    return await services.db.read(lambda conn: int(conn.execute(query).scalar_one()))


async def test_bookings_arriving_together_are_stored_together_and_a_repeat_among_them_is_found(
    services: Services, business: Business
) -> None:
    first, _ = await services.desk.intake(business, new_booking(txn="T-0"), PAGE)
    # Twenty at once (one a repeat of T-0): on SQLite they share transactions and statements;
    # the repeat fails its group's multi-row INSERT, and each is stored again on its own.
    results = await asyncio.gather(
        *(services.desk.intake(business, new_booking(txn=f"T-{n}"), PAGE) for n in range(20))
    )
    created = [booking for booking, made in results if made]
    repeats = [booking for booking, made in results if not made]
    assert [b.id for b in repeats] == [first.id]
    assert len(created) == 19
    assert len({b.id for b in created}) == 19
    for booking in created:  # each caller got its own booking, as stored
        stored = await services.desk.booking(business, booking.id)
        assert stored.payment.transaction_id == booking.payment.transaction_id
        assert stored.status is Status.PENDING
    assert await count(services, bookings) == 20
    assert await count(services, booking_history) == 20
    assert await count(services, events) == 20
    assert await count(services, outbox) == 40  # customer + owner, once per booking


async def test_a_locked_sqlite_file_makes_writes_wait_without_stopping_the_loop(
    sqlite_services: Services, sqlite_business: Business
) -> None:
    services, business = sqlite_services, sqlite_business
    other = sqlite3.connect(services.settings.database_url.removeprefix("sqlite:///"))
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        intake = asyncio.create_task(services.desk.intake(business, new_booking(), PAGE))
        started = time.perf_counter()
        for _ in range(20):  # the loop keeps running while the write waits for the lock
            await asyncio.sleep(0.01)
        assert time.perf_counter() - started < 1.0  # a blocked loop would sit out the 30 s
        assert not intake.done()
        listing = await services.desk.handle(business.id, "today", PAGE)  # reads go on too
        assert isinstance(listing, BookingList)
    finally:
        other.execute("COMMIT")
        other.close()
    booking, created = await asyncio.wait_for(intake, timeout=10)
    assert created
    assert (await services.desk.booking(business, booking.id)).status is Status.PENDING
    # and the next write, with the lock free again, is stored as usual
    second, created = await services.desk.intake(business, new_booking(txn="T-2"), PAGE)
    assert created and second.id == booking.id + 1


async def test_the_sqlite_write_ahead_log_is_checkpointed_as_writes_go_on(
    sqlite_services: Services, sqlite_business: Business
) -> None:
    services, business = sqlite_services, sqlite_business
    wal = Path(services.settings.database_url.removeprefix("sqlite:///") + "-wal")
    for n in range(1000):  # one by one: 1,000 commits, each writing ~30 pages
        await services.desk.intake(business, new_booking(txn=f"C-{n}"), PAGE)
    await asyncio.sleep(0.2)  # let the last checkpoint finish
    # Without checkpoints the log would hold every page written: over 100 MB by now.
    assert (await asyncio.to_thread(wal.stat)).st_size < 32 * 1024 * 1024
    assert await count(services, bookings) == 1000


async def test_the_write_ahead_log_stays_bounded_when_bookings_arrive_in_big_batches(
    sqlite_services: Services, sqlite_business: Business
) -> None:
    services, business = sqlite_services, sqlite_business
    wal = Path(services.settings.database_url.removeprefix("sqlite:///") + "-wal")
    for first in range(0, 4096, 64):  # 64 at once: one transaction each, 64 in all
        await asyncio.gather(
            *(
                services.desk.intake(business, new_booking(txn=f"B-{n}"), PAGE)
                for n in range(first, first + 64)
            )
        )
    await asyncio.sleep(0.2)
    # Counting transactions alone, none of the 64 would checkpoint: the log reached 22 MB.
    assert (await asyncio.to_thread(wal.stat)).st_size < 12 * 1024 * 1024
    assert await count(services, bookings) == 4096


async def test_a_write_that_fails_among_others_fails_alone_and_theirs_are_kept(
    services: Services, business: Business
) -> None:
    def book(txn: str) -> Callable[[Connection], int]:
        def work(conn: Connection) -> int:
            values = {
                "business_id": business.id,
                "customer_name": "Ana",
                "customer_email": "ana@example.com",
                "service_name": "Cut",
                "duration_minutes": 30,
                "start_at": NOW,
                "end_at": NOW,
                "status": "pending",
                "payment_provider": "paypal",
                "transaction_id": txn,
                "amount": Decimal("1.00"),
                "currency": "USD",
                "payment_status": "paid",
                "search_text": "ana",
                "created_at": NOW,
                "updated_at": NOW,
            }
            return int(conn.execute(insert(bookings).returning(bookings.c.id), values).scalar_one())

        return work

    def broken(conn: Connection) -> int:
        book("W-broken")(conn)  # written, then undone with the failure
        raise ValueError("no")

    def exhausted(conn: Connection) -> int:
        return next(iter([]))  # StopIteration: a future can't carry it as it is

    results = await asyncio.gather(
        services.db.write(book("W-1")),
        services.db.write(broken),
        services.db.write(exhausted),
        services.db.write(book("W-1")),  # a repeat of the first: the unique constraint says no
        services.db.write(book("W-2")),
        return_exceptions=True,
    )
    # On SQLite the first of the two W-1 wins; on PostgreSQL they race: either may.
    assert sorted(type(r).__name__ for r in (results[0], results[3])) == ["IntegrityError", "int"]
    assert isinstance(results[1], ValueError)
    assert isinstance(results[2], RuntimeError)
    assert isinstance(results[4], int)
    query = select(bookings.c.transaction_id)
    stored = await services.db.read(lambda conn: sorted(conn.execute(query).scalars()))
    assert stored == ["W-1", "W-2"]  # (on PostgreSQL either may have the lower id)


async def test_postgresql_reads_and_writes_carry_on_after_the_server_drops_every_connection(
    postgres_url: str, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No ping before each use of a pooled connection: a unit of work that finds its
    # connection dead runs again on a new one. Here the server kills them all, as a restart
    # would, between two commands.
    await _truncate(postgres_url)
    async for services in _migrated(postgres_url, clock, tmp_path):
        business = await _plum_salon(services)
        first, _ = await services.desk.intake(business, new_booking(txn="T-1"), PAGE)
        await _admin(DROP_OUR_CONNECTIONS)
        reply = await services.desk.handle(business.id, f"#{first.id}", OWNER)
        assert isinstance(reply, BookingCard) and reply.booking.id == first.id

        await _admin(DROP_OUR_CONNECTIONS)
        done = await services.desk.act(business, first.id, Move.CONFIRM, OWNER)
        assert done.booking.status is Status.CONFIRMED
        assert await count(services, events) == 2  # created, confirmed: once each
        assert await count(services, booking_history) == 2
        assert await count(services, outbox) == 3  # customer + owner, then the confirmation
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    assert len(lost) == 2
