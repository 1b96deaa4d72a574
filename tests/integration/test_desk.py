"""The desk over real storage: moves, races, history, events — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Services, build_services
from bot.settings import Settings
from core.desk import Desk
from core.errors import BookingNotFound, IdempotencyConflict, StartInPast, TooLateToCancel
from core.events import EventKind
from core.lifecycle import Move, MoveOutcome, Status
from core.model import ActorKind, Business, Channel
from core.replies import BookingCard, Problem
from storage.tables import booking_history, bookings, events, outbox
from tests.conftest import NOW, OTHER_OWNER, OWNER, PAGE, new_booking


async def count(services: Services, table: object, **where: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    for column, value in where.items():
        query = query.where(getattr(table, "c")[column] == value)  # noqa: B009
    return await services.db.read(lambda conn: int(conn.execute(query).scalar_one()))


async def test_a_paid_booking_becomes_pending_with_its_history_and_event(
    services: Services, business: Business
) -> None:
    booking, created = await services.desk.intake(business, new_booking(), PAGE)
    assert created
    assert booking.status is Status.PENDING
    stored = await services.desk.booking(business, booking.id)
    assert [(h.from_status, h.to_status) for h in stored.history] == [(None, Status.PENDING)]
    feed = await services.feed.events_after(0)
    assert [(e.kind, e.booking_id) for e in feed] == [(EventKind.CREATED, booking.id)]


async def test_confirm_then_complete_records_each_change(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    confirmed = await services.desk.act(business, booking.id, Move.CONFIRM, OWNER)
    assert confirmed.booking.status is Status.CONFIRMED
    done = await services.desk.act(business, booking.id, Move.COMPLETE, OWNER)
    assert done.booking.status is Status.COMPLETED
    assert [e.kind for e in await services.feed.events_after(0)] == [
        EventKind.CREATED,
        EventKind.CONFIRMED,
        EventKind.COMPLETED,
    ]
    entry = done.booking.history[-1]
    assert (entry.actor.name, entry.actor.channel, entry.from_status) == (
        "Sam",
        Channel.CONSOLE,
        Status.CONFIRMED,
    )


async def test_a_second_confirm_is_a_harmless_no_op(services: Services, business: Business) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    await services.desk.act(business, booking.id, Move.CONFIRM, OWNER)
    again = await services.desk.act(business, booking.id, Move.CONFIRM, OWNER)
    assert again.outcome is MoveOutcome.ALREADY
    assert await count(services, events) == 2
    assert await count(services, booking_history) == 2


async def test_a_cancelled_booking_cannot_be_confirmed_and_says_so(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    await services.desk.act(business, booking.id, Move.CANCEL, OWNER, "flu")
    reply = await services.desk.handle(business.id, f"confirm {booking.id}", OWNER)
    assert reply == Problem(f"#{booking.id} is cancelled; it can't be confirmed.")


async def test_two_moves_from_the_same_read_change_the_row_once(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    seen = await services.desk.booking(business, booking.id)  # both owners saw it pending
    won = await asyncio.gather(
        services.store.move_booking(seen, Move.CONFIRM, OWNER, None, NOW),
        services.store.move_booking(seen, Move.CANCEL, OTHER_OWNER, "double booked", NOW),
    )
    assert sorted(w is not None for w in won) == [False, True]
    final = await services.desk.booking(business, booking.id)
    assert final.status is (Status.CONFIRMED if won[0] else Status.CANCELLED)
    assert final == next(w for w in won if w is not None)  # the winner was told the truth
    assert await count(services, booking_history) == 2
    assert await count(services, events) == 2
    mails = [await count(services, outbox, kind=kind) for kind in ("confirmed", "cancelled")]
    assert mails == ([1, 0] if won[0] else [0, 1])  # the winner's email only, once


class SlowReader:
    """The real store, but another owner's move lands between the desk's read and write."""

    def __init__(self, services: Services, competing: Move) -> None:
        self._store = services.store
        self._competing = competing

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def move_booking(self, booking, move, actor, reason, at):  # type: ignore[no-untyped-def]
        await self._store.move_booking(booking, self._competing, OTHER_OWNER, "first!", at)
        return await self._store.move_booking(booking, move, actor, reason, at)


async def test_the_owner_who_loses_a_race_is_told_who_won(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    racing = Desk(SlowReader(services, Move.CANCEL), services.clock)  # type: ignore[arg-type]
    reply = await racing.handle(business.id, f"confirm {booking.id}", OWNER)
    assert reply == Problem(
        f"#{booking.id} was cancelled a moment ago by Riley via Slack, "
        "so your confirm was not applied."
    )
    assert (await services.desk.booking(business, booking.id)).status is Status.CANCELLED
    assert await count(services, events) == 2


async def test_losing_to_the_same_move_reports_already_done(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    racing = Desk(SlowReader(services, Move.CONFIRM), services.clock)  # type: ignore[arg-type]
    done = await racing.act(business, booking.id, Move.CONFIRM, OWNER)
    assert done.outcome is MoveOutcome.ALREADY
    assert await count(services, events, kind=EventKind.CONFIRMED.value) == 1


async def test_many_racing_confirms_change_the_booking_once(
    services: Services, business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    results = await asyncio.gather(
        *(services.desk.act(business, booking.id, Move.CONFIRM, OWNER) for _ in range(6))
    )
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["already"] * 5 + ["applied"]
    assert await count(services, events, kind=EventKind.CONFIRMED.value) == 1


async def test_the_same_payment_twice_returns_the_first_booking(
    services: Services, business: Business
) -> None:
    first, created = await services.desk.intake(business, new_booking(txn="PAY-9"), PAGE)
    again, created_again = await services.desk.intake(business, new_booking(txn="PAY-9"), PAGE)
    assert created
    assert not created_again
    assert again.id == first.id
    assert await count(services, bookings) == 1


async def test_identical_requests_at_once_make_one_booking(
    services: Services, business: Business
) -> None:
    results = await asyncio.gather(
        *(services.desk.intake(business, new_booking(key="k-1", txn="T"), PAGE) for _ in range(5))
    )
    assert sorted(created for _, created in results) == [False] * 4 + [True]
    assert len({b.id for b, _ in results}) == 1
    assert await count(services, bookings) == 1
    assert await count(services, events) == 1


async def test_a_reused_idempotency_key_with_another_body_is_refused(
    services: Services, business: Business
) -> None:
    await services.desk.intake(business, new_booking(key="k-2", txn="A"), PAGE)
    with pytest.raises(IdempotencyConflict):
        await services.desk.intake(business, new_booking(key="k-2", txn="B"), PAGE)
    assert await count(services, bookings) == 1


async def test_a_start_in_the_past_is_refused(services: Services, business: Business) -> None:
    with pytest.raises(StartInPast):
        await services.desk.intake(business, new_booking(start=NOW - timedelta(minutes=1)), PAGE)
    assert await count(services, bookings) == 0


async def test_customers_may_cancel_until_the_start(
    services: Services, business: Business, clock: object
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    services.clock.set(booking.start_at)  # type: ignore[attr-defined]
    with pytest.raises(TooLateToCancel):
        await services.desk.customer_cancel(business, booking.id, "late", Channel.API)
    services.clock.set(booking.start_at - timedelta(seconds=1))  # type: ignore[attr-defined]
    done = await services.desk.customer_cancel(business, booking.id, "can't make it", Channel.API)
    assert done.booking.status is Status.CANCELLED
    assert done.booking.cancellation is not None
    assert done.booking.cancellation.actor.kind is ActorKind.CUSTOMER


async def test_one_business_never_sees_another_s_bookings(
    services: Services, business: Business, other_business: Business
) -> None:
    booking, _ = await services.desk.intake(business, new_booking(), PAGE)
    with pytest.raises(BookingNotFound):
        await services.desk.booking(other_business, booking.id)
    reply = await services.desk.handle(other_business.id, f"confirm {booking.id}", OWNER)
    assert isinstance(reply, Problem)
    assert "no booking" in reply.text
    assert (await services.desk.booking(business, booking.id)).status is Status.PENDING


async def test_details_show_an_overlap_without_refusing_the_booking(
    services: Services, business: Business
) -> None:
    start = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    first, _ = await services.desk.intake(business, new_booking(start=start, txn="1"), PAGE)
    second, created = await services.desk.intake(
        business, new_booking(name="Zoë", start=start + timedelta(minutes=30), txn="2"), PAGE
    )
    assert created
    card = await services.desk.run(business, services.desk.parse(business, f"#{second.id}"), OWNER)
    assert isinstance(card, BookingCard)
    overlap = f"Overlaps with #{first.id} (Ana Silva, 10:00–10:45 EST, pending)"
    assert card.card.warnings == (overlap,)
    assert [a.id.value for a in card.card.actions] == [
        "confirm",
        "cancel",
        "reschedule",
        "details",
    ]


async def test_writers_in_two_processes_wait_for_each_other_instead_of_failing(
    services: Services, business: Business, database_url: str, tmp_path: Path
) -> None:
    # A second, independent engine on the same database: as a second `juneplum serve` would be.
    other = build_services(
        Settings(database_url=database_url, mail_dir=tmp_path / "m2", _env_file=None),
        clock=services.clock,
    )
    try:
        results = await asyncio.gather(
            *(
                (services if n % 2 else other).desk.intake(
                    business, new_booking(txn=f"W-{n}"), PAGE
                )
                for n in range(40)
            )
        )
    finally:
        await other.aclose()
    assert all(created for _, created in results)
    assert await count(services, bookings) == 40
    assert await count(services, events) == 40
