"""The intake HTTP API: booking pages post paid bookings here.

No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
run time in the module's globals, where the `Owner` dependency (local to `build_api`, as it
closes over the services) does not exist; it then takes `owner` for a required query
parameter and every authenticated request fails with 422.
"""

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import logs
from bot.api_input import (
    IDEMPOTENCY_KEY,
    MAX_IDEMPOTENCY_KEY,
    cancel_request,
    documented,
    intake_request,
)
from bot.api_schema import BookingIn, BookingOut, CancelIn, ErrorOut, example_start
from bot.health import Health
from bot.outages import Outage
from core import wording
from core.desk import Desk
from core.errors import (
    BookingNotFound,
    DomainError,
    IdempotencyConflict,
    IllegalMove,
    StartInPast,
    StartTooFar,
    TooLateToCancel,
)
from core.model import Actor, ActorKind, Booking, Business, Channel
from core.payments import Payments
from storage.businesses import SqlBusinesses
from storage.database import outage

log = logs.get("bot.api")

API_ACTOR = Actor(ActorKind.SYSTEM, Channel.API, "booking page")
INTAKE_HEADERS = [
    {
        "name": "authorization",
        "description": "Bearer <the business's API key>",
        "schema": {"type": "string"},
    },
    {
        "name": IDEMPOTENCY_KEY,
        "description": "A repeat with the same key returns the first booking",
        "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
    },
]
BookingId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The booking's number")]


class Unauthorized(Exception):
    pass


def build_api(
    desk: Desk,
    businesses: SqlBusinesses,
    health: Health,
    *,
    max_body_bytes: int,
    payments: Payments,
) -> FastAPI:
    """The ASGI app, bound to the services it serves."""
    app = FastAPI(
        title="Juneplum Bookings intake API",
        version="1",
        description="Booking pages post paid bookings; each becomes a pending booking.",
    )

    async def business(
        authorization: Annotated[str | None, Header()] = None,
    ) -> Business:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized
        found = await businesses.by_api_key(token.strip())
        if found is None:
            raise Unauthorized
        return found

    Owner = Annotated[Business, Depends(business)]
    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorOut, "description": "Missing or wrong API key"},
        404: {"model": ErrorOut, "description": "No such booking for this business"},
        409: {"model": ErrorOut, "description": "The booking's status does not allow this"},
        413: {"model": ErrorOut, "description": "Body over the size limit"},
        422: {"model": ErrorOut, "description": "Invalid field (named in `loc`)"},
        503: {
            "model": ErrorOut,
            "description": "The database is unavailable (down, or its disk full); nothing "
            "was saved: send the same request again after `Retry-After` seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    }

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """Tell a load balancer whether the service can serve: 503 names the failed check."""
        healthy, body = await health.check()
        return JSONResponse(body, status_code=200 if healthy else 503)

    intake_doc, intake_schemas = documented(BookingIn, INTAKE_HEADERS)

    @app.post(
        "/api/bookings",
        status_code=201,
        response_model=BookingOut,
        responses={
            200: {
                "model": BookingOut,
                "description": "A repeat of an earlier request (the same Idempotency-Key, or "
                "the same provider and transaction id): the booking it made, even after its "
                "start",
            },
            **errors,
        },
        openapi_extra=intake_doc,
    )
    async def create_booking(request: Request) -> Response:
        """Create a pending booking; a repeat returns the first one with 200."""
        # The hot route reads its own request (see bot.api_input for how and why).
        owner = await business(request.headers.get("authorization"))
        body, key = intake_request(request.headers, await request.body())
        booking, created = await payments.take(owner, body.to_domain(key), API_ACTOR)
        log.info(
            "booking.intake",
            business=owner.id,
            booking=booking.id,
            created=created,
        )
        return _booking(booking, owner, 201 if created else 200)

    @app.get("/api/bookings/{booking_id}", response_model=BookingOut, responses=errors)
    async def get_booking(booking_id: BookingId, owner: Owner) -> Response:
        """Show one booking of this business."""
        return _booking(await desk.booking(owner, booking_id), owner)

    cancel_doc, cancel_schemas = documented(CancelIn, [], required=False)

    @app.post(
        "/api/bookings/{booking_id}/cancel",
        response_model=BookingOut,
        responses=errors,
        openapi_extra=cancel_doc,
    )
    async def cancel_booking(booking_id: BookingId, owner: Owner, request: Request) -> Response:
        """Cancel on the customer's behalf; the owner refunds in the provider's dashboard."""
        # Read by hand, as intake is, so every body that isn't UTF-8 JSON is a 422.
        body = cancel_request(request.headers, await request.body())
        done = await desk.customer_cancel(owner, booking_id, body.reason, Channel.API)
        return _booking(done.booking, owner)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        log.info("api.unauthorized", path=request.url.path)
        return JSONResponse(
            {"detail": "Missing or wrong API key: send Authorization: Bearer <key>."},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(".".join(str(p) for p in d["loc"]) for d in details)
        log.info("api.invalid", path=request.url.path, fields=fields)
        return JSONResponse({"detail": details}, status_code=422)

    @app.exception_handler(DomainError)
    async def domain(request: Request, exc: DomainError) -> JSONResponse:
        status, loc = _status_of(exc)
        text = wording.domain_error(exc)
        log.info("api.refused", path=request.url.path, status=status, reason=type(exc).__name__)
        detail: Any = text if loc is None else [{"loc": loc, "msg": text, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=status)

    def openapi() -> dict[str, Any]:
        """FastAPI's description (built once), plus the schemas of the body read by hand;
        the example's start is tomorrow's, whenever it is asked for."""
        if app.openapi_schema is not None:
            example = app.openapi_schema["components"]["schemas"]["BookingIn"]["example"]
            example["start"] = example_start(datetime.now(UTC))
            return app.openapi_schema
        described = FastAPI.openapi(app)  # kept by FastAPI as app.openapi_schema
        components = described.setdefault("components", {}).setdefault("schemas", {})
        read_by_hand = intake_schemas | cancel_schemas
        if clash := set(components) & set(read_by_hand):
            raise RuntimeError(f"OpenAPI schemas described twice: {sorted(clash)}")
        components.update(read_by_hand)
        return openapi()

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=max_body_bytes, outage=Outage("api"))
    return app


def _booking(booking: Booking, business: Business, status: int = 200) -> Response:
    """The booking as JSON, serialised once: FastAPI would validate our own output again."""
    body = BookingOut.of(booking, business).model_dump_json()
    return Response(body, status_code=status, media_type="application/json")


def _status_of(exc: DomainError) -> tuple[int, list[str] | None]:
    if isinstance(exc, BookingNotFound):
        return 404, None
    if isinstance(exc, StartInPast | StartTooFar):
        return 422, ["body", "start"]
    if isinstance(exc, IdempotencyConflict):
        return 422, ["header", "Idempotency-Key"]
    if isinstance(exc, IllegalMove | TooLateToCancel):
        return 409, None
    return 400, None


RETRY_AFTER_SECONDS = 5


class BodyLimit:
    """Refuse bodies over the limit with 413 before any handler sees them, chunked ones too;
    answer a database outage with 503 and Retry-After (logged once per outage, see
    `bot.outages`), and any other unexpected error with a plain 500 and one log line (the
    engine hides SQL parameters, so no customer detail reaches the log)."""

    def __init__(self, app: ASGIApp, limit: int, outage: Outage) -> None:
        self.app = app
        self.limit = limit
        self.outage = outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left (or stalled and was dropped)
                log.info("api.client_left", path=scope["path"], received=size)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status, responded = 500, False

        async def send_status(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
            await send(message)

        try:
            await self.app(scope, replay, send_status)
        except Exception as exc:
            reason = outage(exc)
            if reason is not None:
                self.outage.failed(reason)
                if not responded:
                    await _unavailable(scope, send)
                return
            first_line = (str(exc).splitlines() or [""])[0][:200]
            log.error(
                "api.unexpected", path=scope["path"], error=type(exc).__name__, detail=first_line
            )
            if not responded:
                response = JSONResponse(
                    {"detail": "Something went wrong; nothing was saved."}, status_code=500
                )
                await response(scope, _no_receive, send)
            return
        if status < 300 and _reads_the_database(scope["path"]):
            self.outage.worked()
        log.debug(
            "http.request",
            method=scope["method"],
            path=scope["path"],
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def _too_large(self, scope: Scope, send: Send) -> None:
        log.info("api.too_large", path=scope["path"], limit=self.limit)
        response = JSONResponse(
            {"detail": f"Request body is over {self.limit} bytes."}, status_code=413
        )
        await response(scope, _no_receive, send)


def _reads_the_database(path: str) -> bool:
    return path.startswith("/api/") or path == "/healthz"


async def _unavailable(scope: Scope, send: Send) -> None:
    """503: the same request may be sent again as it is (nothing of it was written)."""
    response = JSONResponse(
        {
            "detail": "Bookings can't be stored or read right now; nothing was saved. "
            f"Send the same request again in {RETRY_AFTER_SECONDS} seconds."
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a JSONResponse never reads
    return {"type": "http.disconnect"}
