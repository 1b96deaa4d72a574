"""A provider's paid order as the intake API would take it: checked by the same rules."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from bot.api_schema import BookingIn
from core.model import NewBooking


class BadEvent(Exception):
    """A provider's event we can't read or use: answered 400, and nothing changes."""


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
