"""The owner's day: what the desk sends by itself, and when.

Close-out prompts after an appointment, nudges for bookings still waiting for a
confirmation, the morning digest and the refunds-owed nudge are each one chat delivery per
linked conversation. A planner (storage.owners_day, run every minute) queues them with
deterministic dedupe keys, so two instances or a restart can't queue one twice; this module
says when each is due, whether it is still worth sending, and what it shows. Times are
computed in the business's zone (08:00 local on the days the clocks change too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import wording
from core.cards import ActionId, CardAction, Style, Tap
from core.lifecycle import Status
from core.model import Booking, Business, PaymentStatus, RefundState
from core.periods import one_day
from core.ports import BookingFilter, BookingStore

# Close-out: 15 minutes after a booking's end, if it is still open.
CLOSEOUT_AFTER = timedelta(minutes=15)
# Bookings that ended longer ago than this are left to the digest ("not closed out").
CLOSEOUT_LOOKBACK = timedelta(hours=24)
# A prompt lists at most this many bookings (a Slack message holds 50 blocks).
CLOSEOUT_GROUP = 10
OPEN = frozenset({Status.PENDING, Status.CONFIRMED})

# Nudges for a booking still pending.
NUDGE_AFTER_BOOKING = timedelta(hours=2)
NUDGE_BEFORE_START = timedelta(hours=24)
LAST_NUDGE_BEFORE_START = timedelta(hours=2)
# Age-based nudges look back this far (after a longer downtime the start-based one remains).
NUDGE_LOOKBACK = timedelta(hours=24)

# The morning digest, per conversation; skipped when it would be more than 2 hours late.
DIGEST_DEFAULT = time(8, 0)
DIGEST_STALE = timedelta(hours=2)
# A refund owed longer than this is named in the daily refunds nudge.
REFUND_OVERDUE = timedelta(days=3)
# The refunds owed a digest or nudge reads (the oldest first): more is a list to open.
REFUNDS_LISTED = 50


# When things are due


def closeout_due_at(booking: Booking) -> datetime:
    return booking.end_at + CLOSEOUT_AFTER


def first_nudge_at(created_at: datetime, start_at: datetime) -> datetime:
    """Two hours after the booking arrived, or 24 hours before its start if that comes first
    (and is after it arrived: a booking made for tomorrow waits its two hours)."""
    by_start = start_at - NUDGE_BEFORE_START
    by_age = created_at + NUDGE_AFTER_BOOKING
    return by_start if created_at < by_start < by_age else by_age


def nudge_due(booking: Booking, now: datetime) -> int | None:
    """Which nudge (1 or 2) a booking should get now, or None.

    Only for a paid booking (`nudged`), while it is pending and before its start; the second,
    2 hours before the start, only when that comes after the first; after downtime never
    both: the later one wins.
    """
    if not nudged(booking) or now >= booking.start_at:
        return None
    first = first_nudge_at(booking.created_at, booking.start_at)
    last = booking.start_at - LAST_NUDGE_BEFORE_START
    if last > first and now >= last:
        return 2
    if now >= first:
        return 1
    return None


def nudged(booking: Booking) -> bool:
    """Whether a booking is one nudges are for: "a paid booking still pending". Cash due at
    the appointment isn't paid (nothing was taken that a forgotten booking would strand: the
    digest still lists it as waiting), nor is a payment refunded."""
    return booking.status is Status.PENDING and booking.payment.status is PaymentStatus.PAID


def nudge_still_useful(booking: Booking, now: datetime) -> bool:
    """Checked just before sending: never for a booking no longer pending (or paid)."""
    return nudged(booking) and now < booking.start_at


@dataclass(frozen=True)
class DigestSetting:
    """A conversation's digest time (`None`: off)."""

    at: time | None = DIGEST_DEFAULT

    @property
    def stored(self) -> str:
        return "off" if self.at is None else f"{self.at:%H:%M}"

    @classmethod
    def read(cls, stored: str | None) -> DigestSetting:
        if not stored:
            return cls()
        if stored == "off":
            return cls(None)
        hours, minutes = stored.split(":")
        return cls(time(int(hours), int(minutes)))


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in the zone, in UTC. A time the clocks skip (02:30 when they spring
    forward) is read with the offset before the change: it falls an hour later."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def daily_due(at: time, zone: ZoneInfo, now: datetime) -> tuple[date, datetime] | None:
    """The local day whose daily notice at `at` is due now, and when it fell due; None when
    none is (not yet, or more than 2 hours late: a stale digest is skipped)."""
    today = now.astimezone(zone).date()
    for day in (today, today - timedelta(days=1)):
        due = local_moment(day, at, zone)
        if due <= now < due + DIGEST_STALE:
            return day, due
    return None


def refunds_overdue(bookings: list[Booking], now: datetime) -> list[Booking]:
    """Refunds owed for more than 3 days, oldest cancellation first: read only through
    `Booking.refund` and the cancellation in the booking's history."""
    overdue = [
        b
        for b in bookings
        if b.refund.state is RefundState.OWED
        and (cancelled := b.cancellation) is not None
        and now - cancelled.at > REFUND_OVERDUE
    ]
    return sorted(overdue, key=_cancelled_at)


def _cancelled_at(booking: Booking) -> datetime:
    cancelled = booking.cancellation
    return cancelled.at if cancelled is not None else booking.created_at


# What they show


@dataclass(frozen=True)
class PromptItem:
    """One booking of a close-out prompt, with its buttons while it is still open."""

    booking_id: int
    line: str  # "#42 · Ana Silva · Haircut · Thu 26 Nov 2026, 10:00–10:45 EST"
    status_line: str
    actions: tuple[CardAction, ...]


@dataclass(frozen=True)
class Prompt:
    """ "Did #42 happen?": one message for the bookings that ended close together."""

    question: str
    items: tuple[PromptItem, ...]

    @property
    def booking_ids(self) -> tuple[int, ...]:
        return tuple(i.booking_id for i in self.items)


def closeable(booking: Booking, now: datetime) -> bool:
    """Whether a close-out prompt may ask about a booking: still open, and ended (one moved
    after its prompt was sent is asked about again after its new end)."""
    return booking.status in OPEN and booking.end_at <= now


def prompt_for(bookings: list[Booking], business: Business, now: datetime) -> Prompt | None:
    """The close-out prompt as it is now: each booking with Completed and No-show while it
    is open and ended, and how it was closed once it is; None when there is nothing to ask
    about (`bookings` empty)."""
    if not bookings:
        return None
    zone = business.zone
    in_order = sorted(bookings, key=lambda b: (b.start_at, b.id))
    items = tuple(
        PromptItem(
            booking_id=b.id,
            line=f"{b.ref} · {wording.summary(b, zone)}",
            status_line=wording.status_line(b, zone),
            actions=_closeout_actions(b, now),
        )
        for b in in_order
    )
    return Prompt(wording.closeout_question([b.ref for b in in_order]), items)


def _closeout_actions(booking: Booking, now: datetime) -> tuple[CardAction, ...]:
    if not closeable(booking, now):
        return ()
    return (
        CardAction(
            ActionId.COMPLETE,
            wording.CLOSEOUT_COMPLETED,
            Style.PRIMARY,
            Tap(ActionId.COMPLETE, booking.id, booking.status),
        ),
        CardAction(
            ActionId.NO_SHOW,
            wording.ACTION_LABELS[ActionId.NO_SHOW.value],
            Style.PLAIN,
            Tap(ActionId.NO_SHOW, booking.id, booking.status),
        ),
    )


@dataclass(frozen=True)
class Digest:
    """A conversation's morning: the day's bookings in order, what still waits for a
    confirmation, refunds owed, and yesterday's appointments not closed out."""

    business: Business
    day: date
    today: tuple[Booking, ...]
    pending: tuple[Booking, ...]  # still waiting, today's aside
    refunds: tuple[Booking, ...]  # owed, oldest cancellation first
    not_closed: tuple[Booking, ...]  # yesterday's, still pending or confirmed
    now: datetime

    @property
    def empty(self) -> bool:
        """A day with nothing shows nothing."""
        return not (self.today or self.pending or self.refunds or self.not_closed)

    def text(self) -> str:
        return wording.digest(self)


DIGEST_LIMIT = 200  # bookings read per part of a digest (it shows the first 20 of each)


async def digest_for(store: BookingStore, business: Business, day: date, now: datetime) -> Digest:
    """The digest of a local day, read now."""
    start, end = one_day(day).utc_bounds(business.zone)
    yesterday_start, _ = one_day(day - timedelta(days=1)).utc_bounds(business.zone)

    async def found(query: BookingFilter) -> list[Booking]:
        return (await store.find_bookings(business.id, query)).bookings

    listed = await found(BookingFilter(start_from=start, start_before=end, per_page=DIGEST_LIMIT))
    waiting = await found(
        BookingFilter(start_from=now, status=Status.PENDING, per_page=DIGEST_LIMIT)
    )
    yesterday = [
        b
        for status in (Status.PENDING, Status.CONFIRMED)
        for b in await found(
            BookingFilter(
                start_from=yesterday_start, start_before=start, status=status, per_page=100
            )
        )
    ]
    owed = (await store.refunds_owed(business.id, 1, REFUNDS_LISTED)).bookings
    return Digest(
        business=business,
        day=day,
        today=tuple(b for b in listed if b.status is not Status.CANCELLED),
        pending=tuple(b for b in waiting if not start <= b.start_at < end),
        refunds=tuple(sorted(owed, key=_cancelled_at)),
        not_closed=tuple(sorted(yesterday, key=lambda b: (b.start_at, b.id))),
        now=now,
    )
