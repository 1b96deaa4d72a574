"""The desk over an in-memory store: every move from every status, cards that went stale,
races lost, refunds marked, and typed lines that are not commands."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.cards import ActionId
from core.clock import FixedClock
from core.desk import Desk
from core.errors import IdempotencyConflict, NotRefundable
from core.events import MOVE_EVENTS, EventKind
from core.lifecycle import NOT_BEFORE_START, IllegalMove, Move, MoveOutcome, Status
from core.model import (
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    Customer,
    Note,
    Payment,
    PaymentStatus,
    Provider,
)
from core.replies import BookingCard, BookingList, CalendarMonth, MoveDone, Problem, RefundMarked
from core.wording import illegal_move
from tests.conftest import NOW, OTHER_OWNER, OWNER, PAGE, new_booking
from tests.fakes import InMemoryBookingStore

LEGAL = {
    (Status.PENDING, Move.CONFIRM),
    (Status.PENDING, Move.CANCEL),
    (Status.CONFIRMED, Move.COMPLETE),
    (Status.CONFIRMED, Move.CANCEL),
    (Status.PENDING, Move.NO_SHOW),
    (Status.CONFIRMED, Move.NO_SHOW),
    (Status.PENDING, Move.COMPLETE),
}
REPEATS = {
    (Status.CONFIRMED, Move.CONFIRM),
    (Status.COMPLETED, Move.COMPLETE),
    (Status.CANCELLED, Move.CANCEL),
    (Status.NO_SHOW, Move.NO_SHOW),
}
# The moves that bring a new booking to each status.
ROUTE = {
    Status.PENDING: (),
    Status.CONFIRMED: (Move.CONFIRM,),
    Status.COMPLETED: (Move.CONFIRM, Move.COMPLETE),
    Status.CANCELLED: (Move.CANCEL,),
    Status.NO_SHOW: (Move.NO_SHOW,),
}
CUSTOMER = Actor(ActorKind.CUSTOMER, Channel.API, "Ana Silva")


class RacedStore(InMemoryBookingStore):
    """Another owner's change lands between the desk's read and its write, once."""

    def __init__(self) -> None:
        super().__init__()
        self.competing_move: Move | None = None
        self.competing_refund = False

    async def move_booking(
        self, booking: Booking, move: Move, actor: Actor, reason: str | None, at: datetime
    ) -> Booking | None:
        if self.competing_move is not None:
            first, self.competing_move = self.competing_move, None
            await super().move_booking(booking, first, OTHER_OWNER, "first!", at)
        return await super().move_booking(booking, move, actor, reason, at)

    async def note_refund_issued(
        self, booking: Booking, actor: Actor, at: datetime
    ) -> Booking | None:
        if self.competing_refund:
            self.competing_refund = False
            await super().note_refund_issued(booking, OTHER_OWNER, at)
        return await super().note_refund_issued(booking, actor, at)


@pytest.fixture
def store() -> RacedStore:
    return RacedStore()


@pytest.fixture
def desk(store: InMemoryBookingStore, clock: FixedClock) -> Desk:
    return Desk(store, clock)


@pytest.fixture
def salon(store: InMemoryBookingStore) -> Business:
    return store.add_business("Plum Salon", "America/New_York")


def started(desk: Desk, booking: Booking) -> None:
    """Move the desk's clock to a minute after the booking's start (a no-show is legal)."""
    clock = desk._clock
    assert isinstance(clock, FixedClock)
    clock.advance(seconds=(booking.start_at - clock.now()).total_seconds() + 60)


async def booking_in(desk: Desk, salon: Business, status: Status, txn: str = "TX-1") -> Booking:
    booking, _ = await desk.intake(salon, new_booking(txn=txn), PAGE)
    for move in ROUTE[status]:
        if move is Move.NO_SHOW:
            started(desk, booking)
        await desk.act(salon, booking.id, move, OWNER, "flu" if move is Move.CANCEL else None)
    return await desk.booking(salon, booking.id)


# Every status × every move


@pytest.mark.parametrize("drawn", ["typed", "from a card"])
@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("move", list(Move))
async def test_every_move_from_every_status_applies_repeats_harmlessly_or_is_refused(
    desk: Desk,
    store: InMemoryBookingStore,
    salon: Business,
    status: Status,
    move: Move,
    drawn: str,
) -> None:
    before = await booking_in(desk, salon, status)
    events_before = list(store.events)
    expected = status if drawn == "from a card" else None

    if (status, move) in LEGAL:
        if (status, move) in NOT_BEFORE_START:
            started(desk, before)
        done = await desk.act(salon, before.id, move, OTHER_OWNER, expected=expected)
        assert done.outcome is MoveOutcome.APPLIED
        assert done.booking.status is move.target
        assert done.booking == await desk.booking(salon, before.id)
        entry = done.booking.history[-1]
        assert (entry.from_status, entry.to_status, entry.actor) == (
            status,
            move.target,
            OTHER_OWNER,
        )
        (event,) = store.events[len(events_before) :]
        assert (event.kind, event.booking_id, event.occurred_at) == (
            MOVE_EVENTS[move],
            before.id,
            desk._clock.now(),
        )
        assert event.data == {"from": status.value, "to": move.target.value}
        assert [a.tap.drawn for a in done.actions] == [move.target] * len(done.actions)
    elif (status, move) in REPEATS:
        done = await desk.act(salon, before.id, move, OTHER_OWNER, expected=expected)
        assert done.outcome is MoveOutcome.ALREADY
        assert done.booking == before
        assert store.events == events_before
    else:
        with pytest.raises(IllegalMove) as refused:
            await desk.act(salon, before.id, move, OTHER_OWNER, expected=expected)
        err = refused.value
        assert (err.booking_id, err.status, err.move, err.changed_by) == (
            before.id,
            status,
            move,
            None,
        )
        assert illegal_move(err) == f"#{before.id} is {status.label}; it can't be {move.past}."
        assert await desk.booking(salon, before.id) == before
        assert store.events == events_before


async def test_a_move_on_a_booking_of_another_business_is_not_found(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    kiwi = store.add_business("Kiwi Tutors", "Pacific/Auckland")
    theirs = await booking_in(desk, kiwi, Status.PENDING)
    reply = await desk.handle(salon.id, f"confirm {theirs.id}", OWNER)
    assert reply == Problem(f"There is no booking #{theirs.id}. Try `all` or `search <name>`.")
    assert (await desk.booking(kiwi, theirs.id)).status is Status.PENDING


# A card drawn earlier


async def test_a_cancel_pressed_on_a_pending_card_never_cancels_a_booking_confirmed_since(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    await desk.act(salon, booking.id, Move.CONFIRM, OTHER_OWNER)
    with pytest.raises(IllegalMove) as refused:
        await desk.act(salon, booking.id, Move.CANCEL, OWNER, "double booked", Status.PENDING)
    assert refused.value.status is Status.CONFIRMED
    assert refused.value.changed_by is not None
    assert refused.value.changed_by.actor == OTHER_OWNER
    assert illegal_move(refused.value) == (
        f"#{booking.id} was confirmed a moment ago by Riley via Slack, so your cancel was not "
        f"applied. Send `cancel {booking.id}` again if you still mean it."
    )
    assert (await desk.booking(salon, booking.id)).status is Status.CONFIRMED
    assert [e.kind for e in store.events] == [EventKind.CREATED, EventKind.CONFIRMED]


async def test_a_confirm_pressed_on_a_pending_card_after_the_customer_cancelled_says_who(
    desk: Desk, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    await desk.customer_cancel(salon, booking.id, "sick", Channel.API)
    with pytest.raises(IllegalMove) as refused:
        await desk.act(salon, booking.id, Move.CONFIRM, OWNER, expected=Status.PENDING)
    assert illegal_move(refused.value) == (
        f"#{booking.id} was cancelled a moment ago by Ana Silva (customer) via the booking page, "
        "so your confirm was not applied."
    )


async def test_a_double_tap_on_confirm_confirms_once_and_then_is_already_done(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    first = await desk.act(salon, booking.id, Move.CONFIRM, OWNER, expected=Status.PENDING)
    second = await desk.act(salon, booking.id, Move.CONFIRM, OWNER, expected=Status.PENDING)
    assert (first.outcome, second.outcome) == (MoveOutcome.APPLIED, MoveOutcome.ALREADY)
    assert [e.kind for e in store.events] == [EventKind.CREATED, EventKind.CONFIRMED]
    assert len(second.booking.history) == 2


# Races lost between the desk's read and its write


async def test_the_owner_who_loses_a_race_is_told_who_won_and_nothing_else_is_written(
    desk: Desk, store: RacedStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    store.competing_move = Move.CANCEL
    reply = await desk.handle(salon.id, f"confirm {booking.id}", OWNER)
    assert reply == Problem(
        f"#{booking.id} was cancelled a moment ago by Riley via Slack, "
        "so your confirm was not applied."
    )
    stored = await desk.booking(salon, booking.id)
    assert stored.status is Status.CANCELLED and len(stored.history) == 2
    assert [e.kind for e in store.events] == [EventKind.CREATED, EventKind.CANCELLED]


async def test_losing_to_the_same_move_reports_it_already_done(
    desk: Desk, store: RacedStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    store.competing_move = Move.CONFIRM
    done = await desk.act(salon, booking.id, Move.CONFIRM, OWNER)
    assert done.outcome is MoveOutcome.ALREADY
    assert done.booking.status is Status.CONFIRMED
    assert done.booking.last_move is not None and done.booking.last_move.actor == OTHER_OWNER
    assert [e.kind for e in store.events] == [EventKind.CREATED, EventKind.CONFIRMED]


async def test_losing_a_race_that_still_allows_the_move_is_not_retried_behind_the_owners_back(
    desk: Desk, store: RacedStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    store.competing_move = Move.CONFIRM
    reply = await desk.handle(salon.id, f"cancel {booking.id} ill", OWNER)
    assert reply == Problem(
        f"#{booking.id} was confirmed a moment ago by Riley via Slack, so your cancel was "
        f"not applied. Send `cancel {booking.id}` again if you still mean it."
    )
    assert (await desk.booking(salon, booking.id)).status is Status.CONFIRMED
    again = await desk.handle(salon.id, f"cancel {booking.id} ill", OWNER)
    assert isinstance(again, MoveDone) and again.outcome is MoveOutcome.APPLIED


# Refunds


async def test_marking_a_cancelled_paid_booking_refunded_keeps_it_cancelled_and_records_who(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.CANCELLED)
    marked = await desk.refund_issued(salon, booking.id, OTHER_OWNER)
    assert marked.outcome is MoveOutcome.APPLIED
    assert marked.booking.status is Status.CANCELLED
    assert marked.booking.payment.status is PaymentStatus.REFUNDED
    assert marked.booking.refund_issued is not None
    assert marked.booking.refund_issued.actor == OTHER_OWNER
    assert marked.booking == await desk.booking(salon, booking.id)
    assert [a.id for a in marked.actions] == [ActionId.DETAILS]
    assert store.events[-1].kind is EventKind.REFUND_ISSUED


async def test_a_second_refund_mark_changes_nothing(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.CANCELLED)
    await desk.refund_issued(salon, booking.id, OWNER)
    again = await desk.refund_issued(salon, booking.id, OTHER_OWNER)
    assert again.outcome is MoveOutcome.ALREADY
    notes = [h for h in again.booking.history if h.note is Note.REFUND_ISSUED]
    assert [n.actor for n in notes] == [OWNER]
    assert [e.kind for e in store.events].count(EventKind.REFUND_ISSUED) == 1


async def test_a_refund_mark_that_loses_to_another_tap_is_already_done(
    desk: Desk, store: RacedStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.CANCELLED)
    store.competing_refund = True
    marked = await desk.refund_issued(salon, booking.id, OWNER)
    assert marked.outcome is MoveOutcome.ALREADY
    assert marked.booking.refund_issued is not None
    assert marked.booking.refund_issued.actor == OTHER_OWNER
    assert [e.kind for e in store.events].count(EventKind.REFUND_ISSUED) == 1


@pytest.mark.parametrize("status", [Status.PENDING, Status.CONFIRMED, Status.COMPLETED])
async def test_only_a_cancelled_booking_can_be_marked_refunded(
    desk: Desk, store: InMemoryBookingStore, salon: Business, status: Status
) -> None:
    booking = await booking_in(desk, salon, status)
    with pytest.raises(NotRefundable):
        await desk.refund_issued(salon, booking.id, OWNER)
    reply = await desk.handle(salon.id, f"refunded {booking.id}", OWNER)
    assert reply == Problem(
        f"#{booking.id} is {status.value}; only a cancelled booking can be marked refunded."
    )
    assert (await desk.booking(salon, booking.id)).payment.status is PaymentStatus.PAID
    assert EventKind.REFUND_ISSUED not in [e.kind for e in store.events]


async def test_a_cancelled_booking_whose_payment_was_already_refunded_has_nothing_to_refund(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    paid = new_booking(txn="RF-1")
    refunded = replace(paid, payment=replace(paid.payment, status=PaymentStatus.REFUNDED))
    booking, _ = await desk.intake(salon, refunded, PAGE)
    await desk.act(salon, booking.id, Move.CANCEL, OWNER)
    reply = await desk.handle(salon.id, f"refunded {booking.id}", OWNER)
    assert reply == Problem(f"#{booking.id} has no payment to refund.")
    assert EventKind.REFUND_ISSUED not in [e.kind for e in store.events]


# Typed lines


async def test_refunded_42_marks_booking_42_refunded(clock: FixedClock) -> None:
    store = InMemoryBookingStore(first_booking_id=42)
    desk = Desk(store, clock)
    salon = store.add_business("Plum Salon")
    booking = await booking_in(desk, salon, Status.CANCELLED)
    assert booking.id == 42
    reply = await desk.handle(salon.id, "refunded 42", OWNER)
    assert isinstance(reply, RefundMarked) and reply.outcome is MoveOutcome.APPLIED
    assert reply.booking.refund_issued is not None
    again = await desk.handle(salon.id, "/bookings refund #42", OWNER)
    assert isinstance(again, RefundMarked) and again.outcome is MoveOutcome.ALREADY


async def test_typed_moves_record_the_owner_and_the_reason(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    reply = await desk.handle(salon.id, f"cancel {booking.id}   customer asked  ", OWNER)
    assert isinstance(reply, MoveDone) and reply.outcome is MoveOutcome.APPLIED
    assert reply.booking.cancellation is not None
    assert (reply.booking.cancellation.reason, reply.booking.cancellation.actor) == (
        "customer asked",
        OWNER,
    )
    assert store.events[-1].data["reason"] == "customer asked"
    again = await desk.handle(salon.id, f"cancel {booking.id}", OWNER)
    assert isinstance(again, MoveDone) and again.outcome is MoveOutcome.ALREADY


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("confirm", "Which booking? e.g. `confirm 42`."),
        ("cancel please", "Which booking? e.g. `cancel 42 customer asked`."),
        ("complete 1 early", "Only cancel takes a reason; try `complete 1`."),
        ("cancel 1 " + "x" * 501, "Keep the reason under 500 characters."),
        ("refunded", "Which booking did you refund? e.g. `refunded 42`."),
        ("refunded forty-two", "Which booking did you refund? e.g. `refunded 42`."),
        ("#", "I can't read “#”. Dates look like 2026-12-01, ranges like "
              "2026-12-01..2026-12-07, bookings like #42."),
        ("2026-02-30", "2026-02-30 isn't a date on the calendar. Dates look like 2026-12-01."),
        ("calendar 2026-13", "“2026-13” isn't a month. Try `calendar` or `calendar 2026-12`."),
        ("all page 0", "Pages start at 1, e.g. `all page 2`."),
        ("!!!", "No bookings match “!!!”. Try `search <name or service>`, `today` or `help`."),
    ],
)  # fmt: skip
async def test_a_line_that_is_not_a_command_is_answered_with_words_not_an_exception(
    desk: Desk, store: InMemoryBookingStore, salon: Business, typed: str, said: str
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    assert await desk.handle(salon.id, typed, OWNER) == Problem(said)
    assert await desk.booking(salon, booking.id) == booking
    assert [e.kind for e in store.events] == [EventKind.CREATED]


async def test_a_command_for_a_booking_that_does_not_exist_says_so(
    desk: Desk, salon: Business
) -> None:
    for typed in ("confirm 999", "#999", "refunded 999"):
        assert await desk.handle(salon.id, typed, OWNER) == Problem(
            "There is no booking #999. Try `all` or `search <name>`."
        )


# Views over the store


async def test_a_booking_s_details_show_its_overlaps_and_the_customer_s_record(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    kiwi = store.add_business("Kiwi Tutors", "Pacific/Auckland")
    earlier = await booking_in(desk, salon, Status.COMPLETED, txn="A")
    await booking_in(desk, salon, Status.CANCELLED, txn="B")
    await booking_in(desk, kiwi, Status.COMPLETED, txn="C")  # another business: not counted
    stranger = new_booking(name="Bo Chen", txn="D", start=earlier.start_at + timedelta(minutes=30))
    stranger = replace(stranger, customer=Customer("Bo Chen", "bo@example.com"))
    bo, _ = await desk.intake(salon, stranger, PAGE)
    ana, _ = await desk.intake(salon, new_booking(txn="E"), PAGE)

    reply = await desk.handle(salon.id, f"#{ana.id}", OWNER)
    assert isinstance(reply, BookingCard)
    fields = {f.key: f.value for f in reply.card.fields}
    assert fields["history"] == "3 bookings: 1 visit, 1 cancellation"
    # The completed and cancelled bookings at the same time don't overlap; Bo's pending one does.
    assert reply.card.warnings == (f"Overlaps with #{bo.id} (Bo Chen, 10:30–11:15 EST, pending)",)
    bo_card = await desk.details(salon, bo.id)
    assert {f.key: f.value for f in bo_card.card.fields}["history"] == "First booking with you"


async def test_lists_search_folded_names_and_page_with_a_total(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    start = NOW + timedelta(days=1)
    for n in range(1, 24):
        name = "Élodie Dupré" if n % 2 else "Ana Silva"
        await desk.intake(
            salon, new_booking(name=name, txn=f"T{n}", start=start + timedelta(hours=n)), PAGE
        )
    found = await desk.handle(salon.id, "search ELODIE dupre", OWNER)
    assert isinstance(found, BookingList)
    assert (found.page.total, found.more_command) == (12, None)
    assert {b.customer.name for b in found.page.bookings} == {"Élodie Dupré"}
    starts = [b.start_at for b in found.page.bookings]
    assert starts == sorted(starts, reverse=True)  # newest first

    first = await desk.handle(salon.id, "all", OWNER)
    second = await desk.handle(salon.id, "all page 2", OWNER)
    assert isinstance(first, BookingList) and isinstance(second, BookingList)
    assert (first.page.total, len(first.page.bookings), first.more_command) == (
        23,
        20,
        "all page 2",
    )
    assert (len(second.page.bookings), second.more_command) == (3, None)
    assert await desk.handle(salon.id, "all page 3", OWNER) == Problem(
        "There is no page 3: that list has 23 bookings, on 2 pages. Type `all` for the first."
    )
    nothing = await desk.handle(salon.id, "tomorow", OWNER)
    assert nothing == Problem(
        "No bookings match “tomorow”. Did you mean `tomorrow`? Type `help` for more."
    )


async def test_a_day_s_list_keeps_to_the_local_day_and_the_status_list_to_its_status(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    # 26 Nov in New York runs from 05:00 UTC on the 26th to 05:00 UTC on the 27th.
    late = new_booking(txn="L", start=datetime.fromisoformat("2026-11-27T04:30:00+00:00"))
    after = new_booking(txn="M", start=datetime.fromisoformat("2026-11-27T05:00:00+00:00"))
    inside, _ = await desk.intake(salon, late, PAGE)
    outside, _ = await desk.intake(salon, after, PAGE)
    await desk.act(salon, outside.id, Move.CONFIRM, OWNER)
    day = await desk.handle(salon.id, "2026-11-26", OWNER)
    assert isinstance(day, BookingList)
    assert [b.id for b in day.page.bookings] == [inside.id]
    confirmed = await desk.handle(salon.id, "confirmed", OWNER)
    assert isinstance(confirmed, BookingList)
    assert [b.id for b in confirmed.page.bookings] == [outside.id]
    completed = await desk.handle(salon.id, "completed", OWNER)
    assert isinstance(completed, BookingList)
    assert (completed.page.total, completed.empty_text) == (0, "No completed bookings.")


async def test_the_calendar_counts_bookings_per_local_day_leaving_out_cancelled_ones(
    desk: Desk, salon: Business
) -> None:
    kept = await booking_in(desk, salon, Status.CONFIRMED, txn="K")
    await booking_in(desk, salon, Status.CANCELLED, txn="X")
    month = await desk.handle(salon.id, "calendar 2026-11", OWNER)
    assert isinstance(month, CalendarMonth)
    assert month.counts == {kept.start_at.astimezone(salon.zone).date(): 1}


# Intake through the fake


async def test_the_same_payment_or_key_twice_returns_the_first_booking(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    first, created = await desk.intake(salon, new_booking(txn="PAY-9", key="k-1"), PAGE)
    by_payment, again = await desk.intake(salon, new_booking(txn="PAY-9"), PAGE)
    by_key, and_again = await desk.intake(salon, new_booking(txn="PAY-9", key="k-1"), PAGE)
    assert (created, again, and_again) == (True, False, False)
    assert by_payment == first == by_key
    assert [e.kind for e in store.events] == [EventKind.CREATED]
    with pytest.raises(IdempotencyConflict):
        await desk.intake(salon, new_booking(txn="OTHER", key="k-1"), PAGE)


async def test_a_payment_of_another_provider_with_the_same_transaction_id_is_a_new_booking(
    desk: Desk, salon: Business
) -> None:
    paypal, _ = await desk.intake(salon, new_booking(txn="T-1"), PAGE)
    inkress = new_booking(txn="T-1", provider=Provider.INKRESS)
    other, created = await desk.intake(salon, inkress, PAGE)
    assert created and other.id != paypal.id
    assert other.payment == Payment(Provider.INKRESS, "T-1", Decimal("45.00"), "USD")


# No-shows


async def test_a_no_show_is_refused_before_the_start_in_plain_words_and_changes_nothing(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.CONFIRMED)
    events = list(store.events)
    reply = await desk.handle(salon.id, f"noshow {booking.id}", OWNER)
    assert reply == Problem(
        f"#{booking.id} hasn't started yet; it can be marked a no-show (or, while pending, "
        "completed) once it has, from its start time."
    )
    assert (await desk.booking(salon, booking.id)).status is Status.CONFIRMED
    assert store.events == events
    card = await desk.card(salon, booking.id)
    assert ActionId.NO_SHOW not in [a.id for a in card.actions]


async def test_from_its_start_a_booking_can_be_marked_a_no_show_and_the_card_offers_it(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    booking = await booking_in(desk, salon, Status.PENDING)
    started(desk, booking)
    card = await desk.card(salon, booking.id)
    labels = [a.label for a in card.actions]
    assert labels == [
        "Confirm",
        "Mark as completed",
        "Cancel",
        "No-show",
        "Reschedule",
        "View details",
    ]
    reply = await desk.handle(salon.id, f"no-show {booking.id}", OWNER)
    assert isinstance(reply, MoveDone) and reply.outcome is MoveOutcome.APPLIED
    assert reply.booking.status is Status.NO_SHOW
    assert store.events[-1].kind is EventKind.NO_SHOW
    again = await desk.handle(salon.id, f"noshow {booking.id}", OWNER)
    assert isinstance(again, MoveDone) and again.outcome is MoveOutcome.ALREADY
    shown = await desk.card(salon, booking.id)
    assert shown.status_line.startswith("No-show by Sam via console")
    assert [a.id for a in shown.actions] == [ActionId.DETAILS]  # no refund owed by itself
    assert reply.booking.refund.state.value == "none"


async def test_a_no_show_shows_in_the_customer_s_history_line(
    desk: Desk, store: InMemoryBookingStore, salon: Business
) -> None:
    await booking_in(desk, salon, Status.COMPLETED, txn="A")
    await booking_in(desk, salon, Status.COMPLETED, txn="B")
    missed = await booking_in(desk, salon, Status.NO_SHOW, txn="C")
    card = await desk.card(salon, missed.id)
    assert {f.key: f.value for f in card.fields}["history"] == (
        "3 bookings: 2 visits, 0 cancellations, 1 no-show"
    )
