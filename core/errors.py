"""Errors the desk raises for the edges to word."""

from __future__ import annotations

from datetime import datetime

from core.lifecycle import BookingNotFound, BusinessNotFound, DomainError, IllegalMove, Status

__all__ = [
    "BookingNotFound",
    "BusinessNotFound",
    "DomainError",
    "IdempotencyConflict",
    "IllegalMove",
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
