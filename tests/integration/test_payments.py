"""Payments end to end through the real HTTP server, on SQLite and PostgreSQL: PayPal's and
Inkress's webhooks (PayPal's API a local stand-in), the refund loop, cash, payments to
review; what the customer and the owner see asserted in the SMTP mailbox, the chat fake,
the API and the tables."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select

from bot.app import Services, build_services
from bot.mail.transport import SmtpTransport
from bot.server import http_app
from bot.settings import Settings
from core.chat import ConversationKey, Person, Platform
from core.clock import FixedClock
from core.lifecycle import Move
from core.model import Business
from core.replies import BookingList
from storage import migrate
from storage.tables import bookings, events, payment_events
from tests import paypal_api
from tests.chat_platform import FakePlatform
from tests.conftest import NOW, OWNER
from tests.integration.http_server import serving
from tests.paypal_api import FakePayPal
from tests.smtp_server import SmtpServer, free_port

PLUM_KEY = "jp_test_key_plum"
INKRESS_SECRET = "whsec_blue_mountain_0123456789"
OTHER_SECRET = "whsec_plum_salon_9876543210"
SALON_CHAT = ConversationKey(Platform.SLACK, "T1", "C-salon")
START = "2026-11-26T10:00:00-05:00"  # tomorrow, 10:00 in New York


@dataclass
class Shop:
    services: Services
    salon: Business  # USD, PayPal
    spa: Business  # JMD, Inkress
    http: httpx.AsyncClient
    paypal: FakePayPal
    chat: FakePlatform
    smtp: SmtpServer


def settings(database_url: str, tmp_path: Path, smtp: SmtpServer, paypal_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        mail_dir=tmp_path / "mail",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        paypal_client_id=paypal_api.CLIENT_ID,
        paypal_client_secret=paypal_api.CLIENT_SECRET,
        paypal_webhook_id=paypal_api.WEBHOOK_ID,
        paypal_api_url=paypal_url,
        paypal_timeout_seconds=2,
        _env_file=None,
    )


@contextlib.asynccontextmanager
async def opened(
    database_url: str, tmp_path: Path, clock: FixedClock, smtp: SmtpServer, paypal_url: str
) -> AsyncIterator[tuple[Services, FakePlatform, httpx.AsyncClient]]:
    chat = FakePlatform()
    built = build_services(
        settings(database_url, tmp_path, smtp, paypal_url),
        clock=clock,
        transport=SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none", timeout=5),
        senders={Platform.SLACK: chat},
    )
    await migrate.upgrade(built.db)
    try:
        async with (
            serving(http_app(built)) as url,
            httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as http,
        ):
            yield built, chat, http
    finally:
        await built.aclose()


@pytest.fixture
async def shop(
    database_url: str, tmp_path: Path, clock: FixedClock, smtp: SmtpServer
) -> AsyncIterator[Shop]:
    fake = FakePayPal()
    async with (
        serving(fake.app) as paypal_url,
        opened(database_url, tmp_path, clock, smtp, paypal_url) as (services, chat, http),
    ):
        salon = await services.businesses.add(
            name="Plum Salon",
            timezone="America/New_York",
            owner_email="owner@plum.example",
            currency="USD",
            api_key=PLUM_KEY,
            at=NOW,
            inkress_secret=OTHER_SECRET,
        )
        spa = await services.businesses.add(
            name="Blue Mountain Spa",
            timezone="America/Jamaica",
            owner_email="owner@spa.example",
            currency="JMD",
            api_key="jp_test_key_spa",
            at=NOW,
        )
        assert await services.businesses.update(spa.id, inkress_secret=INKRESS_SECRET)
        yield Shop(services, salon, spa, http, fake, chat, smtp)


async def count(services: Services, table: Table) -> int:
    query = select(func.count()).select_from(table)
    return await services.db.read(lambda conn: int(conn.execute(query).scalar_one()))


async def post_paypal(
    shop: Shop, event: dict[str, Any], signature: str = paypal_api.GOOD_SIGNATURE
) -> httpx.Response:
    return await shop.http.post(
        "/webhooks/paypal",
        content=json.dumps(event).encode(),
        headers=paypal_api.headers(signature),
    )


async def shown(shop: Shop, booking_id: int, key: str = PLUM_KEY) -> dict[str, Any]:
    response = await shop.http.get(
        f"/api/bookings/{booking_id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def booking_ids(shop: Shop) -> list[int]:
    query = select(bookings.c.id).order_by(bookings.c.id)
    return await shop.services.db.read(lambda conn: list(conn.execute(query).scalars()))


def sold(shop: Shop, capture: str = "2GG279541U471931P", order: str = "5O190127TN364715T") -> None:
    shop.paypal.orders[order] = paypal_api.order(order, capture, business_id=shop.salon.id)


async def deliver_mail(shop: Shop) -> None:
    await shop.services.dispatcher.run_once()
    await shop.services.dispatcher.run_once()


# --- PayPal: a capture ----------------------------------------------------------------------


async def test_a_paypal_capture_makes_the_pending_booking_as_intake_does(shop: Shop) -> None:
    sold(shop)
    response = await post_paypal(
        shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "created"}
    (booking_id,) = await booking_ids(shop)
    booking = await shown(shop, booking_id)
    assert booking["status"] == "pending"
    assert booking["customer"] == {"name": "Ana Silva", "email": "ana@example.com", "phone": None}
    assert booking["service"]["name"] == "Haircut" and booking["service"]["duration_minutes"] == 45
    assert booking["start_local"] == START
    assert booking["payment"] == {
        "provider": "paypal",
        "transaction_id": "2GG279541U471931P",
        "amount": "45.00",
        "currency": "USD",
        "status": "paid",
    }
    assert booking["refund"] == {
        "state": "none",
        "amount": None,
        "currency": "USD",
        "issued_at": None,
    }
    assert booking["needs_review"] is False and booking["review_reason"] is None
    assert [(h["channel"], h["to_status"]) for h in booking["history"]] == [("paypal", "pending")]
    # The customer and the owner are told, as for a booking from the booking page.
    await deliver_mail(shop)
    assert sorted(shop.smtp.mailbox.kinds()) == ["created", "owner-new-booking"]
    assert shop.smtp.mailbox.of_kind("created")[0]["To"] == "Ana Silva <ana@example.com>"
    # Verified first; the order read once.
    assert shop.paypal.calls == {"token": 1, "verify": 1, "order": 1}
    assert shop.paypal.verified[0]["webhook_event"]["id"] == "WH-CAPTURE-2GG279541U471931P"
    assert shop.paypal.verified[0]["webhook_id"] == paypal_api.WEBHOOK_ID


async def test_a_capture_of_a_booking_already_made_changes_nothing(
    shop: Shop,
) -> None:
    body = {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
        "start": START,
        "payment": {
            "provider": "paypal",
            "transaction_id": "2GG279541U471931P",
            "amount": "45.00",
            "currency": "USD",
        },
    }
    made = await shop.http.post(
        "/api/bookings", json=body, headers={"Authorization": f"Bearer {PLUM_KEY}"}
    )
    assert made.status_code == 201
    sold(shop)
    response = await post_paypal(
        shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    )
    assert response.status_code == 200 and response.json() == {"outcome": "known"}
    assert await booking_ids(shop) == [made.json()["id"]]
    # The order is read once (it names the business whose booking it is), a repeat not at all.
    again = await post_paypal(
        shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    )
    assert again.json() == {"outcome": "repeat"}
    assert shop.paypal.calls["order"] == 1


async def test_a_repeated_event_is_answered_and_applied_once_with_the_token_reused(
    shop: Shop,
) -> None:
    sold(shop)
    event = paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    answers = [await post_paypal(shop, event) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["outcome"] for a in answers] == ["created", "repeat", "repeat"]
    assert len(await booking_ids(shop)) == 1
    # Every delivery is verified, with one token for all of them; the order is read once.
    assert shop.paypal.calls == {"token": 1, "verify": 3, "order": 1}


async def test_a_token_about_to_expire_is_renewed(shop: Shop) -> None:
    shop.paypal.expires_in = 30  # less than the minute kept in hand: never reused
    sold(shop)
    event = paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    for _ in range(2):
        assert (await post_paypal(shop, event)).status_code == 200
    calls = shop.paypal.calls
    assert calls["token"] == calls["verify"] + calls["order"] == 3  # a fresh token for each


async def test_concurrent_deliveries_of_one_capture_make_one_booking_and_one_email(
    shop: Shop,
) -> None:
    sold(shop)
    event = paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    answers = await asyncio.gather(*(post_paypal(shop, event) for _ in range(6)))
    assert {a.status_code for a in answers} == {200}
    assert len(await booking_ids(shop)) == 1
    assert await count(shop.services, events) == 1
    await deliver_mail(shop)
    assert sorted(shop.smtp.mailbox.kinds()) == ["created", "owner-new-booking"]


async def test_a_payment_that_does_not_match_the_price_is_flagged_on_every_surface(
    shop: Shop,
) -> None:
    code = await shop.services.chat.issue_link_code(shop.salon.id)
    await shop.services.chat.link(SALON_CHAT, Person("U1", "Riley"), code)
    sold(shop)  # the order says 45.00
    response = await post_paypal(
        shop,
        paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T", value="40.00"),
    )
    assert response.status_code == 200
    (booking_id,) = await booking_ids(shop)
    booking = await shown(shop, booking_id)
    assert booking["needs_review"] is True
    assert booking["review_reason"] == ("Paid US$40.00, but the service's price is US$45.00.")
    await shop.services.chat_dispatcher.drain()
    (card,) = shop.chat.posted_to("C-salon")
    assert "Check the payment: Paid US$40.00, but the service's price is US$45.00." in card.text


async def test_the_intake_api_flags_a_payment_in_another_currency_and_not_an_exact_one(
    shop: Shop,
) -> None:
    def body(txn: str, currency: str) -> dict[str, Any]:
        return {
            "customer": {"name": "Ana Silva", "email": "ana@example.com"},
            "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
            "start": START,
            "payment": {
                "provider": "paypal",
                "transaction_id": txn,
                "amount": "45.00",
                "currency": currency,
            },
        }

    key = {"Authorization": f"Bearer {PLUM_KEY}"}
    exact = await shop.http.post("/api/bookings", json=body("T-1", "USD"), headers=key)
    other = await shop.http.post("/api/bookings", json=body("T-2", "EUR"), headers=key)
    assert exact.json()["needs_review"] is False
    assert other.status_code == 201
    assert other.json()["needs_review"] is True
    assert other.json()["review_reason"] == "Paid €45.00, but the business takes USD."


# --- PayPal: refunds --------------------------------------------------------------------------


async def test_a_paypal_refund_records_the_refund_and_redraws_every_card(shop: Shop) -> None:
    code = await shop.services.chat.issue_link_code(shop.salon.id)
    await shop.services.chat.link(SALON_CHAT, Person("U1", "Riley"), code)
    sold(shop)
    await post_paypal(shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T"))
    (booking_id,) = await booking_ids(shop)
    await shop.services.desk.act(shop.salon, booking_id, Move.CANCEL, OWNER)
    owed = await shown(shop, booking_id)
    assert owed["refund"] == {
        "state": "owed",
        "amount": "45.00",
        "currency": "USD",
        "issued_at": None,
    }
    await shop.services.chat_dispatcher.drain()
    (card,) = shop.chat.posted_to("C-salon")
    assert "https://www.paypal.com/activity/payment/2GG279541U471931P" in (
        shop.chat.edited_in("C-salon")[-1].text
    )

    response = await post_paypal(
        shop, paypal_api.capture_refunded("2GG279541U471931P", "1Y107995YT783435V")
    )
    assert response.status_code == 200 and response.json() == {"outcome": "refunded"}
    booking = await shown(shop, booking_id)
    assert booking["refund"] == {
        "state": "issued",
        "amount": "45.00",
        "currency": "USD",
        "issued_at": "2026-11-25T14:05:02Z",
    }
    assert booking["payment"]["status"] == "refunded"
    assert booking["history"][-1]["channel"] == "paypal"
    await shop.services.chat_dispatcher.drain()
    redrawn = shop.chat.edited_in("C-salon")[-1]
    assert redrawn.ref == card.ref
    assert "Refund of US$45.00 issued, reported by PayPal" in redrawn.text
    assert "Refund issued" not in [a.label for a in redrawn.content.card.actions]  # type: ignore[union-attr]
    assert any("refund marked issued by PayPal" in s.text for s in shop.chat.posted_to("C-salon"))
    # Nothing is owed any more.
    reply = await shop.services.desk.handle(shop.salon.id, "refunds", OWNER)
    assert isinstance(reply, BookingList) and reply.page.bookings == []


async def test_a_partial_refund_leaves_the_payment_partially_refunded(shop: Shop) -> None:
    sold(shop)
    await post_paypal(shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T"))
    (booking_id,) = await booking_ids(shop)
    await post_paypal(shop, paypal_api.capture_refunded("2GG279541U471931P", "R-1", value="20.00"))
    booking = await shown(shop, booking_id)
    assert booking["refund"]["amount"] == "20.00"
    assert booking["payment"]["status"] == "partially_refunded"
    await post_paypal(shop, paypal_api.capture_refunded("2GG279541U471931P", "R-2", value="25.00"))
    booking = await shown(shop, booking_id)
    assert booking["refund"]["amount"] == "45.00"
    assert booking["payment"]["status"] == "refunded"


async def test_a_refund_before_its_capture_is_kept_then_applied_when_the_capture_comes(
    shop: Shop,
) -> None:
    sold(shop)
    early = await post_paypal(
        shop, paypal_api.capture_refunded("2GG279541U471931P", "1Y107995YT783435V")
    )
    assert early.status_code == 200 and early.json() == {"outcome": "kept"}
    assert await booking_ids(shop) == []
    again = await post_paypal(
        shop, paypal_api.capture_refunded("2GG279541U471931P", "1Y107995YT783435V")
    )
    assert again.status_code == 200 and again.json() == {"outcome": "repeat"}
    await post_paypal(shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T"))
    (booking_id,) = await booking_ids(shop)
    booking = await shown(shop, booking_id)
    assert booking["refund"]["state"] == "issued" and booking["refund"]["amount"] == "45.00"
    assert booking["payment"]["status"] == "refunded"


async def test_a_refund_and_its_capture_delivered_at_once_always_meet(shop: Shop) -> None:
    """Each side reads the other again after its own commit: whichever commits later sees
    the other's row, so the refund is never left waiting for a delivery that won't come."""
    answers: list[httpx.Response] = []
    for n in range(8):
        capture, order = f"2GG27954{n:02d}U47193P", f"5O19012{n:02d}TN36471T"
        sold(shop, capture, order)
        answers += await asyncio.gather(
            post_paypal(shop, paypal_api.capture_completed(capture, order)),
            post_paypal(shop, paypal_api.capture_refunded(capture, f"1Y10799{n:02d}YT7834V")),
        )
    assert [a.status_code for a in answers] == [200] * 16, [a.text for a in answers]
    ids = await booking_ids(shop)
    assert len(ids) == 8
    for booking_id in ids:
        booking = await shown(shop, booking_id)
        assert booking["refund"]["state"] == "issued", booking


async def test_a_refund_kept_for_a_payment_is_applied_when_the_intake_api_brings_it(
    shop: Shop,
) -> None:
    await post_paypal(shop, paypal_api.capture_refunded("9XK12345AB678901C", "R-9", value="10.00"))
    body = {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
        "start": START,
        "payment": {
            "provider": "paypal",
            "transaction_id": "9XK12345AB678901C",
            "amount": "45.00",
            "currency": "USD",
        },
    }
    made = await shop.http.post(
        "/api/bookings", json=body, headers={"Authorization": f"Bearer {PLUM_KEY}"}
    )
    assert made.status_code == 201
    assert made.json()["refund"]["amount"] == "10.00"
    assert made.json()["payment"]["status"] == "partially_refunded"


# --- PayPal: what is refused ------------------------------------------------------------------


async def test_an_event_paypal_does_not_verify_is_refused_and_changes_nothing(shop: Shop) -> None:
    sold(shop)
    event = paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    response = await post_paypal(shop, event, signature="forged")
    assert response.status_code == 401
    assert await booking_ids(shop) == []
    assert await count(shop.services, payment_events) == 0
    assert shop.paypal.calls["order"] == 0


@pytest.mark.parametrize("header", list(paypal_api.headers())[:5])
async def test_a_delivery_missing_a_transmission_header_is_refused_without_asking_paypal(
    shop: Shop, header: str
) -> None:
    sold(shop)
    sent = paypal_api.headers()
    del sent[header]
    response = await shop.http.post(
        "/webhooks/paypal",
        content=json.dumps(paypal_api.capture_completed("C1", "5O190127TN364715T")).encode(),
        headers=sent,
    )
    assert response.status_code == 400 and header in response.json()["detail"]
    assert sum(shop.paypal.calls.values()) == 0
    assert await booking_ids(shop) == []


async def test_when_paypal_cannot_be_reached_the_answer_is_503_and_nothing_changes(
    database_url: str, tmp_path: Path, clock: FixedClock, smtp: SmtpServer
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with opened(database_url, tmp_path, clock, smtp, nowhere) as (services, _, http):
        response = await http.post(
            "/webhooks/paypal",
            content=json.dumps(paypal_api.capture_completed("C1", "O1")).encode(),
            headers=paypal_api.headers(),
        )
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert await count(services, bookings) == 0
        assert await count(services, payment_events) == 0


async def test_a_body_that_is_not_json_is_refused(shop: Shop) -> None:
    response = await shop.http.post(
        "/webhooks/paypal", content=b"{not json", headers=paypal_api.headers()
    )
    assert response.status_code == 400
    assert shop.paypal.calls["verify"] == 0


# --- Inkress ----------------------------------------------------------------------------------


def inkress_event(
    kind: str,
    *,
    event_id: str = "evt_01",
    reference: str = "INK-REF-7731",
    total: str = "5250.75",
    at: float | None = None,
    price: str | None = None,
    start: str = "2026-11-26T10:00:00-05:00",
) -> bytes:
    """An Inkress event as its admin SDK's envelope has it; `total` a JSON number. Inkress
    sends no price: `meta_data.price` is our own optional field, sent only when asked."""
    envelope = {
        "id": event_id,
        "timestamp": int(at if at is not None else NOW.timestamp()),
        "event": {
            "type": kind,
            "data": {
                "order": {
                    "id": 88123,
                    "uid": "ord_9f2c",
                    "reference_id": reference,
                    "status": "paid" if kind == "order.paid" else "refunded",
                    "total": "<total>",
                    "currency": {"code": "JMD"},
                    "customer": {
                        "first_name": "Keisha",
                        "last_name": "Brown",
                        "email": "keisha@example.com",
                        "phone": "+1 876 555 0100",
                    },
                    "meta_data": {
                        "service": "Hot stone massage",
                        "start": start,
                        "duration_minutes": 60,
                        **({"price": "<price>"} if price is not None else {}),
                    },
                }
            },
        },
    }
    # The total as a JSON number, written as Inkress writes it (never through a float).
    body = json.dumps(envelope).replace('"<total>"', total).replace('"<price>"', price or "")
    json.loads(body)  # a real JSON body
    return body.encode()


def signed(
    raw: bytes, secret: str = INKRESS_SECRET, header: str = "X-Inkress-Webhook-Signature"
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    return {header: base64.b64encode(digest).decode(), "Content-Type": "application/json"}


async def post_inkress(shop: Shop, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    return await shop.http.post(f"/webhooks/inkress/{shop.spa.id}", content=raw, headers=headers)


async def test_an_inkress_paid_order_makes_a_booking_and_its_refund_refunds_the_total(
    shop: Shop,
) -> None:
    raw = inkress_event("order.paid")
    response = await post_inkress(shop, raw, signed(raw))
    assert response.status_code == 200 and response.json() == {"outcome": "created"}
    (booking_id,) = await booking_ids(shop)
    booking = await shown(shop, booking_id, "jp_test_key_spa")
    assert booking["payment"] == {
        "provider": "inkress",
        "transaction_id": "INK-REF-7731",
        "amount": "5250.75",
        "currency": "JMD",
        "status": "paid",
    }
    assert booking["needs_review"] is False
    assert booking["history"][0]["channel"] == "inkress"
    assert booking["customer"]["name"] == "Keisha Brown"
    await shop.services.desk.act(shop.spa, booking_id, Move.CANCEL, OWNER)
    _, card = await shop.services.desk.drawn(shop.spa, booking_id)
    assert card.refund is not None
    assert "open the order with reference INK-REF-7731 in your Inkress dashboard" in card.refund

    refund = inkress_event("order.refunded", event_id="evt_02")
    answer = await post_inkress(shop, refund, signed(refund, header="X-Inkress-Signature"))
    assert answer.status_code == 200 and answer.json() == {"outcome": "refunded"}
    booking = await shown(shop, booking_id, "jp_test_key_spa")
    assert booking["refund"]["state"] == "issued"
    assert booking["refund"]["amount"] == "5250.75"
    assert booking["payment"]["status"] == "refunded"


async def test_a_stale_inkress_event_is_refused(shop: Shop) -> None:
    raw = inkress_event("order.paid", at=NOW.timestamp() - 5 * 60 - 1)
    response = await post_inkress(shop, raw, signed(raw))
    assert response.status_code == 401
    fresh_enough = inkress_event("order.paid", at=NOW.timestamp() - 5 * 60 + 1)
    assert (await post_inkress(shop, fresh_enough, signed(fresh_enough))).status_code == 200


async def test_an_inkress_event_signed_with_another_business_s_secret_is_refused(
    shop: Shop,
) -> None:
    raw = inkress_event("order.paid")
    for headers in (signed(raw, OTHER_SECRET), signed(raw + b" "), {"X-Inkress-Signature": "x"}):
        response = await post_inkress(shop, raw, headers)
        assert response.status_code == 401
    assert await booking_ids(shop) == []


async def test_malformed_inkress_json_is_refused(shop: Shop) -> None:
    raw = b'{"id": "evt_01", "timestamp": 17'
    response = await post_inkress(shop, raw, signed(raw))
    assert response.status_code == 400
    assert await booking_ids(shop) == []


async def test_duplicate_inkress_deliveries_at_once_make_one_booking(shop: Shop) -> None:
    raw = inkress_event("order.paid")
    answers = await asyncio.gather(*(post_inkress(shop, raw, signed(raw)) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert len(await booking_ids(shop)) == 1


async def test_concurrent_deliveries_of_one_refund_refund_once(shop: Shop) -> None:
    raw = inkress_event("order.paid")
    await post_inkress(shop, raw, signed(raw))
    refund = inkress_event("order.refunded", event_id="evt_02")
    answers = await asyncio.gather(*(post_inkress(shop, refund, signed(refund)) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert sorted(a.json()["outcome"] for a in answers) == ["refunded", *["repeat"] * 4]
    assert await count(shop.services, events) == 2  # created, refund issued


# --- cash and the refund loop -----------------------------------------------------------------


async def test_cash_is_due_at_the_appointment_and_paid_once_completed(shop: Shop) -> None:
    body = {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
        "start": START,
        "payment": {"provider": "cash", "amount": "45.00", "currency": "USD"},
    }
    key = {"Authorization": f"Bearer {PLUM_KEY}", "Idempotency-Key": "cash-1"}
    made = await shop.http.post("/api/bookings", json=body, headers=key)
    again = await shop.http.post("/api/bookings", json=body, headers=key)
    other = await shop.http.post(
        "/api/bookings", json=body, headers=key | {"Idempotency-Key": "cash-2"}
    )
    assert (made.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == made.json()["id"] != other.json()["id"]
    assert made.json()["payment"]["status"] == "due"
    booking_id = made.json()["id"]
    _, card = await shop.services.desk.drawn(shop.salon, booking_id)
    (payment,) = [f.value for f in card.fields if f.key == "payment"]
    assert payment == "US$45.00 due at the appointment (cash)"
    await shop.services.desk.act(shop.salon, booking_id, Move.CONFIRM, OWNER)
    await shop.services.desk.act(shop.salon, booking_id, Move.COMPLETE, OWNER)
    assert (await shown(shop, booking_id))["payment"]["status"] == "paid"
    # A cash booking cancelled before the visit owes nothing.
    await shop.services.desk.act(shop.salon, other.json()["id"], Move.CANCEL, OWNER)
    assert (await shown(shop, other.json()["id"]))["refund"]["state"] == "none"


async def test_refunds_lists_the_refunds_owed_longest_owed_first(
    shop: Shop, clock: FixedClock
) -> None:
    key = {"Authorization": f"Bearer {PLUM_KEY}"}
    made = []
    for n, name in enumerate(("Ana Silva", "Bo Chen", "Cy Diaz")):
        body = {
            "customer": {"name": name, "email": f"c{n}@example.com"},
            "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
            "start": START,
            "payment": {
                "provider": "paypal",
                "transaction_id": f"T-{n}",
                "amount": "45.00",
                "currency": "USD",
            },
        }
        made.append((await shop.http.post("/api/bookings", json=body, headers=key)).json()["id"])
    for booking_id in (made[2], made[0], made[1]):  # cancelled in this order
        await shop.services.desk.act(shop.salon, booking_id, Move.CANCEL, OWNER)
        clock.advance(hours=1)
    await shop.services.desk.refund_issued(shop.salon, made[0], OWNER)
    reply = await shop.services.desk.handle(shop.salon.id, "refunds", OWNER)
    assert isinstance(reply, BookingList)
    assert [b.id for b in reply.page.bookings] == [made[2], made[1]]
    assert reply.title == "Refunds owed, oldest first"
    marked = await shown(shop, made[0])
    assert marked["refund"]["state"] == "issued" and marked["payment"]["status"] == "refunded"


# --- what a reviewer found (issue 21) ---------------------------------------------------------


def plain(message: Any) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def test_an_amount_beyond_any_booking_is_refused_never_a_crash(shop: Shop) -> None:
    for total in ("1e30", "100000000000", "1E+11"):
        raw = inkress_event("order.paid", total=total)
        response = await post_inkress(shop, raw, signed(raw))
        assert response.status_code == 400, (total, response.text)
    largest = inkress_event("order.paid", total="99999999999.99", event_id="evt_big")
    assert (await post_inkress(shop, largest, signed(largest))).status_code == 200
    refund = paypal_api.capture_refunded("2GG279541U471931P", "R-HUGE", value="1E+30")
    assert (await post_paypal(shop, refund)).status_code == 400
    assert await count(shop.services, payment_events) == 1  # the largest order's alone


async def test_ids_longer_than_we_keep_are_refused_never_a_crash(shop: Shop) -> None:
    too_long = "X" * 201
    for raw in (
        inkress_event("order.paid", reference=too_long),
        inkress_event("order.paid", event_id="E" * 256),
        inkress_event("order.refunded", event_id="E" * 256),
    ):
        response = await post_inkress(shop, raw, signed(raw))
        assert response.status_code == 400, response.text
    for event in (
        paypal_api.capture_refunded("2GG279541U471931P", "R-1", event_id="W" * 256),
        paypal_api.capture_completed("2GG279541U471931P", "O-1", event_id="W" * 256),
        paypal_api.capture_refunded(too_long, "R-1"),
    ):
        assert (await post_paypal(shop, event)).status_code == 400
    assert await booking_ids(shop) == []
    assert await count(shop.services, payment_events) == 0


async def test_a_capture_of_another_sale_on_the_account_is_ignored(shop: Shop) -> None:
    sold(shop)
    del shop.paypal.orders["5O190127TN364715T"]["purchase_units"][0]["custom_id"]
    event = paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    response = await post_paypal(shop, event)
    assert response.status_code == 200 and response.json() == {"outcome": "ignored"}
    assert await booking_ids(shop) == []
    assert await count(shop.services, payment_events) == 0


async def test_a_capture_naming_a_business_we_do_not_have_is_refused(shop: Shop) -> None:
    shop.paypal.orders["O-9"] = paypal_api.order("O-9", "C-9", business_id=9999)
    response = await post_paypal(shop, paypal_api.capture_completed("C-9", "O-9"))
    assert response.status_code == 400
    assert await booking_ids(shop) == []


async def test_a_paid_order_whose_start_has_passed_is_booked_and_flagged(shop: Shop) -> None:
    past = "2026-11-25T08:00:00-05:00"  # 13:00 UTC: an hour before now
    shop.paypal.orders["O-1"] = paypal_api.order(
        "O-1", "C-1", business_id=shop.salon.id, start=past
    )
    response = await post_paypal(shop, paypal_api.capture_completed("C-1", "O-1"))
    assert response.status_code == 200 and response.json() == {"outcome": "created"}
    raw = inkress_event("order.paid", start="2026-11-25T08:30:00-05:00")
    assert (await post_inkress(shop, raw, signed(raw))).json() == {"outcome": "created"}
    salon_booking, spa_booking = await booking_ids(shop)
    for booking_id, key in ((salon_booking, PLUM_KEY), (spa_booking, "jp_test_key_spa")):
        booking = await shown(shop, booking_id, key)
        assert booking["status"] == "pending"
        assert booking["needs_review"] is True
        assert booking["review_reason"] == "Paid for an appointment that had already started."
    await deliver_mail(shop)
    (owner_mail, _) = shop.smtp.mailbox.of_kind("owner-new-booking")
    assert "Check the payment: Paid for an appointment that had already started." in plain(
        owner_mail
    )
    # The intake API still refuses a start that has passed.
    body = {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45},
        "start": past,
        "payment": {
            "provider": "paypal",
            "transaction_id": "T-P",
            "amount": "45",
            "currency": "USD",
        },
    }
    made = await shop.http.post(
        "/api/bookings", json=body, headers={"Authorization": f"Bearer {PLUM_KEY}"}
    )
    assert made.status_code == 422  # as before: the intake API never books the past


async def test_the_owner_email_says_cash_is_due_and_shows_why_a_payment_is_flagged(
    shop: Shop,
) -> None:
    body = {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
        "start": START,
        "payment": {"provider": "cash", "amount": "45.00", "currency": "USD"},
    }
    made = await shop.http.post(
        "/api/bookings", json=body, headers={"Authorization": f"Bearer {PLUM_KEY}"}
    )
    assert made.status_code == 201
    await deliver_mail(shop)
    (cash,) = shop.smtp.mailbox.of_kind("owner-new-booking")
    assert "US$45.00 is due at the appointment (cash)." in plain(cash)
    assert "has paid" not in plain(cash) and "Check the payment" not in plain(cash)

    sold(shop)
    await post_paypal(
        shop,
        paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T", value="40.00"),
    )
    await deliver_mail(shop)
    _, flagged = shop.smtp.mailbox.of_kind("owner-new-booking")
    text = plain(flagged)
    assert "The customer has paid." in text
    assert "Check the payment: Paid US$40.00, but the service's price is US$45.00." in text
    html = flagged.get_body(("html",))
    assert html is not None and "Check the payment" in html.get_content()


async def test_the_cancelled_email_shows_a_partial_refund_as_what_it_was(shop: Shop) -> None:
    sold(shop)
    await post_paypal(shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T"))
    (booking_id,) = await booking_ids(shop)
    await post_paypal(shop, paypal_api.capture_refunded("2GG279541U471931P", "R-1", value="20.00"))
    await shop.services.desk.act(shop.salon, booking_id, Move.CANCEL, OWNER)
    await deliver_mail(shop)
    await deliver_mail(shop)
    (cancelled,) = shop.smtp.mailbox.of_kind("cancelled")
    text = " ".join(plain(cancelled).split())
    assert "US$20.00 (of US$45.00 paid) (PayPal, transaction 2GG279541U471931P)" in text
    assert "Your payment of US$45.00" not in text
    html = cancelled.get_body(("html",))
    assert html is not None and "(of US$45.00 paid)" in html.get_content()


async def test_another_business_can_not_claim_a_paypal_capture(shop: Shop) -> None:
    """The spa's API key makes a booking with the salon's capture id: the salon's capture
    still makes the salon's booking, and its refund goes to it."""
    body = {
        "customer": {"name": "Mallory", "email": "m@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45},
        "start": START,
        "payment": {
            "provider": "paypal",
            "transaction_id": "2GG279541U471931P",
            "amount": "45.00",
            "currency": "USD",
        },
    }
    claimed = await shop.http.post(
        "/api/bookings", json=body, headers={"Authorization": "Bearer jp_test_key_spa"}
    )
    assert claimed.status_code == 201
    sold(shop)
    response = await post_paypal(
        shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    )
    assert response.json() == {"outcome": "created"}
    claim_id, real_id = await booking_ids(shop)
    assert claim_id == claimed.json()["id"]
    assert (await shown(shop, real_id))["customer"]["name"] == "Ana Silva"
    refund = paypal_api.capture_refunded("2GG279541U471931P", "R-1")
    assert (await post_paypal(shop, refund)).json() == {"outcome": "refunded"}
    assert (await shown(shop, real_id))["refund"]["state"] == "issued"
    assert (await shown(shop, claim_id, "jp_test_key_spa"))["refund"]["state"] == "none"


async def test_two_businesses_inkress_event_ids_do_not_collide(shop: Shop) -> None:
    spa = inkress_event("order.paid", event_id="evt_01")
    salon = inkress_event("order.paid", event_id="evt_01", reference="SALON-REF-1")
    assert (await post_inkress(shop, spa, signed(spa))).json() == {"outcome": "created"}
    response = await shop.http.post(
        f"/webhooks/inkress/{shop.salon.id}", content=salon, headers=signed(salon, OTHER_SECRET)
    )
    assert response.status_code == 200 and response.json() == {"outcome": "created"}
    assert len(await booking_ids(shop)) == 2


@pytest.mark.parametrize(
    ("where", "status", "body"),
    [
        ("verify", 200, "<html>Service Unavailable</html>"),
        ("verify", 200, '{"verification_status": "PENDING"}'),
        ("verify", 429, '{"name": "RATE_LIMIT_REACHED"}'),
        ("verify", 503, '{"name": "SERVICE_UNAVAILABLE"}'),
        ("verify", 400, '{"name": "VALIDATION_ERROR"}'),
        ("order", 429, '{"name": "RATE_LIMIT_REACHED"}'),
        ("order", 200, "not json"),
        ("order", 502, "Bad Gateway"),
    ],
)
async def test_paypal_answering_badly_is_503_never_401_or_400(
    shop: Shop, where: str, status: int, body: str
) -> None:
    sold(shop)
    setattr(shop.paypal, f"{where}_answer", (status, body))
    event = paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T")
    response = await post_paypal(shop, event)
    assert response.status_code == 503, response.text
    assert await booking_ids(shop) == []
    assert await count(shop.services, payment_events) == 0
    setattr(shop.paypal, f"{where}_answer", None)
    assert (await post_paypal(shop, event)).json() == {"outcome": "created"}


async def test_a_refund_in_another_currency_is_not_added_but_flagged(shop: Shop) -> None:
    code = await shop.services.chat.issue_link_code(shop.salon.id)
    await shop.services.chat.link(SALON_CHAT, Person("U1", "Riley"), code)
    sold(shop)
    await post_paypal(shop, paypal_api.capture_completed("2GG279541U471931P", "5O190127TN364715T"))
    (booking_id,) = await booking_ids(shop)
    refund = paypal_api.capture_refunded("2GG279541U471931P", "R-EUR", value="20.00")
    refund["resource"]["amount"]["currency_code"] = "EUR"
    response = await post_paypal(shop, refund)
    assert response.status_code == 200 and response.json() == {"outcome": "flagged"}
    booking = await shown(shop, booking_id)
    assert booking["refund"]["state"] == "none"
    assert booking["payment"]["status"] == "paid"
    assert booking["needs_review"] is True
    assert booking["review_reason"] == (
        "PayPal reported a refund of €20.00, but the payment was in USD: "
        "it isn't counted as a refund."
    )
    assert (await post_paypal(shop, refund)).json() == {"outcome": "repeat"}
    rows = await shop.services.db.read(
        lambda conn: conn.execute(
            select(payment_events.c.booking_id, payment_events.c.currency).where(
                payment_events.c.kind == "refunded"
            )
        ).all()
    )
    assert [tuple(r) for r in rows] == [(booking_id, "EUR")]
