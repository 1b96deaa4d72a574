"""What happened to a booking, recorded in the same transaction as the change.

The events table is the one stream every reader follows: mail, chat alerts, the console.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.lifecycle import Move
from core.model import Actor, Booking


class EventKind(StrEnum):
    CREATED = "booking.created"
    CONFIRMED = "booking.confirmed"
    COMPLETED = "booking.completed"
    CANCELLED = "booking.cancelled"
    NO_SHOW = "booking.no_show"
    REFUND_ISSUED = "booking.refund_issued"  # a note: the owner refunded; the status stays
    RESCHEDULED = "booking.rescheduled"  # a note: moved to another start; the status stays
    MAIL_FAILED = "mail.failed"  # an email to the customer failed for good: tell the owner


MOVE_EVENTS: dict[Move, EventKind] = {
    Move.CONFIRM: EventKind.CONFIRMED,
    Move.COMPLETE: EventKind.COMPLETED,
    Move.CANCEL: EventKind.CANCELLED,
    Move.NO_SHOW: EventKind.NO_SHOW,
}


@dataclass(frozen=True)
class Event:
    kind: EventKind
    business_id: int
    booking_id: int
    occurred_at: datetime
    actor: Actor
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None  # assigned by storage; readers resume after the last id they saw


def booking_created(booking: Booking, actor: Actor) -> Event:
    return Event(
        kind=EventKind.CREATED,
        business_id=booking.business_id,
        booking_id=booking.id,
        occurred_at=booking.created_at,
        actor=actor,
        data={"start_at": booking.start_at.isoformat()},
    )


def refund_issued(booking: Booking, actor: Actor, at: datetime) -> Event:
    """`booking` as it is after the refund: its record says how much went back."""
    amount = booking.refund.amount
    return Event(
        kind=EventKind.REFUND_ISSUED,
        business_id=booking.business_id,
        booking_id=booking.id,
        occurred_at=at,
        actor=actor,
        data={"amount": str(amount), "currency": booking.payment.currency} if amount else {},
    )


def booking_rescheduled(booking: Booking, moved: Booking, actor: Actor, at: datetime) -> Event:
    """`booking` moved to `moved`'s start; `sequence` (its calendar SEQUENCE after the move)
    tells one reschedule's email from another's."""
    return Event(
        kind=EventKind.RESCHEDULED,
        business_id=booking.business_id,
        booking_id=booking.id,
        occurred_at=at,
        actor=actor,
        data={
            "from": booking.start_at.isoformat(),
            "to": moved.start_at.isoformat(),
            "reschedules": len(moved.reschedules),
        },
    )


def booking_moved(
    booking: Booking, move: Move, actor: Actor, at: datetime, reason: str | None
) -> Event:
    data: dict[str, Any] = {"from": booking.status.value, "to": move.target.value}
    if reason:
        data["reason"] = reason
    return Event(
        kind=MOVE_EVENTS[move],
        business_id=booking.business_id,
        booking_id=booking.id,
        occurred_at=at,
        actor=actor,
        data=data,
    )
