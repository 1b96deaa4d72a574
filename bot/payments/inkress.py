"""Inkress: webhooks signed with each business's own secret, read into core.payments' events.

The signature is base64(HMAC-SHA256(secret, raw body)) in `X-Inkress-Webhook-Signature`
(`X-Inkress-Signature` in Inkress's docs site: both are read), and the body's `timestamp`
(unix seconds) must be within 5 minutes of now, so a captured delivery can't be replayed
later. The envelope (Inkress's docs disagree between versions; this is its admin SDK's):

    {"id", "timestamp", "event": {"type": "order.paid" | "order.refunded",
     "data": {"order": {"id", "uid", "reference_id", "status", "total", "currency": {"code"},
     "customer": {"first_name", "last_name", "email", "phone"},
     "meta_data": {"service", "start", "duration_minutes"}}}}}

A booking's transaction id is the order's `reference_id`; `order.refunded` refunds the
whole total. The envelope carries no price: `meta_data.price` is our own optional field (the
service's price, when the booking page sends it); without it only a currency other than the
business's can flag the payment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision

from bot.payments.booking import BadEvent, booking_in, identifier, part, within_limit
from core.model import Provider
from core.payments import Order, Refunded

SIGNATURE_HEADERS = ("x-inkress-webhook-signature", "x-inkress-signature")
FRESH_FOR = timedelta(minutes=5)
PAID, REFUNDED = "order.paid", "order.refunded"


def signed(secret: str, raw: bytes, headers: Mapping[str, str]) -> bool:
    """Whether the body carries the business's signature (compared in constant time)."""
    expected = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest())
    for name in SIGNATURE_HEADERS:
        given = headers.get(name)
        if given and hmac.compare_digest(given.strip().encode(), expected):
            return True
    return False


def event_of(raw: bytes) -> dict[str, Any]:
    """The envelope, with every JSON number read exactly (as a Decimal, never a float).

    Raises:
        BadEvent: not JSON, or not an Inkress event.
    """
    try:
        event = json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise BadEvent("not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), dict):
        raise BadEvent("not an Inkress event")
    identifier(event.get("id"), "the event's id")
    return event


def event_key(event: dict[str, Any], business_id: int) -> str:
    """The event's id as the ledger keeps it: under its business ("7:evt_01"), since each
    business has its own Inkress account and two accounts may use the same ids."""
    return f"{business_id}:{identifier(event.get('id'), 'the event id')}"


def fresh(event: dict[str, Any], now: datetime) -> bool:
    """Whether the event's timestamp is within 5 minutes of now, either way."""
    stamp = event.get("timestamp")
    if not isinstance(stamp, int | Decimal) or isinstance(stamp, bool):
        return False
    try:
        at = datetime.fromtimestamp(float(stamp), UTC)
    except (OverflowError, OSError, ValueError):
        return False
    return abs(now - at) <= FRESH_FOR


def amount(total: object, currency: str) -> Decimal:
    """Inkress's money: a JSON number in major units (5250.75 is J$5,250.75), read exactly,
    with no more decimals than the currency has (JMD and USD: 2) and written with them all.

    Raises:
        BadEvent: not a number, negative, beyond the intake API's limit, or finer than the
            currency's minor unit.
    """
    if isinstance(total, bool) or not isinstance(total, int | Decimal):
        raise BadEvent("the order's total isn't a number")
    value = within_limit(Decimal(total), "the order's total")
    minor = Decimal(1).scaleb(-get_currency_precision(currency))
    if not value.is_finite() or value < 0 or value != value.quantize(minor):
        raise BadEvent(f"the order's total isn't an amount of {currency}")
    return value.quantize(minor)


def kind_of(event: dict[str, Any]) -> str:
    return str(event["event"].get("type", ""))


def order_booking(event: dict[str, Any], business_id: int) -> Order:
    """The booking an `order.paid` event makes, checked by the intake API's rules.

    Raises:
        BadEvent: a part is missing or breaks the rules.
    """
    order = _order(event)
    currency, total = _currency(order), order.get("total")
    customer, meta = part(order, "customer"), part(order, "meta_data")
    name = " ".join(
        str(customer.get(part, "")).strip()
        for part in ("first_name", "last_name")
        if customer.get(part)
    )
    price = meta.get("price")
    booking = booking_in(
        customer={"name": name, "email": customer.get("email"), "phone": customer.get("phone")},
        service={
            "name": meta.get("service"),
            "duration_minutes": meta.get("duration_minutes"),
            "price": str(amount(price, currency)) if price is not None else None,
        },
        start=meta.get("start"),
        payment={
            "provider": Provider.INKRESS.value,
            "transaction_id": _reference(order),
            "amount": str(amount(total, currency)),
            "currency": currency,
        },
    )
    return Order(business_id, booking)


def refund_of(event: dict[str, Any], business_id: int) -> Refunded:
    """An `order.refunded` event: the whole total went back.

    Raises:
        BadEvent: a part is missing.
    """
    order = _order(event)
    currency = _currency(order)
    stamp = event.get("timestamp")
    return Refunded(
        provider=Provider.INKRESS,
        event_id=event_key(event, business_id),
        transaction_id=_reference(order),
        amount=amount(order.get("total"), currency),
        currency=currency,
        at=datetime.fromtimestamp(float(stamp), UTC)
        if isinstance(stamp, int | Decimal)
        else _never(),
        business_id=business_id,
    )


def _never() -> datetime:
    raise BadEvent("the event has no timestamp")


def _order(event: dict[str, Any]) -> dict[str, Any]:
    data = event["event"].get("data")
    order = data.get("order") if isinstance(data, dict) else None
    if not isinstance(order, dict):
        raise BadEvent("the event has no order")
    return order


def _currency(order: dict[str, Any]) -> str:
    currency = order.get("currency")
    code = currency.get("code") if isinstance(currency, dict) else None
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha():
        raise BadEvent("the order has no currency")
    return code.upper()


def _reference(order: dict[str, Any]) -> str:
    return identifier(order.get("reference_id"), "the order's reference_id")
