"""A move's writes: all of them or none, and on PostgreSQL in one round trip."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, select, update

from bot.app import Services
from core.events import Event, EventKind
from core.lifecycle import Move, Status
from core.model import Business
from storage.event_feed import event_rows
from storage.outbox import MailQueue
from storage.tables import booking_history, bookings, events, outbox
from storage.writes import Guarded
from tests.conftest import NOW, OWNER, PAGE, new_booking, sql_sent


async def rows_of(services: Services, table: Any, booking_id: int) -> list[Any]:
    query = select(table).where(table.c.booking_id == booking_id).order_by(table.c.id)
    return await services.db.read(lambda conn: list(conn.execute(query).all()))


async def test_a_confirm_sends_two_statements_on_postgresql_and_writes_everything(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    with sql_sent() as sent:
        done = await services.desk.act(business, booking.id, Move.CONFIRM, OWNER)
    assert done.booking.status is Status.CONFIRMED
    if services.db.dialect == "postgresql":
        # The booking's read, then the move with its history, event and mail: no BEGIN or
        # COMMIT either (asyncpg would send them outside this hook; autocommit sends none).
        assert len(sent) == 2, sent
        assert sent[1].lstrip().startswith("WITH moved AS")
    history = await rows_of(services, booking_history, booking.id)
    assert [(h.from_status, h.to_status, h.actor_name) for h in history] == [
        (None, "pending", PAGE.name),
        ("pending", "confirmed", OWNER.name),
    ]
    assert [e.kind for e in await rows_of(services, events, booking.id)] == [
        EventKind.CREATED.value,
        EventKind.CONFIRMED.value,
    ]
    mail = [(m.kind, m.recipient) for m in await rows_of(services, outbox, booking.id)]
    assert ("confirmed", "ana@example.com") in mail


GUARD = (
    update(bookings)
    .where(bookings.c.id == bindparam("booking_id"), bookings.c.status == bindparam("expected"))
    .values(status=bindparam("target"))
)


def failed_mail(booking_id: int, business: Business, report: str) -> Event:
    """An event whose hook queues one email to the owner, read by an INSERT ... SELECT."""
    return Event(
        kind=EventKind.MAIL_FAILED,
        business_id=business.id,
        booking_id=booking_id,
        occurred_at=NOW,
        actor=OWNER,
        data={"outbox_id": 1, "kind": "confirmed", "report": report, "error": "550"},
    )


def confirm(booking_id: int, *events_: Event) -> Guarded:
    params = {"booking_id": booking_id, "expected": "pending", "target": "confirmed"}
    return Guarded(GUARD, params, event_rows(events_, [MailQueue()]))


async def test_rows_of_one_statement_in_one_change_each_keep_their_own_values(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    reports = [failed_mail(booking.id, business, r) for r in ("first", "second")]
    assert await services.db.write_guarded(confirm(booking.id, *reports))
    queued = {
        (m.kind, m.dedupe_key, m.recipient)
        for m in await rows_of(services, outbox, booking.id)
        if m.kind == "delivery-failed"
    }
    assert queued == {
        ("delivery-failed", "failed:1:first", business.owner_email),
        ("delivery-failed", "failed:1:second", business.owner_email),
    }
    found = [e.data.get("report") for e in await rows_of(services, events, booking.id)]
    assert found == [None, "first", "second"]


async def test_a_change_whose_guard_finds_nothing_writes_nothing(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    await services.desk.act(business, booking.id, Move.CANCEL, OWNER)
    before = len(await rows_of(services, outbox, booking.id))
    assert not await services.db.write_guarded(
        confirm(booking.id, failed_mail(booking.id, business, "x"))
    )
    assert len(await rows_of(services, outbox, booking.id)) == before
    assert (await services.desk.booking(business, booking.id)).status is Status.CANCELLED


async def test_a_change_whose_rows_cannot_be_read_is_refused_whole(
    services: Services, business: Business
) -> None:
    # The email's INSERT ... SELECT reads a booking that isn't there: nothing may land,
    # not even the guard's own update, on SQLite (a transaction) or PostgreSQL (one statement).
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    readable = confirm(booking.id, failed_mail(booking.id, business, "kept"))  # its parts first
    missing = Guarded(
        readable.guard,
        readable.params,
        [*readable.then, *MailQueue()([failed_mail(booking.id + 1000, business, "lost")])],
    )
    with pytest.raises(LookupError):
        await services.db.write_guarded(missing)
    assert (await services.desk.booking(business, booking.id)).status is Status.PENDING
    assert all(m.kind != "delivery-failed" for m in await rows_of(services, outbox, booking.id))
    assert [e.kind for e in await rows_of(services, events, booking.id)] == ["booking.created"]
