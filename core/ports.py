"""What the desk needs from the outside, as small Protocols named by intent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.events import Event
from core.lifecycle import Move, Status
from core.model import Actor, Booking, Business, CustomerRecord, NewBooking, Page


@dataclass(frozen=True)
class BookingFilter:
    """Which bookings a list shows; times are UTC, the term is already folded."""

    start_from: datetime | None = None
    start_before: datetime | None = None
    status: Status | None = None
    term: str | None = None
    newest_first: bool = False
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class BookingInContext:
    """A booking and what its card shows beside it."""

    booking: Booking
    overlaps: list[Booking]
    record: CustomerRecord


class BookingStore(Protocol):
    """Bookings of many businesses; every method is scoped to one business."""

    async def get_business(self, business_id: int) -> Business | None: ...

    async def get_booking(self, business_id: int, booking_id: int) -> Booking | None: ...

    async def find_bookings(self, business_id: int, query: BookingFilter) -> Page: ...

    async def starts_between(
        self, business_id: int, start: datetime, end: datetime
    ) -> list[datetime]: ...

    async def overlapping(self, booking: Booking) -> list[Booking]: ...

    def bookings_between(
        self, business_id: int, start: datetime, end: datetime
    ) -> AsyncIterator[Booking]:
        """Every booking starting in [start, end), in start order, with what its refund
        record needs; read a chunk at a time, so a busy year is never held at once."""
        ...

    async def in_context(self, business_id: int, booking_id: int) -> BookingInContext | None:
        """A booking (as it is now) with its overlaps and its customer's record, read
        together."""
        ...

    async def find_repeat(self, business_id: int, new: NewBooking) -> Booking | None:
        """The booking an earlier copy of this request made (same key or same payment).

        Raises:
            IdempotencyConflict: the key was used with a different request.
        """
        ...

    async def create_booking(
        self, business_id: int, new: NewBooking, actor: Actor, at: datetime
    ) -> tuple[Booking, bool]:
        """Store a new booking with its history and event; (existing, False) on a repeat."""
        ...

    async def move_booking(
        self, booking: Booking, move: Move, actor: Actor, reason: str | None, at: datetime
    ) -> Booking | None:
        """Apply a move only if the booking still has the status it was read with.

        Writes the status, the history entry and the event in one transaction and returns
        the booking as it now is; None when another change got there first and nothing was
        written.
        """
        ...

    async def reschedule_booking(
        self, booking: Booking, start_at: datetime, actor: Actor, at: datetime
    ) -> Booking | None:
        """Move a booking to `start_at` (its duration kept) only if it still has the status
        and the start it was read with: the times, a history note, the event (and its email
        and chat redraws) and the reminders planned again, in one transaction. Returns the
        booking as it now is; None when another change got there first."""
        ...

    async def customer_record(self, booking: Booking) -> CustomerRecord:
        """How many bookings the booking's customer (same email) has with its business, and
        how many of them were completed or cancelled; this one included."""
        ...

    async def note_refund_issued(
        self, booking: Booking, actor: Actor, at: datetime
    ) -> Booking | None:
        """Mark a cancelled, paid booking refunded: a history note and an event, the status
        kept. None when it was no longer cancelled-and-paid (another tap got there first)."""
        ...

    async def refunds_owed(self, business_id: int, page: int, per_page: int) -> Page:
        """The bookings whose refund is still owed, the longest owed (cancelled earliest)
        first, each with its history (when it was cancelled)."""
        ...


class EventFeed(Protocol):
    """The stream of events, read in order by id."""

    async def events_after(
        self, after_id: int, *, business_id: int | None = None, limit: int = 100
    ) -> list[Event]: ...

    async def last_event_id(self) -> int: ...
