"""The booking desk: one entry point every surface calls, whatever it looks like."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from core import commands, owners_day, periods, wording
from core.cards import Card, actions_for, card_for
from core.clock import Clock
from core.commands import (
    Act,
    Command,
    CommandError,
    Details,
    Help,
    ListAll,
    ListDays,
    ListRefunds,
    ListStatus,
    MarkRefunded,
    Reschedule,
    Search,
    SetDigest,
    ShowCalendar,
    ShowDigest,
    ShowRevenue,
)
from core.errors import (
    BookingNotFound,
    BusinessNotFound,
    DomainError,
    NoSuchLocalTime,
    NotEndedYet,
    NotMovable,
    NotRefundable,
    NotStartedYet,
    StartInPast,
    StartTooFar,
    TooLateToCancel,
)
from core.folding import fold
from core.lifecycle import (
    NOT_BEFORE_START,
    RESCHEDULABLE,
    IllegalMove,
    Move,
    MoveOutcome,
    Status,
    check_move,
)
from core.model import (
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    NewBooking,
    Page,
    RefundState,
)
from core.ports import BookingFilter, BookingStore
from core.replies import (
    BookingCard,
    BookingList,
    CalendarMonth,
    HelpText,
    MoveDone,
    Problem,
    RefundMarked,
    Reply,
    ReportSection,
    Rescheduled,
    RevenueReport,
    Said,
)
from core.revenue import Tally

PER_PAGE = 20
MAX_AHEAD = timedelta(days=2 * 366)


class Desk:
    """Runs views and actions for one installation; holds no state between calls."""

    def __init__(self, store: BookingStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def business(self, business_id: int) -> Business:
        business = await self._store.get_business(business_id)
        if business is None:
            raise BusinessNotFound(business_id)
        return business

    def parse(self, business: Business, text: str) -> Command:
        """Read a typed line as of the business's local today.

        Raises:
            CommandError: not a command; the message says why, with examples.
        """
        return commands.parse(text, periods.local_today(self._clock.now(), business.zone))

    async def handle(self, business_id: int, text: str, actor: Actor) -> Reply:
        """Parse a typed line and run it; bad input becomes a Problem, never an exception."""
        business = await self.business(business_id)
        try:
            command = self.parse(business, text)
        except CommandError as err:
            return Problem(str(err))
        return await self.run(business, command, actor)

    async def run(self, business: Business, command: Command, actor: Actor) -> Reply:
        """Run one parsed command for a business."""
        try:
            return await self._run(business, command, actor)
        except DomainError as err:
            return Problem(wording.domain_error(err))

    async def _run(self, business: Business, command: Command, actor: Actor) -> Reply:
        match command:
            case Help():
                return HelpText(wording.HELP)
            case ListDays(span=span, page=page):
                start, end = span.utc_bounds(business.zone)
                query = BookingFilter(start_from=start, start_before=end, page=page)
                return await self._list(
                    business, query, span.label, span.days > 1, f"No bookings {_on(span)}.",
                    span.label.lower(),
                )  # fmt: skip
            case ListAll(page=page):
                query = BookingFilter(newest_first=True, page=page)
                return await self._list(
                    business, query, "All bookings", True, "No bookings yet.", "all"
                )
            case ListStatus(status=status, page=page):
                query = BookingFilter(status=status, page=page)
                title = f"{status.label.capitalize()} bookings"
                return await self._list(
                    business, query, title, True, f"No {status.label} bookings.", status.value
                )
            case Search(term=term, page=page, bare=bare):
                query = BookingFilter(
                    term=fold(term), newest_first=True, page=page, per_page=PER_PAGE
                )
                found = await self._store.find_bookings(business.id, query)
                if found.total == 0:
                    hint = commands.suggestion(term) if bare else None
                    return Problem(wording.nothing_found(term, hint))
                return self._page(business, f"Search “{term}”", found, True, "", f"search {term}")
            case Details(booking_id=booking_id):
                return await self.details(business, booking_id)
            case ShowCalendar(year=year, month=month):
                return await self.calendar(business, year, month)
            case Act(move=move, booking_id=booking_id, reason=reason):
                return await self.act(business, booking_id, move, actor, reason)
            case MarkRefunded(booking_id=booking_id):
                return await self.refund_issued(business, booking_id, actor)
            case ListRefunds(page=page):
                found = await self._store.refunds_owed(business.id, page, PER_PAGE)
                return self._page(
                    business, wording.REFUNDS_TITLE, found, True, wording.NO_REFUNDS_OWED, "refunds"
                )
            case ShowRevenue(span=span):
                return await self.revenue(business, span)
            case ShowDigest():
                now = self._clock.now()
                digest = await self.digest(business, periods.local_today(now, business.zone))
                return Said(wording.NOTHING_TODAY if digest.empty else digest.text())
            case SetDigest():
                return Problem(wording.DIGEST_ONLY_IN_CHAT)
            case Reschedule(booking_id=booking_id, day=day, at=at):
                start_at = periods.local_start(day, at, business.zone)
                if start_at is None:
                    raise NoSuchLocalTime(day, at, business.timezone)
                return await self.reschedule(business, booking_id, start_at, actor)
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    async def _list(
        self,
        business: Business,
        query: BookingFilter,
        title: str,
        multi_day: bool,
        empty: str,
        command: str,
    ) -> BookingList | Problem:
        found = await self._store.find_bookings(business.id, replace(query, per_page=PER_PAGE))
        return self._page(business, title, found, multi_day, empty, command)

    @staticmethod
    def _page(
        business: Business, title: str, found: Page, multi_day: bool, empty: str, command: str
    ) -> BookingList | Problem:
        """One page of a list; `command` is what was typed, without its `page N`."""
        if not found.bookings and found.total and found.page > 1:
            return Problem(wording.past_the_end(found, command))
        more = f"{command} page {found.page + 1}" if found.has_more else None
        return BookingList(business, title, found, multi_day, empty, more, command)

    async def booking(self, business: Business, booking_id: int) -> Booking:
        booking = await self._store.get_booking(business.id, booking_id)
        if booking is None:
            raise BookingNotFound(booking_id)
        return booking

    async def details(self, business: Business, booking_id: int) -> BookingCard:
        booking, card = await self.drawn(business, booking_id)
        return BookingCard(business, booking, card)

    async def drawn(self, business: Business, booking_id: int) -> tuple[Booking, Card]:
        """A booking as it is now, and its card, from one read.

        Raises:
            BookingNotFound: no such booking in this business.
        """
        found = await self._store.in_context(business.id, booking_id)
        if found is None:
            raise BookingNotFound(booking_id)
        booking, now = found.booking, self._clock.now()
        return booking, card_for(business, booking, found.overlaps, found.record, now)

    async def card(self, business: Business, booking: Booking | int) -> Card:
        """The booking's card as it is now, read again: with its overlaps and the customer's
        record.

        Raises:
            BookingNotFound: no such booking in this business.
        """
        _, card = await self.drawn(business, booking if isinstance(booking, int) else booking.id)
        return card

    async def calendar(self, business: Business, year: int, month: int) -> CalendarMonth:
        span = periods.month_span(year, month)
        start, end = span.utc_bounds(business.zone)
        counts: dict[date, int] = {}
        for at in await self._store.starts_between(business.id, start, end):
            day = at.astimezone(business.zone).date()
            counts[day] = counts.get(day, 0) + 1
        today = periods.local_today(self._clock.now(), business.zone)
        return CalendarMonth(business, year, month, counts, today)

    async def revenue(self, business: Business, span: periods.DaySpan) -> RevenueReport:
        """What the business made from the appointments in `span` (its local days)."""
        start, end = span.utc_bounds(business.zone)
        tally = Tally(span, business.gct_rate, business.currency)
        async for booking in self._store.bookings_between(business.id, start, end):
            tally.add(booking)
        found = tally.result()
        return RevenueReport(
            business,
            found,
            wording.revenue_title(span),
            tuple(
                ReportSection(heading, tuple(lines))
                for heading, lines in wording.revenue_sections(found)
            ),
            wording.revenue_note(span, business.zone, found.empty),
        )

    async def act(
        self,
        business: Business,
        booking_id: int,
        move: Move,
        actor: Actor,
        reason: str | None = None,
        expected: Status | None = None,
        *,
        closing_out: bool = False,
    ) -> MoveDone:
        """Apply a move; a repeat is a harmless no-op, a lost race is reported, not retried.

        `expected` is the status a card showed when its button was pressed: the move applies
        only if the booking still has it (a Cancel pressed on a pending card never cancels a
        booking confirmed since). Typed commands pass None.

        Raises:
            BookingNotFound: no such booking in this business.
            IllegalMove: the booking's status does not allow the move (perhaps a moment ago),
                or it changed since the card was drawn (`changed_by` says who changed it).
            NotStartedYet: a no-show (or completing a pending booking) before the start.
            NotEndedYet: `closing_out` (a close-out prompt's button) for an appointment that
                hasn't ended: it was moved after the prompt was sent.
        """
        booking = await self.booking(business, booking_id)
        if expected is not None and booking.status not in (expected, move.target):
            raise IllegalMove(
                booking_id=booking.id,
                status=booking.status,
                move=move,
                changed_by=booking.last_move,
            )
        outcome = _check(booking, move)
        too_early = (booking.status, move) in NOT_BEFORE_START and (
            self._clock.now() < booking.start_at
        )
        if outcome is MoveOutcome.APPLIED and too_early:  # never before the start
            raise NotStartedYet(booking.id, booking.start_at)
        if outcome is MoveOutcome.APPLIED and closing_out and self._clock.now() < booking.end_at:
            raise NotEndedYet(booking.id, booking.end_at)
        if outcome is MoveOutcome.APPLIED:
            moved = await self._store.move_booking(booking, move, actor, reason, self._clock.now())
            if moved is None:
                # Another change landed between our read and our write: tell, don't retry.
                booking = await self.booking(business, booking_id)
                if _check(booking, move, lost=True) is MoveOutcome.APPLIED:
                    raise IllegalMove(
                        booking_id=booking.id,
                        status=booking.status,
                        move=move,
                        changed_by=booking.last_move,
                    )
                outcome = MoveOutcome.ALREADY
            else:
                booking = moved
        return MoveDone(business, booking, move, outcome, actions_for(booking, self._clock.now()))

    async def refund_issued(
        self, business: Business, booking_id: int, actor: Actor
    ) -> RefundMarked:
        """Record that the owner refunded a cancelled booking (the status stays cancelled);
        a second mark changes nothing.

        Raises:
            BookingNotFound: no such booking in this business.
            NotRefundable: the booking isn't cancelled, or nothing was paid.
        """
        booking = await self.booking(business, booking_id)
        if booking.refund.state is RefundState.ISSUED:
            return RefundMarked(business, booking, MoveOutcome.ALREADY, actions_for(booking))
        if not booking.refund_owed:
            raise NotRefundable(booking.id, booking.status)
        marked = await self._store.note_refund_issued(booking, actor, self._clock.now())
        if marked is None:  # a second tap (or the provider's report) got there first
            booking = await self.booking(business, booking_id)
            if booking.refund.state is not RefundState.ISSUED:
                raise NotRefundable(booking.id, booking.status)
            return RefundMarked(business, booking, MoveOutcome.ALREADY, actions_for(booking))
        return RefundMarked(business, marked, MoveOutcome.APPLIED, actions_for(marked))

    async def digest(self, business: Business, day: date) -> owners_day.Digest:
        """A local day's digest, as of now."""
        return await owners_day.digest_for(self._store, business, day, self._clock.now())

    async def refunds_overdue(self, business: Business) -> list[Booking]:
        """Refunds owed for more than 3 days, oldest first."""
        owed = await self._store.refunds_owed(business.id, 1, owners_day.REFUNDS_LISTED)
        return owners_day.refunds_overdue(owed.bookings, self._clock.now())

    async def reschedule(
        self,
        business: Business,
        booking_id: int,
        start_at: datetime,
        actor: Actor,
        expected: Status | None = None,
    ) -> Rescheduled:
        """Move a pending or confirmed booking to another start, keeping its duration; its
        reminders are planned again and the customer emailed, in the same transaction.

        `expected` is the status the card showed (the chat layer's rule, as in `act`): the
        move applies only if the booking still has it. Moving to the start it has already
        is a harmless no-op.

        Raises:
            BookingNotFound: no such booking in this business.
            NotMovable: the booking is final, or changed since the card was drawn.
            StartInPast / StartTooFar: the new start is not ahead, or too far ahead.
        """
        booking = await self.booking(business, booking_id)
        if expected is not None and booking.status is not expected:
            raise NotMovable(booking.id, booking.status, booking.last_move)
        if booking.status not in RESCHEDULABLE:
            raise NotMovable(booking.id, booking.status)
        now = self.check_start(start_at)
        if start_at == booking.start_at:
            card = await self.card(business, booking)
            return Rescheduled(business, booking, start_at, MoveOutcome.ALREADY, card)
        moved = await self._store.reschedule_booking(booking, start_at, actor, now)
        if moved is None:  # another change landed between our read and our write
            again = await self.booking(business, booking_id)
            latest = again.history[-1] if again.history else None
            raise NotMovable(again.id, again.status, latest)
        card = await self.card(business, moved)
        return Rescheduled(business, moved, booking.start_at, MoveOutcome.APPLIED, card)

    def check_start(self, start_at: datetime) -> datetime:
        """Refuse a new start that isn't ahead, or is beyond MAX_AHEAD; the time now if not.

        Raises:
            StartInPast / StartTooFar: as it says.
        """
        now = self._clock.now()
        if start_at <= now:
            raise StartInPast(start_at)
        if start_at > now + MAX_AHEAD:
            raise StartTooFar(start_at)
        return now

    async def customer_cancel(
        self, business: Business, booking_id: int, reason: str | None, channel: Channel
    ) -> MoveDone:
        """A customer cancels from the booking page; allowed up to the start time."""
        booking = await self.booking(business, booking_id)
        actor = Actor(ActorKind.CUSTOMER, channel, booking.customer.name)
        if not booking.status.is_final and booking.start_at <= self._clock.now():
            raise TooLateToCancel(booking_id)
        try:
            return await self.act(business, booking_id, Move.CANCEL, actor, reason)
        except IllegalMove as lost:
            if lost.changed_by is None or lost.status.is_final:
                raise
            # The owner confirmed a moment ago: the customer's cancel still stands.
            return await self.act(business, booking_id, Move.CANCEL, actor, reason)

    async def intake(
        self, business: Business, new: NewBooking, actor: Actor, *, past_ok: bool = False
    ) -> tuple[Booking, bool]:
        """Take a paid booking from a booking page; (booking, created).

        A repeat of an earlier request returns its booking, even once the start has passed.
        Overlaps are never refused: availability is the booking page's job, and the details
        show the overlap so the owner can act. `past_ok`: a provider's paid order is booked
        even once its start has passed (the customer paid; the caller flags it for review).
        """
        now = self._clock.now()
        late = past_ok and new.start_at <= now
        if not late and not now < new.start_at <= now + MAX_AHEAD:
            repeat = await self._store.find_repeat(business.id, new)
            if repeat is not None:  # a late retry of a request that already succeeded
                return repeat, False
            raise StartInPast(new.start_at) if new.start_at <= now else StartTooFar(new.start_at)
        return await self._store.create_booking(business.id, new, actor, now)


def _check(booking: Booking, move: Move, *, lost: bool = False) -> MoveOutcome:
    try:
        return check_move(booking.status, move)
    except IllegalMove:
        last = booking.last_move if lost else None
        raise IllegalMove(
            booking_id=booking.id, status=booking.status, move=move, changed_by=last
        ) from None


def _on(span: periods.DaySpan) -> str:
    if span.days == 1:
        return "today" if span.label == "Today" else f"on {span.first.isoformat()}"
    return f"in {span.label.lower()}"
