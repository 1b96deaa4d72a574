"""Statuses and the only legal moves between them, as a table."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.model import HistoryEntry


class Status(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self]


class Move(StrEnum):
    CONFIRM = "confirm"
    COMPLETE = "complete"
    CANCEL = "cancel"

    @property
    def target(self) -> Status:
        return TARGETS[self]

    @property
    def past(self) -> str:
        """The move as a past participle, for messages: 'confirmed'."""
        return TARGETS[self].value


TARGETS: dict[Move, Status] = {
    Move.CONFIRM: Status.CONFIRMED,
    Move.COMPLETE: Status.COMPLETED,
    Move.CANCEL: Status.CANCELLED,
}

TRANSITIONS: dict[Status, frozenset[Move]] = {
    Status.PENDING: frozenset({Move.CONFIRM, Move.CANCEL}),
    Status.CONFIRMED: frozenset({Move.COMPLETE, Move.CANCEL}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}


def allowed_moves(status: Status) -> list[Move]:
    """The moves that fit a status, in the order buttons show them."""
    return [m for m in Move if m in TRANSITIONS[status]]


class MoveOutcome(StrEnum):
    APPLIED = "applied"
    ALREADY = "already"  # the booking already made this move: a harmless no-op


def check_move(status: Status, move: Move) -> MoveOutcome:
    """Decide whether a move applies, repeats, or is illegal.

    Raises:
        IllegalMove: the move is not allowed from this status.
    """
    if status is move.target:
        return MoveOutcome.ALREADY
    if move not in TRANSITIONS[status]:
        raise IllegalMove(booking_id=None, status=status, move=move)
    return MoveOutcome.APPLIED


class DomainError(Exception):
    """Base of errors the edges turn into plain words."""


class IllegalMove(DomainError):
    """A move that the booking's status does not allow; carries the data, not the wording."""

    def __init__(
        self,
        *,
        booking_id: int | None,
        status: Status,
        move: Move,
        changed_by: HistoryEntry | None = None,
    ) -> None:
        super().__init__(f"booking {booking_id}: {status} -> {move} is not allowed")
        self.booking_id = booking_id
        self.status = status
        self.move = move
        self.changed_by = changed_by  # set when another change won a race a moment ago


class BookingNotFound(DomainError):
    def __init__(self, booking_id: int) -> None:
        super().__init__(f"booking {booking_id} not found")
        self.booking_id = booking_id


class BusinessNotFound(DomainError):
    def __init__(self, business_id: int) -> None:
        super().__init__(f"business {business_id} not found")
        self.business_id = business_id


# The statuses from which a booking may move to another start (core.desk.Desk.reschedule).
RESCHEDULABLE = frozenset({Status.PENDING, Status.CONFIRMED})
