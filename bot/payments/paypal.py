"""PayPal: its webhook events verified by PayPal's own API, and read into core.payments'.

Every event is checked with `POST /v1/notifications/verify-webhook-signature` (PayPal holds
the key; we send the five `PAYPAL-*` transmission headers, our webhook id and the event as it
came), with an OAuth client-credentials token from `POST /v1/oauth2/token`, kept until it
expires. A capture that is not a booking yet is read from its order (`GET
/v2/checkout/orders/{id}`): `purchase_units[0].custom_id` is `<business id>|<start, ISO 8601
with its offset>|<minutes>`, its `description` the service, its amount the service's price,
and the payer the customer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from bot import logs
from bot.payments.booking import BadEvent, NotOurs, booking_in, identifier, part, within_limit
from bot.settings import Settings
from core.model import Provider
from core.payments import Order, Refunded

log = logs.get("bot.payments.paypal")

# The transmission headers PayPal signs each delivery with; all five are needed to verify.
TRANSMISSION_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}
CAPTURE_COMPLETED = "PAYMENT.CAPTURE.COMPLETED"
CAPTURE_REFUNDED = "PAYMENT.CAPTURE.REFUNDED"
TOKEN_MARGIN_SECONDS = 60  # a token is renewed this long before PayPal says it expires


class PayPalUnreachable(Exception):
    """PayPal's API didn't answer usefully: the webhook answers 503 and PayPal delivers
    again later."""


class PayPal:
    """PayPal's REST API, as the webhook needs it: verify an event, read an order."""

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        webhook_id: str,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._credentials = (client_id, client_secret)
        self._webhook_id = webhook_id
        self._http = httpx.AsyncClient(
            base_url=api_url,
            timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
            trust_env=False,
        )
        self._token: tuple[str, float] | None = None  # (token, monotonic expiry)
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def missing_headers(headers: Mapping[str, str]) -> list[str]:
        """The transmission headers a request lacks (by their names as PayPal sends them)."""
        return [h.upper() for h in TRANSMISSION_HEADERS.values() if not headers.get(h)]

    async def verify(self, headers: Mapping[str, str], raw: bytes) -> bool:
        """Whether PayPal says this delivery is its own, for our webhook.

        The event goes back exactly as it came (spliced in, not parsed and written again),
        so nothing of it can differ from what PayPal signed.

        Only PayPal's explicit `FAILURE` is a no; any other answer (a 429, a 5xx, a 200 that
        isn't its JSON) means we couldn't ask.

        Raises:
            PayPalUnreachable: PayPal's API didn't answer usefully.
        """
        fields = {name: headers[header] for name, header in TRANSMISSION_HEADERS.items()}
        fields["webhook_id"] = self._webhook_id
        head = json.dumps(fields)[:-1].encode()
        body = head + b', "webhook_event": ' + raw + b"}"
        response = await self._call("POST", "/v1/notifications/verify-webhook-signature", body)
        if response.status_code != 200:
            # Not an answer about the event (a 4xx about our request): PayPal keeps it.
            log.error("paypal.verify_unanswered", status=response.status_code)
            raise PayPalUnreachable(f"verify: {response.status_code}")
        try:
            status = response.json().get("verification_status")
        except (ValueError, AttributeError):
            raise PayPalUnreachable("verify: the answer came back unreadable") from None
        if status == "FAILURE":
            return False
        if status != "SUCCESS":
            raise PayPalUnreachable(f"verify: verification_status {status!r}")
        return True

    async def order(self, order_id: str) -> dict[str, Any]:
        """An order, as `GET /v2/checkout/orders/{id}` shows it.

        Raises:
            BadEvent: PayPal has no such order.
            PayPalUnreachable: PayPal's API didn't answer usefully (unreachable, a 429, a
                5xx, a 200 that isn't JSON).
        """
        response = await self._call("GET", f"/v2/checkout/orders/{order_id}")
        if response.status_code in (404, 422) or 400 <= response.status_code < 500:
            raise BadEvent(f"PayPal has no order {order_id!r} ({response.status_code})")
        try:
            found = response.json()
        except ValueError:
            raise PayPalUnreachable("the order came back unreadable") from None
        if not isinstance(found, dict):
            raise BadEvent("the order isn't an object")
        return found

    async def _call(self, method: str, path: str, body: bytes | None = None) -> httpx.Response:
        """One authorised call; a token PayPal no longer takes is renewed once."""
        for attempt in range(2):
            token = await self._bearer(renew=attempt > 0)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            try:
                response = await self._http.request(method, path, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise PayPalUnreachable(type(exc).__name__) from None
            if response.status_code == 401 and attempt == 0:
                continue
            if response.status_code >= 500 or response.status_code == 429:
                raise PayPalUnreachable(f"{path}: {response.status_code}")
            return response
        raise PayPalUnreachable(f"{path}: our token was refused twice")

    async def _bearer(self, *, renew: bool) -> str:
        async with self._token_lock:
            if self._token is not None and not renew and time.monotonic() < self._token[1]:
                return self._token[0]
            try:
                response = await self._http.post(
                    "/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=self._credentials,
                )
            except httpx.HTTPError as exc:
                raise PayPalUnreachable(type(exc).__name__) from None
            if response.status_code != 200:
                # Wrong credentials are ours to fix: PayPal keeps its events until then.
                log.error("paypal.token_refused", status=response.status_code)
                raise PayPalUnreachable(f"token: {response.status_code}")
            try:
                answer = response.json()
                token, lasts = str(answer["access_token"]), float(answer.get("expires_in", 0))
            except (ValueError, KeyError, TypeError):
                raise PayPalUnreachable("the token came back unreadable") from None
            self._token = (token, time.monotonic() + max(0.0, lasts - TOKEN_MARGIN_SECONDS))
            return token


def paypal_client(settings: Settings) -> PayPal | None:
    """PayPal's API client when PayPal is configured."""
    if not settings.paypal_configured or settings.paypal_client_secret is None:
        return None
    return PayPal(
        api_url=settings.paypal_api_url,
        client_id=settings.paypal_client_id or "",
        client_secret=settings.paypal_client_secret.get_secret_value(),
        webhook_id=settings.paypal_webhook_id or "",
        timeout_seconds=settings.paypal_timeout_seconds,
    )


# --- reading PayPal's bodies ---------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """A completed capture: our booking's transaction id is its id."""

    id: str
    order_id: str
    amount: Decimal
    currency: str


def event_of(raw: bytes) -> dict[str, Any]:
    """The event's JSON object.

    Raises:
        BadEvent: not JSON, or not an event.
    """
    try:
        event = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadEvent("not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadEvent("not a PayPal event")
    identifier(event["id"], "the event's id")
    if not isinstance(event.get("event_type"), str) or not isinstance(event.get("resource"), dict):
        raise BadEvent("not a PayPal event")
    return event


def capture_of(event: dict[str, Any]) -> Capture:
    """The capture a PAYMENT.CAPTURE.COMPLETED event reports.

    Raises:
        BadEvent: a part is missing.
    """
    resource = event["resource"]
    order_id = _path(resource, "supplementary_data", "related_ids", "order_id")
    amount, currency = _money(resource.get("amount"))
    return Capture(
        _text(resource.get("id"), "resource.id"), _text(order_id, "order_id"), amount, currency
    )


def refund_of(event: dict[str, Any]) -> Refunded:
    """The refund a PAYMENT.CAPTURE.REFUNDED event reports; its `up` link names the capture.

    Raises:
        BadEvent: a part is missing.
    """
    resource = event["resource"]
    links = resource.get("links") if isinstance(resource.get("links"), list) else []
    up = next(
        (
            str(link.get("href", ""))
            for link in links
            if isinstance(link, dict) and link.get("rel") == "up"
        ),
        "",
    )
    capture_id = up.rstrip("/").rpartition("/")[2] if "/captures/" in up else ""
    amount, currency = _money(resource.get("amount"))
    return Refunded(
        provider=Provider.PAYPAL,
        event_id=identifier(event["id"], "the event's id"),
        transaction_id=_text(capture_id, "the refund's up link"),
        amount=amount,
        currency=currency,
        at=_time(resource.get("create_time") or event.get("create_time")),
    )


def order_booking(order: dict[str, Any], capture: Capture) -> Order:
    """The booking a paid order makes, checked by the intake API's own rules.

    Raises:
        NotOurs: the order has no custom_id (another sale on the same PayPal account).
        BadEvent: the order doesn't say which business, when or what, or says it wrongly.
    """
    units = order.get("purchase_units")
    if not isinstance(units, list) or not units or not isinstance(units[0], dict):
        raise BadEvent("the order has no purchase unit")
    unit = units[0]
    custom_id = unit.get("custom_id")
    if custom_id is None or (isinstance(custom_id, str) and not custom_id.strip()):
        raise NotOurs("the order has no custom_id: not a sale of our booking pages")
    business_id, start, minutes = _custom_id(custom_id)
    price, price_currency = _money(unit.get("amount"))
    payer = part(order, "payer")
    name = part(payer, "name")
    full_name = " ".join(
        str(name.get(part, "")).strip() for part in ("given_name", "surname") if name.get(part)
    )
    phone = _path(payer, "phone", "phone_number", "national_number", required=False)
    booking = booking_in(
        customer={"name": full_name, "email": payer.get("email_address"), "phone": phone},
        service={
            "name": unit.get("description"),
            "duration_minutes": minutes,
            "price": str(price) if price_currency == capture.currency else None,
        },
        start=start,
        payment={
            "provider": Provider.PAYPAL.value,
            "transaction_id": capture.id,
            "amount": str(capture.amount),
            "currency": capture.currency,
        },
    )
    return Order(business_id, booking)


def _custom_id(value: object) -> tuple[int, str, int]:
    """`<business id>|<start ISO 8601 with offset>|<minutes>`."""
    parts = value.split("|") if isinstance(value, str) else []
    if len(parts) != 3 or not parts[0].strip().isdigit() or not parts[2].strip().isdigit():
        raise BadEvent("custom_id isn't <business id>|<start>|<minutes>")
    return int(parts[0]), parts[1].strip(), int(parts[2])


def _money(value: object) -> tuple[Decimal, str]:
    """PayPal's money: {"currency_code": "USD", "value": "45.00"}, the value a string."""
    if not isinstance(value, dict):
        raise BadEvent("an amount is missing")
    try:
        amount = Decimal(str(value["value"]))
        currency = str(value["currency_code"]).upper()
    except (KeyError, InvalidOperation):
        raise BadEvent("an amount is unreadable") from None
    if not amount.is_finite() or amount < 0 or len(currency) != 3:
        raise BadEvent("an amount is unreadable")
    return within_limit(amount, "an amount"), currency


def _time(value: object) -> datetime:
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadEvent("a time is unreadable") from None
    if at.tzinfo is None:
        raise BadEvent("a time has no offset")
    return at


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadEvent(f"{what} is missing")
    return identifier(value, what)


def _path(value: object, *keys: str, required: bool = True) -> Any:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            if required:
                raise BadEvent(f"{'.'.join(keys)} is missing")
            return None
        value = value[key]
    return value
