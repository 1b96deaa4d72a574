"""The payment providers' webhooks on the service's HTTP server.

`POST /webhooks/paypal` (when PayPal is configured) and `POST /webhooks/inkress/{business}`.
Each answers only once the event took effect (or was kept for a payment still to come):
2xx for every verified event, a repeat included; 400 for a body we can't use, 401 for one we
can't verify, 503 when PayPal can't be asked (the provider delivers again later). Nothing
changes unless the answer is 2xx. Bodies are behind the API's size limit (bot.api).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse

from bot import logs
from bot.payments import inkress, paypal
from bot.payments.booking import BadEvent, NotOurs
from bot.payments.paypal import PayPal, PayPalUnreachable
from core.clock import Clock
from core.errors import DomainError
from core.model import Provider
from core.payments import Applied, Order, Payments
from storage.businesses import SqlBusinesses

log = logs.get("bot.payments")

RETRY_AFTER_SECONDS = 60
BusinessId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def mount(
    api: FastAPI,
    payments: Payments,
    businesses: SqlBusinesses,
    clock: Clock,
    client: PayPal | None,
) -> None:
    """Add the providers' webhook routes to the HTTP app (PayPal's when it is set up)."""

    async def paypal_webhook(request: Request) -> JSONResponse:
        """Take a PayPal event: verified by PayPal before anything else is done."""
        if client is None:  # pragma: no cover - the route is only added with a client
            return _answer(404, "PayPal isn't set up here.")
        missing = PayPal.missing_headers(request.headers)
        if missing:
            log.info("paypal.unsigned", missing=",".join(missing))
            return _answer(400, "Missing PayPal transmission headers: " + ", ".join(missing))
        raw = await request.body()
        try:
            event = paypal.event_of(raw)
            if not await client.verify(request.headers, raw):
                log.warning("paypal.unverified")
                return _answer(401, "PayPal did not verify this event.")
            outcome = await _paypal_event(event, client, payments)
        except BadEvent as exc:
            log.info("paypal.bad_event", reason=str(exc))
            return _answer(400, f"Unusable event: {exc}.")
        except PayPalUnreachable as exc:
            log.warning("paypal.unreachable", reason=str(exc))
            return _answer(503, "PayPal can't be reached to verify this event; send it again.")
        except DomainError as exc:
            log.warning("paypal.refused", reason=type(exc).__name__)
            return _answer(400, f"Unusable event: {exc}.")
        log.info("paypal.event", type=event["event_type"], outcome=outcome)
        return JSONResponse({"outcome": outcome}, status_code=200)

    async def inkress_webhook(business_id: BusinessId, request: Request) -> JSONResponse:
        """Take an Inkress event for one business, signed with that business's secret."""
        raw = await request.body()
        try:
            event = inkress.event_of(raw)
        except BadEvent as exc:
            return _answer(400, f"Unusable event: {exc}.")
        secret = await businesses.inkress_secret(business_id)
        if secret is None or not inkress.signed(secret, raw, request.headers):
            log.warning("inkress.unverified", business=business_id)
            return _answer(401, "The signature doesn't match this business's Inkress secret.")
        if not inkress.fresh(event, clock.now()):
            log.warning("inkress.stale", business=business_id)
            return _answer(401, "The event's timestamp is not within 5 minutes of now.")
        kind = inkress.kind_of(event)
        try:
            if kind == inkress.PAID:
                order = inkress.order_booking(event, business_id)

                async def read() -> Order:
                    return order

                applied = await payments.paid(
                    Provider.INKRESS, inkress.event_key(event, business_id), read
                )
                outcome = applied.value
            elif kind == inkress.REFUNDED:
                outcome = (await payments.refunded(inkress.refund_of(event, business_id))).value
            else:
                outcome = Applied.IGNORED.value
        except (BadEvent, DomainError) as exc:
            log.info("inkress.bad_event", business=business_id, reason=str(exc))
            return _answer(400, f"Unusable event: {exc}.")
        log.info("inkress.event", business=business_id, type=kind, outcome=outcome)
        return JSONResponse({"outcome": outcome}, status_code=200)

    if client is not None:
        api.add_api_route(
            "/webhooks/paypal", paypal_webhook, methods=["POST"], include_in_schema=False
        )
    api.add_api_route(
        "/webhooks/inkress/{business_id}",
        inkress_webhook,
        methods=["POST"],
        include_in_schema=False,
    )


async def _paypal_event(event: dict[str, Any], client: PayPal, payments: Payments) -> str:
    kind = event["event_type"]
    if kind == paypal.CAPTURE_COMPLETED:
        capture = paypal.capture_of(event)

        async def read() -> Order:
            return paypal.order_booking(await client.order(capture.order_id), capture)

        try:
            applied = await payments.paid(Provider.PAYPAL, str(event["id"]), read)
        except NotOurs:
            return Applied.IGNORED.value  # another sale on the account: nothing changes
        return applied.value
    if kind == paypal.CAPTURE_REFUNDED:
        return (await payments.refunded(paypal.refund_of(event))).value
    return Applied.IGNORED.value  # an event type we don't use: acknowledged, so it isn't sent again


def _answer(status: int, detail: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
