"""A provider's paid order as the intake API would take it: checked by the same rules."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bot.api_schema import BookingIn
from core.model import NewBooking

# The longest id we store: a transaction id's column holds 200 characters; an event id's 255,
# which leaves room for the business an Inkress event id is stored under ("<business>:<id>").
MAX_ID = 200
# The intake API's amounts have at most 11 digits before the point (14 digits, 3 of them
# decimals): a provider's amount beyond that is refused as the intake API refuses it.
MAX_ADJUSTED = 10


class BadEvent(Exception):
    """A provider's event we can't read or use: answered 400, and nothing changes."""


class NotOurs(Exception):
    """A provider's event about a sale that isn't a booking (another sale on the same
    account): answered 200 as "ignored", and nothing changes."""


def identifier(value: object, what: str) -> str:
    """A provider's id as we store it: a non-empty string or integer of at most MAX_ID
    characters, stripped.

    Raises:
        BadEvent: missing, empty or too long.
    """
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise BadEvent(f"{what} is missing")
    text = str(value).strip()
    if len(text) > MAX_ID:
        raise BadEvent(f"{what} is longer than {MAX_ID} characters")
    return text


def within_limit(value: Decimal, what: str) -> Decimal:
    """`value` when the intake API could take it (finite, at most 11 digits before the point).

    Raises:
        BadEvent: too large, or not a finite number.
    """
    if not value.is_finite() or value.adjusted() > MAX_ADJUSTED:
        raise BadEvent(f"{what} is beyond what a booking can hold")
    return value


def booking_in(
    *,
    customer: dict[str, Any],
    service: dict[str, Any],
    start: object,
    payment: dict[str, Any],
    notes: str | None = None,
) -> NewBooking:
    """A new booking from an order's parts, validated as the intake API's body is (names,
    email, duration, a start with its offset, money).

    Raises:
        BadEvent: a part breaks the intake API's rules; the message names the fields.
    """
    body = {
        "customer": customer,
        "service": service,
        "start": start,
        "payment": payment,
        "notes": notes,
    }
    try:
        valid = BookingIn.model_validate_json(json.dumps(body, default=str))
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise BadEvent(f"the order's booking is invalid: {fields}") from None
    return valid.to_domain(idempotency_key=None)


def part(value: object, key: str) -> dict[str, Any]:
    """`value[key]` when it is an object, else an empty one: a missing part is then caught
    by the intake rules, naming the field."""
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}
