"""In-memory fakes of the core's ports, for fast unit tests of the desk and the chat layer.

They keep the promises the SQL implementations keep (storage/bookings.py,
storage/conversations.py): a move applies only from the status it was read with, a refund
note only to a cancelled, paid booking, a link code links once, within 24 hours. Whatever
those promise that a test could see, these do too; integration tests run the real thing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core import events as domain_events
from core import payments
from core.chat import (
    LINK_CODE_TTL,
    Conversation,
    ConversationKey,
    LinkOutcome,
    LinkResult,
    Platform,
)
from core.errors import IdempotencyConflict
from core.events import Event
from core.folding import search_text
from core.lifecycle import Move, Status
from core.model import (
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    CustomerRecord,
    HistoryEntry,
    NewBooking,
    Note,
    Page,
    RefundState,
)
from core.ports import BookingFilter, BookingInContext

if TYPE_CHECKING:
    from core.chat import Conversations
    from core.ports import BookingStore

PLATFORM = Actor(ActorKind.SYSTEM, Channel.SYSTEM, "platform")  # as storage.conversations
# As storage.bookings: lists count matches up to this many past the page; more is "N+".
COUNT_HORIZON = 200
# As storage.bookings: overlaps are looked for a day back, nothing lasts longer.
_A_DAY = timedelta(days=1)


class InMemoryBookingStore:
    """The BookingStore port over dicts; `events` is the events table, in id order."""

    def __init__(self, *, first_booking_id: int = 1) -> None:
        self.businesses: dict[int, Business] = {}
        self.bookings: dict[int, Booking] = {}
        self.events: list[Event] = []
        self._keys: dict[tuple[int, str], tuple[str, int]] = {}  # -> (fingerprint, booking)
        self._next_booking_id = first_booking_id

    def add_business(
        self,
        name: str,
        timezone: str = "America/New_York",
        *,
        owner_email: str = "owner@example.com",
        currency: str = "USD",
    ) -> Business:
        business = Business(len(self.businesses) + 1, name, timezone, owner_email, currency)
        self.businesses[business.id] = business
        return business

    async def get_business(self, business_id: int) -> Business | None:
        return self.businesses.get(business_id)

    async def get_booking(self, business_id: int, booking_id: int) -> Booking | None:
        found = self.bookings.get(booking_id)
        return found if found is not None and found.business_id == business_id else None

    def _of(self, business_id: int) -> list[Booking]:
        return [b for b in self.bookings.values() if b.business_id == business_id]

    async def find_bookings(self, business_id: int, query: BookingFilter) -> Page:
        term = query.term or None
        matches = [
            b
            for b in self._of(business_id)
            if (query.start_from is None or b.start_at >= query.start_from)
            and (query.start_before is None or b.start_at < query.start_before)
            and (query.status is None or b.status is query.status)
            and (term is None or term in search_text(b.customer.name, b.service.name))
        ]
        matches.sort(key=lambda b: (b.start_at, b.id), reverse=query.newest_first)
        offset = (query.page - 1) * query.per_page
        horizon = offset + query.per_page + COUNT_HORIZON
        total = min(len(matches), horizon)
        return Page(
            bookings=matches[offset : offset + query.per_page],
            total=total,
            page=query.page,
            per_page=query.per_page,
            total_exact=total < horizon,
        )

    async def starts_between(
        self, business_id: int, start: datetime, end: datetime
    ) -> list[datetime]:
        return sorted(
            b.start_at
            for b in self._of(business_id)
            if start <= b.start_at < end and b.status is not Status.CANCELLED
        )

    async def bookings_between(
        self, business_id: int, start: datetime, end: datetime
    ) -> AsyncIterator[Booking]:
        for b in sorted(self._of(business_id), key=lambda b: (b.start_at, b.id)):
            if start <= b.start_at < end:
                yield b

    async def overlapping(self, booking: Booking) -> list[Booking]:
        found = [
            b
            for b in self._of(booking.business_id)
            if b.id != booking.id
            and b.status in (Status.PENDING, Status.CONFIRMED)
            and b.start_at < booking.end_at
            and b.end_at > booking.start_at
            and b.start_at > booking.start_at - _A_DAY
        ]
        return sorted(found, key=lambda b: (b.start_at, b.id))

    async def in_context(self, business_id: int, booking_id: int) -> BookingInContext | None:
        booking = await self.get_booking(business_id, booking_id)
        if booking is None:
            return None
        overlaps = await self.overlapping(booking)
        return BookingInContext(booking, overlaps, await self.customer_record(booking))

    async def find_repeat(self, business_id: int, new: NewBooking) -> Booking | None:
        if new.idempotency_key:
            key = self._keys.get((business_id, new.idempotency_key))
            if key is not None:
                fingerprint, booking_id = key
                if fingerprint != new.fingerprint:
                    raise IdempotencyConflict(new.idempotency_key)
                return self.bookings[booking_id]
        for b in self._of(business_id):
            if (b.payment.provider, b.payment.transaction_id) == (
                new.payment.provider,
                new.payment.transaction_id,
            ):
                return b
        return None

    async def create_booking(
        self, business_id: int, new: NewBooking, actor: Actor, at: datetime
    ) -> tuple[Booking, bool]:
        # The SQL store inserts and lets its unique constraints (payment, key) find a
        # repeat; with nothing running at once, looking first comes to the same.
        repeat = await self.find_repeat(business_id, new)
        if repeat is not None:
            return repeat, False
        booking = Booking(
            id=self._next_booking_id,
            business_id=business_id,
            customer=new.customer,
            service=new.service,
            start_at=new.start_at.astimezone(UTC),
            status=Status.PENDING,
            payment=new.payment,
            created_at=at,
            notes=new.notes,
            history=(HistoryEntry(at=at, actor=actor, from_status=None, to_status=Status.PENDING),),
            review_reason=new.review_reason,
        )
        self._next_booking_id += 1
        self.bookings[booking.id] = booking
        if new.idempotency_key:
            self._keys[(business_id, new.idempotency_key)] = (new.fingerprint, booking.id)
        self._record(domain_events.booking_created(booking, actor))
        return booking, True

    async def move_booking(
        self, booking: Booking, move: Move, actor: Actor, reason: str | None, at: datetime
    ) -> Booking | None:
        stored = await self.get_booking(booking.business_id, booking.id)
        if stored is None or stored.status is not booking.status:
            return None  # another change got there first: nothing is written
        entry = HistoryEntry(
            at=at, actor=actor, from_status=booking.status, to_status=move.target, reason=reason
        )
        moved = payments.after_move(stored, move.target)
        self.bookings[booking.id] = replace(moved, history=(*stored.history, entry))
        self._record(domain_events.booking_moved(booking, move, actor, at, reason))
        return self.bookings[booking.id]

    async def reschedule_booking(
        self, booking: Booking, start_at: datetime, actor: Actor, at: datetime
    ) -> Booking | None:
        stored = await self.get_booking(booking.business_id, booking.id)
        if stored is None or (stored.status, stored.start_at) != (booking.status, booking.start_at):
            return None
        entry = HistoryEntry(
            at=at,
            actor=actor,
            from_status=booking.status,
            to_status=booking.status,
            note=Note.RESCHEDULED,
            moved_from=booking.start_at,
            moved_to=start_at,
        )
        moved = replace(stored, start_at=start_at, history=(*stored.history, entry))
        self.bookings[booking.id] = moved
        self._record(domain_events.booking_rescheduled(booking, moved, actor, at))
        return moved

    async def customer_record(self, booking: Booking) -> CustomerRecord:
        theirs = [
            b.status
            for b in self._of(booking.business_id)
            if b.customer.email == booking.customer.email
        ]
        return CustomerRecord(
            bookings=max(1, len(theirs)),
            completed=theirs.count(Status.COMPLETED),
            cancelled=theirs.count(Status.CANCELLED),
            no_shows=theirs.count(Status.NO_SHOW),
        )

    async def note_refund_issued(
        self, booking: Booking, actor: Actor, at: datetime
    ) -> Booking | None:
        stored = await self.get_booking(booking.business_id, booking.id)
        if stored is None or stored.refund.state is not RefundState.OWED:
            return None
        entry = HistoryEntry(
            at=at,
            actor=actor,
            from_status=booking.status,
            to_status=booking.status,
            note=Note.REFUND_ISSUED,
        )
        refunded = payments.owner_refunded(stored, at)
        self.bookings[booking.id] = replace(refunded, history=(*stored.history, entry))
        self._record(domain_events.refund_issued(refunded, actor, at))
        return self.bookings[booking.id]

    async def refunds_owed(self, business_id: int, page: int, per_page: int) -> Page:
        def cancelled_at(b: Booking) -> datetime:
            return b.cancellation.at if b.cancellation else b.created_at

        owed = sorted(
            (b for b in self._of(business_id) if b.refund.state is RefundState.OWED),
            key=lambda b: (cancelled_at(b), b.id),
        )
        first = (page - 1) * per_page
        return Page(owed[first : first + per_page], len(owed), page, per_page)

    def _record(self, event: Event) -> None:
        self.events.append(replace(event, id=len(self.events) + 1))


@dataclass
class _LinkCode:
    business_id: int
    expires_at: datetime
    used_at: datetime | None = None
    conversation_id: int | None = None


@dataclass(frozen=True)
class LogEntry:
    """A line of the conversation log: who linked or unlinked which conversation."""

    conversation_id: int
    business_id: int
    action: str  # linked, relinked, unlinked
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class PostedMessage:
    conversation_id: int
    booking_id: int
    message_ref: str
    posted_at: datetime


class InMemoryConversations:
    """The Conversations port over dicts; codes are kept by digest, as in the database."""

    def __init__(self) -> None:
        self.conversations: dict[ConversationKey, Conversation] = {}
        self.log: list[LogEntry] = []
        self.posted: list[PostedMessage] = []
        self.digests: dict[int, str] = {}
        self._codes: dict[str, _LinkCode] = {}

    async def find(self, key: ConversationKey) -> Conversation | None:
        return self.conversations.get(key)

    async def linked_in(self, platform: Platform, workspace: str) -> list[Conversation]:
        return [
            c
            for c in self.conversations.values()
            if c.key.platform is platform
            and c.key.workspace == workspace
            and c.business_id is not None
            and not c.unreachable
        ]

    async def add_link_code(self, business_id: int, digest: str, at: datetime) -> None:
        if digest in self._codes:  # the digest is the table's primary key
            raise ValueError("a link code with this digest exists already")
        self._codes[digest] = _LinkCode(business_id, at + LINK_CODE_TTL)

    def code_spent(self, digest: str) -> bool:
        code = self._codes.get(digest)
        return code is not None and code.used_at is not None

    async def link(
        self, key: ConversationKey, title: str, digest: str, actor: Actor, at: datetime
    ) -> LinkResult:
        code = self._codes.get(digest)
        if code is None or code.used_at is not None or code.expires_at <= at:
            return LinkResult(LinkOutcome.REFUSED)
        row = self.conversations.get(key)
        if row is not None and row.business_id not in (None, code.business_id):
            return LinkResult(LinkOutcome.ELSEWHERE, row.business_id)  # the code stays unspent
        if row is None:
            linked = Conversation(
                id=len(self.conversations) + 1,
                key=key,
                business_id=code.business_id,
                title=title[:200],
            )
        else:
            linked = replace(
                row,
                business_id=code.business_id,
                unreachable=False,
                title=title[:200] or row.title,
            )
        self.conversations[key] = linked
        code.used_at, code.conversation_id = at, linked.id
        again = row is not None and row.business_id == code.business_id
        action = "relinked" if again else "linked"
        self.log.append(LogEntry(linked.id, code.business_id, action, actor, at))
        return LinkResult(LinkOutcome.RELINKED if again else LinkOutcome.LINKED, code.business_id)

    async def unlink(self, key: ConversationKey, actor: Actor, at: datetime) -> int | None:
        row = self.conversations.get(key)
        if row is None or row.business_id is None:
            return None
        self.conversations[key] = replace(row, business_id=None)
        self.log.append(LogEntry(row.id, row.business_id, "unlinked", actor, at))
        return row.business_id

    async def record_message(
        self, conversation_id: int, booking_id: int, message_ref: str, at: datetime
    ) -> None:
        if not any(
            (m.conversation_id, m.message_ref) == (conversation_id, message_ref)
            for m in self.posted
        ):
            self.posted.append(PostedMessage(conversation_id, booking_id, message_ref, at))

    async def set_digest(self, conversation_id: int, setting: str) -> None:
        self.digests[conversation_id] = setting

    async def mark_unreachable(self, conversation_id: int, reason: str, at: datetime) -> bool:
        for key, row in self.conversations.items():
            if row.id == conversation_id and row.business_id is not None and not row.unreachable:
                self.conversations[key] = replace(row, unreachable=True)
                self.log.append(LogEntry(row.id, row.business_id, "unreachable", PLATFORM, at))
                return True
        return False

    async def messages(self, conversation_id: int, booking_id: int) -> list[str]:
        """The messages in a conversation that show a booking, oldest first."""
        return [
            m.message_ref
            for m in self.posted
            if (m.conversation_id, m.booking_id) == (conversation_id, booking_id)
        ]


if TYPE_CHECKING:  # the fakes keep to the ports: mypy says so if one drifts
    _store: BookingStore = InMemoryBookingStore()
    _conversations: Conversations = InMemoryConversations()
