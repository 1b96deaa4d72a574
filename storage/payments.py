"""The payment ledger: every event a provider sent, once, and the refunds they recorded.

The unique (provider, event id) of `payment_events` is the lock: of two deliveries of one
event, even at once, one inserts its row and applies it; the other inserts nothing and
changes nothing (PostgreSQL waits for the first's transaction, then finds its row). A refund
and its booking's change, history note and event (with the chat redraws the event hooks
add) are one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Insert, Row, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core import events as domain_events
from core import payments
from core.model import Actor, Booking, HistoryEntry, Note, Provider, RefundState
from core.payments import Applied, Refunded
from storage import rows
from storage.database import Database
from storage.event_feed import EventHook, record_events
from storage.tables import booking_history, bookings, payment_events

PAID, REFUNDED = "paid", "refunded"  # payment_events.kind


class SqlPaymentLedger:
    """The core's PaymentLedger port on SQLite or PostgreSQL."""

    def __init__(self, db: Database, *, event_hooks: Sequence[EventHook] = ()) -> None:
        self._db = db
        self._hooks = list(event_hooks)
        dialect = postgresql if db.dialect == "postgresql" else sqlite
        self._insert_once: Insert = (
            dialect.insert(payment_events)
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(payment_events.c.id)
        )

    async def seen(self, provider: Provider, event_id: str) -> bool:
        params = {"provider": provider.value, "event_id": event_id}
        return await self._db.read(lambda conn: conn.execute(_SEEN, params).first() is not None)

    async def booking_for(
        self, provider: Provider, transaction_id: str, business_id: int | None
    ) -> Booking | None:
        def work(conn: Connection) -> Booking | None:
            row = conn.execute(
                _payment_booking(business_id), _payment(provider, transaction_id, business_id)
            ).first()
            return rows.booking(row) if row is not None else None

        return await self._db.read(work)

    async def remember(
        self, provider: Provider, event_id: str, booking: Booking, at: datetime
    ) -> None:
        p = booking.payment
        values = _event_values(provider, event_id, PAID, p.transaction_id, booking.business_id)
        values |= {"amount": p.amount, "currency": p.currency, "occurred_at": at}
        values |= {"received_at": at, "applied_at": at, "booking_id": booking.id}
        await self._db.write(lambda conn: conn.execute(self._insert_once, values).all())

    async def refund(self, event: Refunded, actor: Actor, at: datetime) -> Applied:
        values = _event_values(
            event.provider, event.event_id, REFUNDED, event.transaction_id, event.business_id
        )
        values |= {"amount": event.amount, "currency": event.currency}
        values |= {"occurred_at": event.at, "received_at": at, "applied_at": None}

        def work(conn: Connection) -> Applied:
            # .all(): an INSERT ... RETURNING read in part keeps SQLite's table locked.
            noted = next(iter(conn.execute(self._insert_once, values).all()), None)
            if noted is None:
                return Applied.REPEAT
            booking = _locked_booking(conn, event.provider, event.transaction_id, event.business_id)
            if booking is None:
                return Applied.KEPT
            return self._apply(
                conn, booking, noted.id, (event.amount, event.currency), event.at, actor, at
            )[1]

        return await self._db.write(work)

    async def settle(
        self, provider: Provider, transaction_id: str, business_id: int, at: datetime
    ) -> int:
        params = _payment(provider, transaction_id, business_id)
        # A read first: nearly every booking has nothing waiting, and a read costs less than
        # a write transaction.
        waiting = await self._db.read(lambda conn: conn.execute(_KEPT, params).first())
        if waiting is None:
            return 0
        actor = payments.provider_actor(provider)

        def work(conn: Connection) -> int:
            kept = conn.execute(_KEPT.with_for_update(), params).all()
            booking = _locked_booking(conn, provider, transaction_id, business_id)
            if not kept or booking is None:
                return 0
            for row in kept:
                money = (row.amount, row.currency)
                booking, _ = self._apply(conn, booking, row.id, money, row.occurred_at, actor, at)
            return len(kept)

        return await self._db.write(work)

    def _apply(
        self,
        conn: Connection,
        booking: Booking,
        noted_id: int,
        money: tuple[Decimal, str],
        refunded_at: datetime,
        actor: Actor,
        at: datetime,
    ) -> tuple[Booking, Applied]:
        """Record a provider's refund on its booking (locked by the caller), with a history
        note and an event, and mark the received event applied. A refund in another currency
        than the payment is not added: the booking is flagged for review instead."""
        amount, currency = money
        conn.execute(_APPLIED, {"noted_id": noted_id, "at": at, "applied_to": booking.id})
        if currency != booking.payment.currency:
            flagged = payments.foreign_refund(booking, booking.payment.provider, *money)
            values = {"booking_id": booking.id, "reason": flagged.review_reason, "at": at}
            conn.execute(_FLAG, values)
            return flagged, Applied.FLAGGED
        refunded = payments.provider_refunded(booking, amount, refunded_at)
        conn.execute(
            _REFUND,
            {
                "booking_id": booking.id,
                "refund_amount": refunded.refund.amount,
                "refund_issued_at": refunded.refund.issued_at,
                "payment_status": refunded.payment.status.value,
                "at": at,
            },
        )
        entry = HistoryEntry(at, actor, booking.status, booking.status, note=Note.REFUND_ISSUED)
        conn.execute(_INSERT_HISTORY, rows.history_values(booking.id, entry))
        record_events(conn, [domain_events.refund_issued(refunded, actor, at)], self._hooks)
        return replace(refunded, history=(*booking.history, entry)), Applied.REFUNDED


def _event_values(
    provider: Provider, event_id: str, kind: str, transaction_id: str, business_id: int | None
) -> dict[str, Any]:
    return {
        "provider": provider.value,
        "event_id": event_id,
        "kind": kind,
        "transaction_id": transaction_id,
        "business_id": business_id,
    }


def _payment(provider: Provider, transaction_id: str, business_id: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"provider": provider.value, "transaction_id": transaction_id}
    if business_id is not None:
        params["business_id"] = business_id
    return params


def _locked_booking(
    conn: Connection, provider: Provider, transaction_id: str, business_id: int | None
) -> Booking | None:
    """The booking a payment made, locked until the transaction ends (PostgreSQL; SQLite
    writes one transaction at a time)."""
    statement = _payment_booking(business_id).with_for_update()
    row: Row[Any] | None = conn.execute(
        statement, _payment(provider, transaction_id, business_id)
    ).first()
    return rows.booking(row) if row is not None else None


def _payment_booking(business_id: int | None) -> Any:
    """A payment's booking; PayPal's ids are PayPal's own, Inkress's are the business's."""
    return _BY_PAYMENT_IN_BUSINESS if business_id is not None else _BY_PAYMENT


_SEEN = select(payment_events.c.id).where(
    payment_events.c.provider == bindparam("provider"),
    payment_events.c.event_id == bindparam("event_id"),
)
# A PayPal refund names only the capture: it goes to the booking the capture's own event
# made or found (its order named the business), else to the first booking with the id.
_CONFIRMED = (
    select(payment_events.c.id)
    .where(payment_events.c.booking_id == bookings.c.id, payment_events.c.kind == PAID)
    .exists()
)
_BY_PAYMENT = (
    select(bookings)
    .where(
        bookings.c.payment_provider == bindparam("provider"),
        bookings.c.transaction_id == bindparam("transaction_id"),
    )
    .order_by(case((_CONFIRMED, 0), else_=1), bookings.c.id)
    .limit(1)
)
_BY_PAYMENT_IN_BUSINESS = _BY_PAYMENT.where(bookings.c.business_id == bindparam("business_id"))
# Events kept for a payment: those about any business (PayPal's) and about this one.
_KEPT = (
    select(payment_events)
    .where(
        payment_events.c.provider == bindparam("provider"),
        payment_events.c.transaction_id == bindparam("transaction_id"),
        payment_events.c.applied_at.is_(None),
        (payment_events.c.business_id.is_(None))
        | (payment_events.c.business_id == bindparam("business_id")),
    )
    .order_by(payment_events.c.id)
)
_REFUND = (
    update(bookings)
    .where(bookings.c.id == bindparam("booking_id"))
    .values(
        refund_state=RefundState.ISSUED.value,
        refund_amount=bindparam("refund_amount"),
        refund_issued_at=bindparam("refund_issued_at"),
        payment_status=bindparam("payment_status"),
        updated_at=bindparam("at"),
    )
)
_FLAG = (
    update(bookings)
    .where(bookings.c.id == bindparam("booking_id"))
    .values(needs_review=True, review_reason=bindparam("reason"), updated_at=bindparam("at"))
)
_INSERT_HISTORY = booking_history.insert()
_APPLIED = (
    update(payment_events)
    .where(payment_events.c.id == bindparam("noted_id"))
    .values(applied_at=bindparam("at"), booking_id=bindparam("applied_to"))
)
