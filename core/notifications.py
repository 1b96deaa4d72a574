"""What to tell whom, and when: the mail each event causes and the reminders a booking gets."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.events import EventKind
from core.lifecycle import RESCHEDULABLE, Status
from core.model import Booking


class MailKind(StrEnum):
    """Also the value of each email's X-Juneplum-Kind header."""

    CREATED = "created"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"  # moved to another start, with the invitation updated
    REMINDER_24H = "reminder-24h"
    REMINDER_30M = "reminder-30m"
    OWNER_NEW_BOOKING = "owner-new-booking"
    DELIVERY_FAILED = "delivery-failed"
    CHAT_UNREACHABLE = "chat-unreachable"  # a linked conversation is gone: about no booking

    @property
    def to_owner(self) -> bool:
        return self in (
            MailKind.OWNER_NEW_BOOKING,
            MailKind.DELIVERY_FAILED,
            MailKind.CHAT_UNREACHABLE,
        )


EVENT_MAIL: dict[EventKind, tuple[MailKind, ...]] = {
    EventKind.CREATED: (MailKind.CREATED, MailKind.OWNER_NEW_BOOKING),
    EventKind.CONFIRMED: (MailKind.CONFIRMED,),
    EventKind.CANCELLED: (MailKind.CANCELLED,),
    EventKind.COMPLETED: (),
    EventKind.NO_SHOW: (),  # never an email to the customer for a no-show
    EventKind.REFUND_ISSUED: (),
    EventKind.RESCHEDULED: (MailKind.RESCHEDULED,),
    EventKind.MAIL_FAILED: (MailKind.DELIVERY_FAILED,),
}

# Real elapsed time before the start: across a DST change "24 hours" is still 24 hours.
REMINDER_LEADS: tuple[tuple[MailKind, timedelta], ...] = (
    (MailKind.REMINDER_24H, timedelta(hours=24)),
    (MailKind.REMINDER_30M, timedelta(minutes=30)),
)
REMINDED_STATUSES = frozenset({Status.PENDING, Status.CONFIRMED})


def mail_for(kind: EventKind) -> tuple[MailKind, ...]:
    """The emails an event causes, in the order they are queued."""
    return EVENT_MAIL[kind]


@dataclass(frozen=True)
class PlannedReminder:
    kind: MailKind
    due_at: datetime


def plan_reminders(start_at: datetime, booked_at: datetime) -> list[PlannedReminder]:
    """Reminders for a booking made at `booked_at`: only those still ahead of that moment.

    A booking made less than 24 hours ahead gets no 24-hour reminder; less than 30 minutes
    ahead, none at all.
    """
    return [
        PlannedReminder(kind, start_at - lead)
        for kind, lead in REMINDER_LEADS
        if start_at - lead > booked_at
    ]


def reminder_still_useful(
    kind: MailKind, start_at: datetime, status: Status, now: datetime
) -> bool:
    """Whether a due reminder should go out now, even late after downtime.

    Never after the start, never for a cancelled or completed booking, and never a 24-hour
    reminder once the 30-minute one is due (never both at once).
    """
    if status not in REMINDED_STATUSES or now >= start_at:
        return False
    leads = dict(REMINDER_LEADS)
    later = [k for k, lead in REMINDER_LEADS if lead < leads[kind]]
    return all(now < start_at - leads[k] for k in later)


def as_rescheduled(booking: Booking, data: dict[str, Any] | None) -> Booking | None:
    """The booking as its nth move left it (`data["reschedules"]`, the event's count), for a
    rescheduled email sent late: each email tells its own move (from, to, and the
    invitation's SEQUENCE then), however many came after. None when the booking is final
    now (cancelled, or over, while the email waited): a move is no longer news."""
    if booking.status not in RESCHEDULABLE:
        return None
    moves = booking.reschedules
    n = int((data or {}).get("reschedules", len(moves)))
    if not 1 <= n <= len(moves):
        return booking
    move = moves[n - 1]
    kept = booking.history[: booking.history.index(move) + 1]
    start_at = move.moved_to or booking.start_at
    return replace(booking, start_at=start_at, history=kept)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # no longer wanted, e.g. a queued reminder for a cancelled booking


@dataclass(frozen=True)
class QueuedMail:
    """One email in the durable outbox; its id makes its Message-ID."""

    id: int
    business_id: int
    booking_id: int | None  # None: about the business (a conversation became unreachable)
    kind: MailKind
    recipient: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    retry_until: datetime
    last_error: str | None = None
    sent_at: datetime | None = None
    failed_kind: MailKind | None = None
    data: dict[str, Any] | None = None


# How long a delivery (an email, a chat post) that keeps failing is retried before it fails.
RETRY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures retry with exponential backoff and jitter, for a while."""

    first: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(seconds=60)

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Wait before attempt `attempts + 1`: within 5 s, then doubling, at most 60 s."""
        ceiling = min(self.cap, self.first * (1 << min(16, max(0, attempts - 1))))
        factor: float = (rng or _RNG).uniform(0.5, 1.0)
        return ceiling * factor


_RNG = random.Random()  # noqa: S311 - jitter, not security
