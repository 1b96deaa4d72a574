"""Reading a new booking's request by hand, as FastAPI would, at a third of its cost.

`POST /api/bookings` is the one hot route: every paid booking comes through it. FastAPI's
parameter solving (a validator per header, a dependency, the body parsed to Python and then
validated) cost more CPU than storing the booking. The route reads its request itself: one
`model_validate_json` for the body, the two headers by name. Errors keep FastAPI's shape
(`loc` starts with `body` or `header`), and the route's OpenAPI description is written here
from the same models, so the documented contract doesn't change.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from bot.api_schema import BookingIn

MAX_IDEMPOTENCY_KEY = 255


def booking_body(raw: bytes) -> BookingIn:
    """The body as a `BookingIn`, or a `RequestValidationError` naming each bad field."""
    try:
        return BookingIn.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(_body_errors(exc, raw)) from None


def idempotency_key(value: str | None) -> str | None:
    """The header's key, stripped; too long a key is refused as FastAPI refuses a header."""
    if value is None:
        return None
    if len(value) > MAX_IDEMPOTENCY_KEY:
        raise RequestValidationError(
            [
                {
                    "loc": ("header", "idempotency-key"),
                    "msg": f"String should have at most {MAX_IDEMPOTENCY_KEY} characters",
                    "type": "string_too_long",
                }
            ]
        )
    return value.strip() or None


def _body_errors(exc: ValidationError, raw: bytes) -> list[dict[str, Any]]:
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        if not raw.strip():
            return [{"loc": ("body",), "msg": "Field required", "type": "missing"}]
        return [
            {
                "loc": ("body", _json_error_at(raw)),
                "msg": "JSON decode error",
                "type": "json_invalid",
            }
        ]
    return [{**e, "loc": ("body", *e["loc"])} for e in errors]


def _json_error_at(raw: bytes) -> int:
    """Where the JSON goes wrong, as a character offset (what FastAPI reports)."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return exc.pos
    except UnicodeDecodeError as exc:  # bytes that aren't UTF-8 (or UTF-16/32) text
        return exc.start
    return 0  # pragma: no cover - pydantic refused what json accepts (e.g. a lone surrogate)


def documented(
    model: type[BaseModel], headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """OpenAPI for a route that reads `model` and `headers` itself: the operation's part and
    the schemas it refers to (for the document's components)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = schema.pop("$defs", {}) | {model.__name__: schema}
    operation = {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in headers.items()
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        },
    }
    return operation, schemas
