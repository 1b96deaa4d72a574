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
    NO_SHOW = "no_show"  # the customer didn't come: neither revenue nor a cancellation

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self]

    @property
    def label(self) -> str:
        """The status as people read it: 'no-show', 'confirmed'."""
        return self.value.replace("_", "-")


class Move(StrEnum):
    CONFIRM = "confirm"
    COMPLETE = "complete"
    CANCEL = "cancel"
    NO_SHOW = "no_show"  # only once the appointment has started (core.desk checks the time)

    @property
    def target(self) -> Status:
        return TARGETS[self]

    @property
    def past(self) -> str:
        """The move as a past participle, for messages: 'confirmed', 'marked a no-show'."""
        return "marked a no-show" if self is Move.NO_SHOW else TARGETS[self].value


TARGETS: dict[Move, Status] = {
    Move.CONFIRM: Status.CONFIRMED,
    Move.COMPLETE: Status.COMPLETED,
    Move.CANCEL: Status.CANCELLED,
    Move.NO_SHOW: Status.NO_SHOW,
}

TRANSITIONS: dict[Status, frozenset[Move]] = {
    Status.PENDING: frozenset({Move.CONFIRM, Move.COMPLETE, Move.CANCEL, Move.NO_SHOW}),
    Status.CONFIRMED: frozenset({Move.COMPLETE, Move.CANCEL, Move.NO_SHOW}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.NO_SHOW: frozenset(),
}


# Moves that only make sense once the appointment has started: whether the customer came (a
# pending booking the owner never confirmed can still be closed out as completed).
NOT_BEFORE_START: frozenset[tuple[Status, Move]] = frozenset(
    {
        (Status.PENDING, Move.COMPLETE),
        (Status.PENDING, Move.NO_SHOW),
        (Status.CONFIRMED, Move.NO_SHOW),
    }
)


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
