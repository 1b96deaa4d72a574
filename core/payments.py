"""Money in and out of a booking: the refund record, and what payment providers report.

A provider (PayPal, Inkress; cash has nothing to report) says two things: an order was paid
(a new booking, as the intake API would take it) and a payment was refunded. Its module in
`bot.payments` verifies and reads the provider's own body into a `Paid` or a `Refunded`;
`Payments` applies it here, the same way whichever provider sent it:

- each provider event id is applied once: duplicate and concurrent deliveries are answered as
  a success and change nothing (the ledger's table of received events is the lock);
- a refund of a payment we don't know yet (it arrived before its capture) is kept, and
  applied when the booking arrives, by a webhook or by the intake API.

The refund record (`core.model.Refund`) is the one source of truth: `payment.status`
follows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from core import wording
from core.clock import Clock
from core.desk import Desk
from core.lifecycle import Status
from core.model import (
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    NewBooking,
    Payment,
    PaymentStatus,
    Provider,
    Refund,
    RefundState,
)

# --- the refund record, and the payment status that follows it ---------------------------


def payment_status(payment: Payment, refund: Refund) -> PaymentStatus:
    """`refunded` once the whole amount went back, `partially_refunded` below that."""
    if refund.state is not RefundState.ISSUED or refund.amount is None:
        return payment.status
    return (
        PaymentStatus.REFUNDED
        if refund.amount >= payment.amount
        else PaymentStatus.PARTIALLY_REFUNDED
    )


def after_move(booking: Booking, target: Status) -> Booking:
    """The booking's money after a move (storage.bookings' move writes the same in SQL):
    cancelling a paid booking owes its refund; completing a cash booking records it paid."""
    payment, refund = booking.payment, booking.refund
    owes = payment.status is PaymentStatus.PAID and refund.state is RefundState.NONE
    if target is Status.CANCELLED and owes:
        refund = Refund(RefundState.OWED, payment.amount, payment.currency)
    if target is Status.COMPLETED and payment.status is PaymentStatus.DUE:
        payment = replace(payment, status=PaymentStatus.PAID)
    return replace(booking, status=target, payment=payment, refund=refund)


def owner_refunded(booking: Booking, at: datetime) -> Booking:
    """The owner's "Refund issued": the whole amount owed went back."""
    refund = Refund(RefundState.ISSUED, booking.payment.amount, booking.payment.currency, at)
    payment = replace(booking.payment, status=payment_status(booking.payment, refund))
    return replace(booking, payment=payment, refund=refund)


def provider_refunded(booking: Booking, amount: Decimal, at: datetime) -> Booking:
    """A provider's report of a refund: added to what was already issued, never more than
    was paid (a refund in several parts comes as several events)."""
    before = booking.refund
    issued = before.amount if before.state is RefundState.ISSUED and before.amount else Decimal(0)
    total = min(booking.payment.amount, issued + amount)
    refund = Refund(RefundState.ISSUED, total, booking.payment.currency, at)
    payment = replace(booking.payment, status=payment_status(booking.payment, refund))
    return replace(booking, payment=payment, refund=refund)


def review_reason(business: Business, new: NewBooking, *, late: bool = False) -> str | None:
    """Why a new booking's payment needs the owner's eye, or None when it matches: the
    amount against the service's price, the currency against the business's, and (`late`)
    a payment for an appointment that had already started."""
    p, price = new.payment, new.service.price
    reasons = [wording.PAID_AFTER_START] if late else []
    if p.currency != business.currency:
        reasons.append(wording.currency_mismatch(p.amount, p.currency, business.currency))
    elif price is not None and p.amount != price:
        reasons.append(
            wording.amount_mismatch(p.amount, price, p.currency, due=p.status is PaymentStatus.DUE)
        )
    return " ".join(reasons) or None


def foreign_refund(booking: Booking, provider: Provider, amount: Decimal, currency: str) -> Booking:
    """A provider's refund in another currency than the booking's payment: not added to the
    refund record (no rate would be ours to choose), but the booking is flagged for review."""
    said = wording.foreign_refund(provider, amount, currency, booking.payment.currency)
    before = booking.review_reason
    return replace(booking, review_reason=f"{before} {said}" if before else said)


# --- what providers report -----------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """A paid order, read from the provider: the booking it makes, for which business."""

    business_id: int
    booking: NewBooking  # its payment's transaction id is the provider's


@dataclass(frozen=True)
class Refunded:
    """A provider refunded (part of) a payment, named by its transaction id."""

    provider: Provider
    event_id: str
    transaction_id: str
    amount: Decimal
    currency: str
    at: datetime
    business_id: int | None = None  # known when the webhook's address names it (Inkress)


class Applied(StrEnum):
    """What became of a provider's event; every one is answered as a success."""

    CREATED = "created"  # a new booking
    KNOWN = "known"  # the booking was there already: nothing more
    REFUNDED = "refunded"  # the refund is recorded on its booking
    REPEAT = "repeat"  # this event was applied before
    KEPT = "kept"  # about a payment we don't know yet: applied when it arrives
    FLAGGED = "flagged"  # a refund in another currency: recorded, the booking flagged
    IGNORED = "ignored"  # not about a booking (another sale on the same account)


class PaymentLedger(Protocol):
    """The received provider events and what they did to bookings."""

    async def seen(self, provider: Provider, event_id: str) -> bool:
        """Whether this event was received before."""
        ...

    async def booking_for(
        self, provider: Provider, transaction_id: str, business_id: int | None
    ) -> Booking | None:
        """The booking a payment made, if it is stored."""
        ...

    async def remember(
        self, provider: Provider, event_id: str, booking: Booking, at: datetime
    ) -> None:
        """Note a paid event as applied (a repeat of it then changes nothing)."""
        ...

    async def refund(self, event: Refunded, actor: Actor, at: datetime) -> Applied:
        """In one transaction: note the event (REPEAT when it was noted before), and record
        the refund on its booking with a history note and an event (KEPT when no booking has
        the payment yet)."""
        ...

    async def settle(
        self, provider: Provider, transaction_id: str, business_id: int, at: datetime
    ) -> int:
        """Apply the kept events about a payment whose booking now exists; how many."""
        ...


def provider_actor(provider: Provider) -> Actor:
    """Who made a change a provider reported: 'PayPal', in every history."""
    return Actor(ActorKind.SYSTEM, Channel(provider.value), wording.provider_name(provider))


class Payments:
    """Takes paid bookings (from the intake API and providers) and providers' refunds."""

    def __init__(self, desk: Desk, ledger: PaymentLedger, clock: Clock) -> None:
        self._desk = desk
        self._ledger = ledger
        self._clock = clock

    async def take(
        self, business: Business, new: NewBooking, actor: Actor, *, provider_paid: bool = False
    ) -> tuple[Booking, bool]:
        """A paid booking, as the intake API and the providers' webhooks take it: flagged
        for review when the payment doesn't match, and with any refund that came first.
        A provider's paid order (`provider_paid`) is booked even when its start has passed
        (say our server was down until then), flagged: the customer paid, the owner must see
        it. The intake API still refuses a start in the past.

        Raises:
            StartInPast, StartTooFar, IdempotencyConflict: as `Desk.intake`.
        """
        late = provider_paid and new.start_at <= self._clock.now()
        flagged = replace(new, review_reason=review_reason(business, new, late=late))
        booking, created = await self._desk.intake(business, flagged, actor, past_ok=late)
        p = booking.payment
        if await self._ledger.settle(p.provider, p.transaction_id, business.id, self._clock.now()):
            booking = await self._desk.booking(business, booking.id)
        return booking, created

    async def paid(
        self, provider: Provider, event_id: str, order: Callable[[], Awaitable[Order]]
    ) -> Applied:
        """A provider's payment: the order is read (`order`, perhaps from the provider's
        API: it names the business), then if that business's booking of the payment exists
        nothing more happens, otherwise it is made. The order names the business, so another
        business's booking that claims the same payment id can't stand in for it.

        Raises:
            BusinessNotFound: the order names no business of ours.
            StartTooFar: the order's appointment is too far ahead to book.
        """
        if await self._ledger.seen(provider, event_id):
            return Applied.REPEAT
        read = await order()
        transaction_id = read.booking.payment.transaction_id
        known = await self._ledger.booking_for(provider, transaction_id, read.business_id)
        if known is not None:
            await self._ledger.remember(provider, event_id, known, self._clock.now())
            return Applied.KNOWN
        business = await self._desk.business(read.business_id)
        booking, created = await self.take(
            business, read.booking, provider_actor(provider), provider_paid=True
        )
        await self._ledger.remember(provider, event_id, booking, self._clock.now())
        return Applied.CREATED if created else Applied.KNOWN

    async def refunded(self, event: Refunded) -> Applied:
        """A provider's refund, recorded on its booking (or kept until the booking comes)."""
        now = self._clock.now()
        outcome = await self._ledger.refund(event, provider_actor(event.provider), now)
        # Kept (now or before): its booking may have come since, or be committing this very
        # moment. Reading again after our own commit closes that race: of the two
        # transactions, the later one to commit sees the other's row.
        if outcome in (Applied.REPEAT, Applied.KEPT):
            known = await self._ledger.booking_for(
                event.provider, event.transaction_id, event.business_id
            )
            if known is not None:
                await self._ledger.settle(
                    event.provider, event.transaction_id, known.business_id, now
                )
        return outcome
