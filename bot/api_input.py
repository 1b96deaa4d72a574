"""Reading a new booking's request by hand, in FastAPI's terms, at a fraction of its cost.

`POST /api/bookings` is the one hot route: every paid booking comes through it. FastAPI's
parameter solving (a validator per header, a dependency, the body parsed to Python and then
validated) cost more CPU than storing the booking. The route reads its request itself: one
`model_validate_json` for the body, the headers by name. What a client sees stays FastAPI's:
a 422 lists every bad header and field at once, each `loc` starting with `header` or `body`;
a body that isn't JSON is refused as FastAPI's strict content type refuses it. Two
deliberate differences: the API key is checked before anything else (a stranger learns
nothing about the body), and bytes that aren't UTF-8 are a 422 at the body, not a 400.
The route's OpenAPI description is written here from the same model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from bot.api_schema import BookingIn, CancelIn

MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_KEY = "idempotency-key"


def intake_request(headers: Mapping[str, str], raw: bytes) -> tuple[BookingIn, str | None]:
    """The booking and its idempotency key, or a `RequestValidationError` naming each bad
    header and field."""
    errors: list[dict[str, Any]] = []
    key = headers.get(IDEMPOTENCY_KEY)
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        errors.append(
            {
                "loc": ("header", IDEMPOTENCY_KEY),
                "msg": f"String should have at most {MAX_IDEMPOTENCY_KEY} characters",
                "type": "string_too_long",
            }
        )
    body: BookingIn | None = None
    if not raw:
        errors.append({"loc": ("body",), "msg": "Field required", "type": "missing"})
    elif not _is_json(headers.get("content-type")):
        errors.append(
            {
                "loc": ("body",),
                "msg": "Send the booking as JSON, with Content-Type: application/json",
                "type": "content_type",
            }
        )
    else:
        try:
            body = BookingIn.model_validate_json(raw)
        except ValidationError as exc:
            errors.extend(_body_errors(exc, raw))
    if errors or body is None:
        raise RequestValidationError(errors)
    return body, (key.strip() or None) if key else None


def _is_json(content_type: str | None) -> bool:
    """application/json or application/<anything>+json, parameters aside (as FastAPI)."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _body_errors(exc: ValidationError, raw: bytes) -> list[dict[str, Any]]:
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        at = _json_error_at(raw)
        return [{"loc": ("body", at), "msg": "JSON decode error", "type": "json_invalid"}]
    return [{**e, "loc": ("body", *e["loc"])} for e in errors]


def _json_error_at(raw: bytes) -> int:
    """Where the JSON goes wrong, as an offset (what FastAPI reports); 0 when the standard
    parser can't say (it accepts what pydantic doesn't: a BOM, UTF-16, nesting deeper than
    pydantic's 200 levels, or fails on its own deeper still)."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return exc.pos
    except UnicodeDecodeError as exc:  # bytes that aren't text
        return exc.start
    except (ValueError, RecursionError):
        pass
    return 0


def cancel_request(headers: Mapping[str, str], raw: bytes) -> CancelIn:
    """A cancellation's optional body (a reason), or a `RequestValidationError` in intake's
    shape: bytes that aren't UTF-8 or aren't JSON are a 422, as they are at intake."""
    if not raw.strip():
        return CancelIn()
    if not _is_json(headers.get("content-type")):
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": "Send the reason as JSON, with Content-Type: application/json",
                    "type": "content_type",
                }
            ]
        )
    try:
        return CancelIn.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(_body_errors(exc, raw)) from None


def documented(
    model: type[BaseModel], headers: list[dict[str, Any]], *, required: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """OpenAPI for a route that reads `model` and `headers` itself: the operation's part and
    the schemas it refers to (for the document's components)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = schema.pop("$defs", {}) | {model.__name__: schema}
    operation = {
        "parameters": [{"in": "header", "required": False, **h} for h in headers],
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        },
    }
    return operation, schemas
