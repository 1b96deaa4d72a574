"""Errors the desk raises for the edges to word."""

from __future__ import annotations

from datetime import date, datetime, time

from core.lifecycle import BookingNotFound, BusinessNotFound, DomainError, IllegalMove, Status
from core.model import HistoryEntry

__all__ = [
    "BookingNotFound",
    "BusinessNotFound",
    "DomainError",
    "IdempotencyConflict",
    "IllegalMove",
    "NoSuchLocalTime",
    "NotEndedYet",
    "NotMovable",
    "NotRefundable",
    "NotStartedYet",
    "StartInPast",
    "StartTooFar",
    "TooLateToCancel",
]


class StartInPast(DomainError):
    def __init__(self, start_at: datetime) -> None:
        super().__init__(f"start {start_at.isoformat()} is in the past")
        self.start_at = start_at


class StartTooFar(DomainError):
    """A start more than MAX_AHEAD away: almost surely a typo in the booking page."""

    def __init__(self, start_at: datetime) -> None:
        super().__init__(f"start {start_at.isoformat()} is too far ahead")
        self.start_at = start_at


class TooLateToCancel(DomainError):
    """Customers may cancel up to the start time, not after."""

    def __init__(self, booking_id: int) -> None:
        super().__init__(f"booking {booking_id} has already started")
        self.booking_id = booking_id


class IdempotencyConflict(DomainError):
    """The same Idempotency-Key came with a different request body."""

    def __init__(self, key: str) -> None:
        super().__init__("this Idempotency-Key was used with a different request")
        self.key = key


class NotRefundable(DomainError):
    """Only a cancelled booking whose payment was taken can be marked refunded."""

    def __init__(self, booking_id: int, status: Status) -> None:
        super().__init__(f"booking {booking_id} ({status}) has nothing to refund")
        self.booking_id = booking_id
        self.status = status


class NotStartedYet(DomainError):
    """A no-show is only known once the appointment has started."""

    def __init__(self, booking_id: int, start_at: datetime) -> None:
        super().__init__(f"booking {booking_id} has not started yet")
        self.booking_id = booking_id
        self.start_at = start_at


class NotEndedYet(DomainError):
    """A close-out prompt's answer for an appointment that hasn't ended: it was moved after
    the prompt was sent (a typed `complete 42` is still taken early)."""

    def __init__(self, booking_id: int, end_at: datetime) -> None:
        super().__init__(f"booking {booking_id} has not ended yet")
        self.booking_id = booking_id
        self.end_at = end_at


class NotMovable(DomainError):
    """Only a pending or confirmed booking moves to another start; `changed_by` is set when
    the booking changed since its card was drawn (or a moment ago, in a race)."""

    def __init__(
        self, booking_id: int, status: Status, changed_by: HistoryEntry | None = None
    ) -> None:
        super().__init__(f"booking {booking_id} ({status}) can't be moved")
        self.booking_id = booking_id
        self.status = status
        self.changed_by = changed_by


class NoSuchLocalTime(DomainError):
    """A local time the clocks skip (the hour they spring forward) in the business's zone."""

    def __init__(self, day: date, at: time, zone: str) -> None:
        super().__init__(f"{day} {at} does not exist in {zone}")
        self.day = day
        self.at = at
        self.zone = zone
