"""The things the desk manages: businesses, bookings and their history."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.lifecycle import Status


class Provider(StrEnum):
    INKRESS = "inkress"
    PAYPAL = "paypal"
    CASH = "cash"  # paid at the appointment: no transaction, nothing to verify


class PaymentStatus(StrEnum):
    """Where the money stands; past `paid` it follows the refund record (see `Refund`)."""

    PAID = "paid"
    DUE = "due"  # cash, paid at the appointment: completing the booking records it paid
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class ActorKind(StrEnum):
    OWNER = "owner"
    CUSTOMER = "customer"
    SYSTEM = "system"


class Channel(StrEnum):
    API = "api"
    CONSOLE = "console"
    CLI = "cli"
    SLACK = "slack"
    TELEGRAM = "telegram"
    SYSTEM = "system"
    PAYPAL = "paypal"  # a provider's webhook
    INKRESS = "inkress"

    @property
    def label(self) -> str:
        """The surface as people name it: 'Slack', 'Telegram', 'console'."""
        return _CHANNEL_LABELS.get(self, self.value)


_CHANNEL_LABELS = {
    Channel.SLACK: "Slack",
    Channel.TELEGRAM: "Telegram",
    Channel.API: "the booking page",
    Channel.CLI: "the command line",
    Channel.SYSTEM: "Juneplum",
    Channel.PAYPAL: "PayPal",
    Channel.INKRESS: "Inkress",
}


@dataclass(frozen=True)
class Actor:
    """Who made a change and through which surface.

    `person_id` is the person's id on that surface (a Slack user id, a Telegram user id), so
    two people with the same display name are never taken for one another.
    """

    kind: ActorKind
    channel: Channel
    name: str = ""
    person_id: str = ""

    def describe(self) -> str:
        """'Riley via Slack', 'Ana Silva (customer) via the booking page', 'the booking page'."""
        if self.kind is ActorKind.SYSTEM:
            return self.channel.label if self.channel is not Channel.SYSTEM else self.name
        who = self.name or self.kind.value
        if self.kind is ActorKind.CUSTOMER:
            who = f"{who} (customer)"
        return f"{who} via {self.channel.label}"


@functools.cache
def _zone(name: str) -> ZoneInfo:
    """Zones kept for the process: ZoneInfo keeps only the last 8 strongly, so with more
    businesses than that each booking shown re-read its zone's file from disk."""
    return ZoneInfo(name)


@dataclass(frozen=True)
class Business:
    id: int
    name: str
    timezone: str
    owner_email: str
    currency: str = "USD"
    gct_rate: Decimal | None = None  # percent; None or 0: no GCT (core.gct)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True)
class Service:
    name: str
    duration_minutes: int
    price: Decimal | None = None


@dataclass(frozen=True)
class Payment:
    provider: Provider
    transaction_id: str
    amount: Decimal
    currency: str
    status: PaymentStatus = PaymentStatus.PAID


class RefundState(StrEnum):
    """Where a booking's refund stands: the one source of truth for money going back."""

    NONE = "none"  # nothing to refund
    OWED = "owed"  # cancelled after payment, not yet refunded
    ISSUED = "issued"  # the owner's "Refund issued" or the provider's report


@dataclass(frozen=True)
class Refund:
    """A booking's refund record, stored with it; `amount` is what is owed or was issued,
    in the payment's currency."""

    state: RefundState
    amount: Decimal | None = None
    currency: str = ""
    issued_at: datetime | None = None


NO_REFUND = Refund(RefundState.NONE)


class Note(StrEnum):
    """A history entry that records a fact without moving the booking."""

    REFUND_ISSUED = "refund-issued"  # the owner refunded in the provider's dashboard
    RESCHEDULED = "rescheduled"  # moved to another start: `moved_from` and `moved_to` say when


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a booking: when, who, through which channel, from what to what, why.

    A note (`note` set) keeps the status: `from_status` and `to_status` are the same. A
    reschedule is a note with the old and the new start (UTC).
    """

    at: datetime
    actor: Actor
    from_status: Status | None
    to_status: Status
    reason: str | None = None
    note: Note | None = None
    moved_from: datetime | None = None
    moved_to: datetime | None = None

    @property
    def is_move(self) -> bool:
        return self.note is None and self.from_status is not None


@dataclass(frozen=True)
class Booking:
    id: int
    business_id: int
    customer: Customer
    service: Service
    start_at: datetime  # aware, UTC
    status: Status
    payment: Payment
    created_at: datetime
    notes: str | None = None
    history: tuple[HistoryEntry, ...] = field(default=())
    refund: Refund = NO_REFUND
    review_reason: str | None = None  # the payment didn't match the price: in words

    @property
    def needs_review(self) -> bool:
        """The payment didn't match the service's price or the business's currency."""
        return self.review_reason is not None

    @property
    def end_at(self) -> datetime:
        return self.start_at + timedelta(minutes=self.service.duration_minutes)

    @property
    def ref(self) -> str:
        """The booking's id as every surface shows it."""
        return f"#{self.id}"

    @property
    def cancellation(self) -> HistoryEntry | None:
        for entry in reversed(self.history):
            if entry.to_status is Status.CANCELLED and entry.note is None:
                return entry
        return None

    @property
    def last_move(self) -> HistoryEntry | None:
        """The latest change of status (not a note), if the booking has moved at all."""
        for entry in reversed(self.history):
            if entry.is_move:
                return entry
        return None

    @property
    def reschedules(self) -> tuple[HistoryEntry, ...]:
        """Every move to another start, oldest first."""
        return tuple(e for e in self.history if e.note is Note.RESCHEDULED)

    @property
    def refund_issued(self) -> HistoryEntry | None:
        for entry in reversed(self.history):
            if entry.note is Note.REFUND_ISSUED:
                return entry
        return None

    @property
    def refund_owed(self) -> bool:
        """Cancelled after the customer paid, and not yet refunded."""
        return self.refund.state is RefundState.OWED


@dataclass(frozen=True)
class NewBooking:
    """A paid booking as it arrives from a booking page, before it has an id."""

    customer: Customer
    service: Service
    start_at: datetime
    payment: Payment
    notes: str | None = None
    idempotency_key: str | None = None
    fingerprint: str = ""  # a digest of the request body, to spot a reused key
    review_reason: str | None = None  # set by core.payments when the payment doesn't match


@dataclass(frozen=True)
class CustomerRecord:
    """A customer's bookings with one business (same email), this one included."""

    bookings: int = 1
    completed: int = 0
    cancelled: int = 0
    no_shows: int = 0


@dataclass(frozen=True)
class Page:
    bookings: list[Booking]
    total: int
    page: int
    per_page: int
    total_exact: bool = True  # False: at least `total` bookings match (big results aren't counted)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_more(self) -> bool:
        return self.page < self.pages
