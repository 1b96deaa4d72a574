"""A stand-in for PayPal's REST API on loopback: OAuth tokens, webhook verification and
orders, each call counted, with PayPal's own shapes (developer.paypal.com: Webhooks
Management v1, Orders v2, Payments v2)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

CLIENT_ID = "AZ-juneplum-test-client"
CLIENT_SECRET = "EJ-juneplum-test-secret"
WEBHOOK_ID = "8PT597110X687430LKGECATA"
GOOD_SIGNATURE = "PayPal-signed-this"
TOKEN = "A21AAtest-access-token"


class FakePayPal:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.orders: dict[str, dict[str, Any]] = {}
        self.verified: list[dict[str, Any]] = []  # each verification request's body
        self.expires_in = 32400  # seconds a token lasts (PayPal's usual nine hours)
        # A scripted answer (status, body as sent) in place of the real one, to stand in for
        # PayPal having a bad moment: a 429, a 5xx, a 200 that isn't JSON.
        self.verify_answer: tuple[int, str] | None = None
        self.order_answer: tuple[int, str] | None = None
        self.app = FastAPI()
        self.app.add_api_route("/v1/oauth2/token", self.token, methods=["POST"])
        self.app.add_api_route(
            "/v1/notifications/verify-webhook-signature", self.verify, methods=["POST"]
        )
        self.app.add_api_route("/v2/checkout/orders/{order_id}", self.order, methods=["GET"])

    async def token(self, request: Request) -> JSONResponse:
        self.calls["token"] += 1
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = (await request.body()).decode()
        if request.headers.get("authorization") != f"Basic {expected}" or (
            "grant_type=client_credentials" not in form
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(
            {
                "scope": "https://uri.paypal.com/services/applications/webhooks",
                "access_token": TOKEN,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.expires_in,
                "nonce": "2026-11-25T14:00:00Zabc",
            }
        )

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def verify(self, request: Request) -> Response:
        self.calls["verify"] += 1
        if not self._authorised(request):
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if self.verify_answer is not None:
            return _scripted(self.verify_answer)
        body = json.loads(await request.body())
        self.verified.append(body)
        good = (
            body.get("transmission_sig") == GOOD_SIGNATURE
            and body.get("webhook_id") == WEBHOOK_ID
            and isinstance(body.get("webhook_event"), dict)
            and all(
                body.get(k)
                for k in ("auth_algo", "cert_url", "transmission_id", "transmission_time")
            )
        )
        return JSONResponse({"verification_status": "SUCCESS" if good else "FAILURE"})

    async def order(self, order_id: str, request: Request) -> Response:
        self.calls["order"] += 1
        if not self._authorised(request):
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if self.order_answer is not None:
            return _scripted(self.order_answer)
        found = self.orders.get(order_id)
        if found is None:
            return JSONResponse(
                {"name": "RESOURCE_NOT_FOUND", "message": "The specified resource does not exist."},
                status_code=404,
            )
        return JSONResponse(found)


def _scripted(answer: tuple[int, str]) -> Response:
    status, body = answer
    return Response(body, status_code=status, media_type="application/json")


def headers(signature: str = GOOD_SIGNATURE) -> dict[str, str]:
    """The five transmission headers PayPal sends with each delivery."""
    return {
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
        "PAYPAL-TRANSMISSION-ID": "103e3700-8b0c-11e6-8695-6b62a8a99ac4",
        "PAYPAL-TRANSMISSION-SIG": signature,
        "PAYPAL-TRANSMISSION-TIME": "2026-11-25T14:00:00Z",
        "Content-Type": "application/json",
    }


def capture_completed(
    capture_id: str, order_id: str, *, value: str = "45.00", event_id: str | None = None
) -> dict[str, Any]:
    """A PAYMENT.CAPTURE.COMPLETED event, as PayPal's docs show one."""
    return {
        "id": event_id or f"WH-CAPTURE-{capture_id}",
        "create_time": "2026-11-25T13:59:58.940Z",
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": f"Payment completed for $ {value} USD",
        "resource": {
            "amount": {"currency_code": "USD", "value": value},
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "supplementary_data": {"related_ids": {"order_id": order_id}},
            "update_time": "2026-11-25T13:59:58Z",
            "create_time": "2026-11-25T13:59:58Z",
            "final_capture": True,
            "seller_receivable_breakdown": {
                "gross_amount": {"currency_code": "USD", "value": value},
                "paypal_fee": {"currency_code": "USD", "value": "1.61"},
                "net_amount": {"currency_code": "USD", "value": "43.39"},
            },
            "links": [
                {
                    "href": f"https://api.paypal.com/v2/payments/captures/{capture_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"https://api.paypal.com/v2/payments/captures/{capture_id}/refund",
                    "rel": "refund",
                    "method": "POST",
                },
                {
                    "href": f"https://api.paypal.com/v2/checkout/orders/{order_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
            "id": capture_id,
            "status": "COMPLETED",
        },
        "links": [
            {
                "href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-X",
                "rel": "self",
                "method": "GET",
            }
        ],
        "event_version": "1.0",
        "resource_version": "2.0",
    }


def capture_refunded(
    capture_id: str, refund_id: str, *, value: str = "45.00", event_id: str | None = None
) -> dict[str, Any]:
    """A PAYMENT.CAPTURE.REFUNDED event: the refund, its `up` link naming the capture."""
    return {
        "id": event_id or f"WH-REFUND-{refund_id}",
        "create_time": "2026-11-25T14:05:04.543Z",
        "resource_type": "refund",
        "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "summary": f"A $ {value} USD capture payment was refunded",
        "resource": {
            "seller_payable_breakdown": {
                "gross_amount": {"currency_code": "USD", "value": value},
                "paypal_fee": {"currency_code": "USD", "value": "0.00"},
                "net_amount": {"currency_code": "USD", "value": value},
                "total_refunded_amount": {"currency_code": "USD", "value": value},
            },
            "amount": {"currency_code": "USD", "value": value},
            "update_time": "2026-11-25T06:05:02-08:00",
            "create_time": "2026-11-25T06:05:02-08:00",
            "links": [
                {
                    "href": f"https://api.paypal.com/v2/payments/refunds/{refund_id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"https://api.paypal.com/v2/payments/captures/{capture_id}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
            "id": refund_id,
            "status": "COMPLETED",
        },
        "links": [],
        "event_version": "1.0",
        "resource_version": "2.0",
    }


def order(
    order_id: str,
    capture_id: str,
    *,
    business_id: int,
    start: str = "2026-11-26T10:00:00-05:00",
    minutes: int = 45,
    service: str = "Haircut",
    price: str = "45.00",
) -> dict[str, Any]:
    """An order as GET /v2/checkout/orders/{id} shows it once captured."""
    return {
        "id": order_id,
        "intent": "CAPTURE",
        "status": "COMPLETED",
        "payment_source": {
            "paypal": {
                "email_address": "ana@example.com",
                "account_id": "QYR5Z8XDVJNXQ",
                "name": {"given_name": "Ana", "surname": "Silva"},
            }
        },
        "purchase_units": [
            {
                "reference_id": "default",
                "amount": {"currency_code": "USD", "value": price},
                "payee": {"email_address": "owner@plum.example", "merchant_id": "7KNGBPH2U58GQ"},
                "description": service,
                "custom_id": f"{business_id}|{start}|{minutes}",
                "payments": {
                    "captures": [
                        {
                            "id": capture_id,
                            "status": "COMPLETED",
                            "amount": {"currency_code": "USD", "value": price},
                            "final_capture": True,
                            "create_time": "2026-11-25T13:59:58Z",
                        }
                    ]
                },
            }
        ],
        "payer": {
            "name": {"given_name": "Ana", "surname": "Silva"},
            "email_address": "ana@example.com",
            "payer_id": "QYR5Z8XDVJNXQ",
            "address": {"country_code": "US"},
        },
        "create_time": "2026-11-25T13:58:40Z",
        "update_time": "2026-11-25T13:59:58Z",
        "links": [
            {
                "href": f"https://api.paypal.com/v2/checkout/orders/{order_id}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }
