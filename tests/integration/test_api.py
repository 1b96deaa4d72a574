"""The intake API over real HTTP: a real uvicorn server on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select

from bot.api import build_api
from bot.app import Services
from bot.health import Health
from core.clock import FixedClock
from core.events import EventKind
from core.lifecycle import Move
from core.model import Business
from storage.tables import booking_history, bookings, events, intake_keys
from tests.conftest import OWNER
from tests.integration.http_server import serving

PLUM = {"Authorization": "Bearer jp_test_key_plum"}
KIWI = {"Authorization": "Bearer jp_test_key_kiwi"}
# 10:00 in New York on Thursday 26 November 2026: the day after the suite's fixed "now".
START = "2026-11-26T10:00:00-05:00"
START_UTC = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
ONE_MIB = 1024 * 1024

GOOD: dict[str, Any] = {
    "customer": {"name": "Ana Silva", "email": "ana@example.com", "phone": "+1 555 0100"},
    "service": {"name": "Colour and cut", "duration_minutes": 90, "price": "4500.00"},
    "start": START,
    "payment": {
        "provider": "paypal",
        "transaction_id": "9XK12345AB678901C",
        "amount": "4500.00",
        "currency": "usd",
    },
    "notes": "First visit",
}


def good(**changes: Any) -> dict[str, Any]:
    """The good body with some parts replaced: good(payment={...}) or good(**{"a.b": v})."""
    body = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        part = body
        for name in parents:
            part = part[name]
        part[last] = value
    return body


def without(part: str) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    del body[part]
    return body


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def api(
    services: Services, business: Business, other_business: Business
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the real app behind a real uvicorn on 127.0.0.1 (no proxies, no mocks)."""
    async with (
        serving(
            build_api(
                services.desk,
                services.businesses,
                Health(services.db),
                max_body_bytes=services.settings.max_body_bytes,
                payments=services.payments,
            )
        ) as url,
        httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as client,
    ):
        yield client


async def count(services: Services, table: Table, **where: object) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return await services.db.read(lambda conn: int(conn.execute(query).scalar_one()))


async def written(services: Services) -> dict[str, int]:
    """How many rows each table the intake writes to holds."""
    return {
        t.name: await count(services, t) for t in (bookings, events, booking_history, intake_keys)
    }


NOTHING = {"bookings": 0, "events": 0, "booking_history": 0, "intake_keys": 0}


async def stored(services: Services, booking_id: int) -> Any:
    query = select(bookings).where(bookings.c.id == booking_id)
    return await services.db.read(lambda conn: conn.execute(query).one())


async def history_rows(services: Services, booking_id: int) -> list[Any]:
    query = (
        select(booking_history)
        .where(booking_history.c.booking_id == booking_id)
        .order_by(booking_history.c.id)
    )
    return await services.db.read(lambda conn: list(conn.execute(query).all()))


async def create(api: httpx.AsyncClient, body: dict[str, Any] | None = None, **headers: str) -> int:
    response = await api.post("/api/bookings", json=body or GOOD, headers={**PLUM, **headers})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def locs(response: httpx.Response) -> list[list[Any]]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    assert all(d["msg"] for d in detail), detail
    return [d["loc"] for d in detail]


# --- creating ---------------------------------------------------------------------------------


async def test_a_good_booking_is_created_pending_with_its_history_and_event(
    api: httpx.AsyncClient, services: Services, business: Business
) -> None:
    response = await api.post("/api/bookings", json=GOOD, headers=PLUM)

    assert response.status_code == 201, response.text
    out = response.json()
    assert isinstance(out["id"], int)
    assert out["status"] == "pending"
    assert out["payment"] == {
        "provider": "paypal",
        "transaction_id": "9XK12345AB678901C",
        "amount": "4500.00",
        "currency": "USD",
        "status": "paid",
    }
    assert out["start_local"] == "2026-11-26T10:00:00-05:00"
    assert [(h["from_status"], h["to_status"], h["by"]) for h in out["history"]] == [
        (None, "pending", "booking page")
    ]
    assert await written(services) == {**NOTHING, "bookings": 1, "events": 1, "booking_history": 1}
    row = await stored(services, out["id"])
    assert (row.business_id, row.status, row.amount, row.currency) == (
        business.id,
        "pending",
        Decimal("4500.00"),
        "USD",
    )
    assert row.start_at == START_UTC


@pytest.mark.parametrize(
    "amount", ['"4500.00"', "4500.00", "4500"], ids=["string", "decimal", "int"]
)
async def test_money_is_accepted_as_a_string_or_a_json_number(
    api: httpx.AsyncClient, services: Services, amount: str
) -> None:
    text = raw(GOOD).decode().replace('"amount": "4500.00"', f'"amount": {amount}')
    assert f'"amount": {amount}' in text

    response = await api.post("/api/bookings", content=text, headers={**PLUM, **JSON})

    assert response.status_code == 201, response.text
    assert Decimal(response.json()["payment"]["amount"]) == Decimal("4500")
    assert (await stored(services, response.json()["id"])).amount == Decimal("4500")


async def test_a_repeated_idempotency_key_returns_the_first_booking(
    api: httpx.AsyncClient, services: Services
) -> None:
    headers = {**PLUM, "Idempotency-Key": "order-77"}
    first = await api.post("/api/bookings", json=GOOD, headers=headers)
    again = await api.post("/api/bookings", json=GOOD, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "pending"
    assert await written(services) == {
        "bookings": 1,
        "events": 1,
        "booking_history": 1,
        "intake_keys": 1,
    }


async def test_the_same_payment_sent_again_without_a_key_returns_the_first_booking(
    api: httpx.AsyncClient, services: Services
) -> None:
    first = await api.post("/api/bookings", json=GOOD, headers=PLUM)
    again = await api.post("/api/bookings", json=GOOD, headers=PLUM)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert await written(services) == {**NOTHING, "bookings": 1, "events": 1, "booking_history": 1}


async def test_another_payment_makes_another_booking(
    api: httpx.AsyncClient, services: Services
) -> None:
    first = await create(api)
    second = await create(api, good(**{"payment.transaction_id": "OTHER-1"}))

    assert second != first
    assert await count(services, bookings) == 2


async def test_a_reused_idempotency_key_with_another_body_is_refused(
    api: httpx.AsyncClient, services: Services
) -> None:
    headers = {**PLUM, "Idempotency-Key": "order-78"}
    first = await create(api, GOOD, **headers)
    changed = good(**{"payment.transaction_id": "ANOTHER-TX", "payment.amount": "10.00"})

    response = await api.post("/api/bookings", json=changed, headers=headers)

    assert response.status_code == 422, response.text
    assert locs(response) == [["header", "Idempotency-Key"]]
    assert await count(services, bookings) == 1
    assert (await stored(services, first)).transaction_id == "9XK12345AB678901C"


async def test_a_retry_that_writes_the_same_amount_and_start_differently_is_the_same_request(
    api: httpx.AsyncClient, services: Services
) -> None:
    headers = {**PLUM, "Idempotency-Key": "order-79"}
    first = await create(api, GOOD, **headers)
    # The same meaning, spelt another way: numbers for money, the start in UTC.
    retry = good(
        **{"payment.amount": 4500, "service.price": 4500.0, "start": "2026-11-26T15:00:00Z"}
    )

    response = await api.post("/api/bookings", json=retry, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == first
    assert await count(services, bookings) == 1


@pytest.mark.parametrize("key", ["order-80", None], ids=["same-key", "same-payment"])
async def test_identical_requests_at_once_make_one_booking(
    api: httpx.AsyncClient, services: Services, key: str | None
) -> None:
    headers = {**PLUM, **({"Idempotency-Key": key} if key else {})}

    responses = await asyncio.gather(
        *(api.post("/api/bookings", json=GOOD, headers=headers) for _ in range(4))
    )

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(services, bookings) == 1
    assert await count(services, events) == 1
    assert await count(services, booking_history) == 1


# --- refusing bad input -----------------------------------------------------------------------

INVALID = [
    pytest.param(b'{"customer": {"name": "Ana",', ["body", 28], id="bad-json"),
    pytest.param(b"", ["body"], id="no-body"),
    pytest.param(b'{"notes": "\xff"}', ["body", 11], id="not-utf-8"),
    pytest.param(b"[]", ["body"], id="not-an-object"),
    pytest.param(raw(good(start="2026-02-30T10:00:00+00:00")), ["body", "start"], id="no-such-day"),
    pytest.param(raw(good(start="2026-11-26T10:00:00")), ["body", "start"], id="no-offset"),
    pytest.param(
        raw(good(**{"customer.name": "A" * 5000})), ["body", "customer", "name"], id="long"
    ),
    pytest.param(
        raw(good(**{"customer.email": "ana-at-example"})), ["body", "customer", "email"], id="email"
    ),
    pytest.param(raw(without("payment")), ["body", "payment"], id="no-payment"),
    pytest.param(
        raw(good(**{"payment.provider": "venmo"})),
        ["body", "payment", "provider"],
        id="unknown-provider",
    ),
    pytest.param(raw(good(start="2026-11-25T08:59:00-05:00")), ["body", "start"], id="past"),
    pytest.param(
        raw(good(**{"payment.currency": "ABC"})),
        ["body", "payment", "currency"],
        id="not-iso-4217",
    ),
    pytest.param(
        raw(good(**{"payment.currency": "DEM"})),
        ["body", "payment", "currency"],
        id="withdrawn-currency",
    ),
    pytest.param(
        raw(good(**{"payment.currency": "XTS"})),
        ["body", "payment", "currency"],
        id="testing-code",
    ),
]


@pytest.mark.parametrize(("content", "loc"), INVALID)
async def test_an_invalid_booking_is_refused_naming_the_field(
    api: httpx.AsyncClient, services: Services, content: bytes, loc: list[Any]
) -> None:
    response = await api.post("/api/bookings", content=content, headers={**PLUM, **JSON})

    assert response.status_code == 422, response.text
    assert loc in locs(response)
    assert await written(services) == NOTHING


async def test_an_overlong_idempotency_key_is_refused_naming_the_header(
    api: httpx.AsyncClient, services: Services
) -> None:
    headers = {**PLUM, "Idempotency-Key": "k" * 256}

    response = await api.post("/api/bookings", json=GOOD, headers=headers)

    assert response.status_code == 422, response.text
    assert locs(response) == [["header", "idempotency-key"]]
    assert await written(services) == NOTHING


async def test_a_body_that_is_not_json_is_refused_as_fastapi_refuses_it(
    api: httpx.AsyncClient, services: Services
) -> None:
    for content_type in ("text/plain", None):
        headers = {**PLUM, **({"Content-Type": content_type} if content_type else {})}
        response = await api.post("/api/bookings", content=raw(GOOD), headers=headers)
        assert response.status_code == 422, response.text
        assert locs(response) == [["body"]]
    problem_json = {**PLUM, "Content-Type": "application/problem+json; charset=utf-8"}
    assert (
        await api.post("/api/bookings", content=raw(GOOD), headers=problem_json)
    ).status_code == 201


async def test_every_bad_header_and_field_is_named_in_one_answer(
    api: httpx.AsyncClient, services: Services
) -> None:
    headers = {**PLUM, "Idempotency-Key": "k" * 256}
    body = good(**{"customer.email": "ana-at-example", "payment.provider": "venmo"})

    response = await api.post("/api/bookings", json=body, headers=headers)

    assert response.status_code == 422, response.text
    assert locs(response) == [
        ["header", "idempotency-key"],
        ["body", "customer", "email"],
        ["body", "payment", "provider"],
    ]
    assert await written(services) == NOTHING


async def test_json_nested_past_any_parser_is_a_422_not_a_crash(
    api: httpx.AsyncClient, services: Services
) -> None:
    response = await api.post("/api/bookings", content=b"[" * 100_000, headers={**PLUM, **JSON})

    assert response.status_code == 422, response.text
    assert locs(response)[0][0] == "body"
    assert await written(services) == NOTHING


async def test_the_api_key_is_checked_before_the_body(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/bookings", content=b"{not json", headers=JSON)

    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer jp_test_key_fig"}, id="wrong"),
        pytest.param({"Authorization": "Basic jp_test_key_plum"}, id="not-bearer"),
        pytest.param({"Authorization": "jp_test_key_plum"}, id="bare-key"),
        pytest.param({"Authorization": "Bearer"}, id="no-token"),
    ],
)
async def test_a_request_without_a_good_api_key_is_refused(
    api: httpx.AsyncClient, services: Services, headers: dict[str, str]
) -> None:
    booking_id = await create(api)
    before = await written(services)

    posted = await api.post(
        "/api/bookings", json=good(**{"payment.transaction_id": "X"}), headers=headers
    )
    shown = await api.get(f"/api/bookings/{booking_id}", headers=headers)
    cancelled = await api.post(f"/api/bookings/{booking_id}/cancel", headers=headers)

    for response in (posted, shown, cancelled):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "API key" in response.json()["detail"]
        assert "jp_test_key" not in response.text
    assert await written(services) == before
    assert (await stored(services, booking_id)).status == "pending"


async def test_another_business_s_booking_is_not_found(
    api: httpx.AsyncClient, services: Services
) -> None:
    booking_id = await create(api)
    before = await written(services)

    shown = await api.get(f"/api/bookings/{booking_id}", headers=KIWI)
    cancelled = await api.post(
        f"/api/bookings/{booking_id}/cancel", json={"reason": "not mine"}, headers=KIWI
    )

    for response in (shown, cancelled):
        assert response.status_code == 404, response.text
        assert response.json() == {
            "detail": f"There is no booking #{booking_id}. Try `all` or `search <name>`."
        }
    assert await written(services) == before
    assert (await stored(services, booking_id)).status == "pending"


async def test_an_unknown_booking_is_not_found(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/bookings/999999", headers=PLUM)).status_code == 404
    assert (await api.post("/api/bookings/999999/cancel", headers=PLUM)).status_code == 404


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b" " * min(size, total - sent)
        sent += len(chunk)
        yield chunk


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_one_mebibyte_is_refused(
    api: httpx.AsyncClient, services: Services, chunked: bool
) -> None:
    assert services.settings.max_body_bytes == ONE_MIB
    padding = ONE_MIB + 1 - len(raw(GOOD))
    content: bytes | AsyncIterator[bytes]
    if chunked:

        async def body() -> AsyncIterator[bytes]:
            yield raw(GOOD)
            async for chunk in _chunks(padding):
                yield chunk

        content = body()
    else:
        content = raw(GOOD) + b" " * padding

    response = await api.post("/api/bookings", content=content, headers={**PLUM, **JSON})

    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"Request body is over {ONE_MIB} bytes."}
    sent = response.request.headers
    if chunked:
        assert "content-length" not in sent
        assert sent["transfer-encoding"] == "chunked"
    else:
        assert sent["content-length"] == str(ONE_MIB + 1)
    assert await written(services) == NOTHING


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_of_exactly_one_mebibyte_is_read(
    api: httpx.AsyncClient, services: Services, chunked: bool
) -> None:
    padding = ONE_MIB - len(raw(GOOD))  # trailing whitespace is still valid JSON
    content: bytes | AsyncIterator[bytes]
    if chunked:

        async def body() -> AsyncIterator[bytes]:
            yield raw(GOOD)
            async for chunk in _chunks(padding):
                yield chunk

        content = body()
    else:
        content = raw(GOOD) + b" " * padding

    response = await api.post("/api/bookings", content=content, headers={**PLUM, **JSON})

    assert response.status_code == 201, response.text
    assert await count(services, bookings) == 1


# --- reading and cancelling -------------------------------------------------------------------


async def test_a_booking_is_shown_with_its_history(api: httpx.AsyncClient) -> None:
    booking_id = await create(api)

    response = await api.get(f"/api/bookings/{booking_id}", headers=PLUM)

    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["id"], out["status"], out["notes"]) == (booking_id, "pending", "First visit")
    assert out["customer"] == {
        "name": "Ana Silva",
        "email": "ana@example.com",
        "phone": "+1 555 0100",
    }
    assert out["service"] == {"name": "Colour and cut", "duration_minutes": 90, "price": "4500.00"}
    assert datetime.fromisoformat(out["start"]) == START_UTC
    assert datetime.fromisoformat(out["end"]) == datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    assert [
        (h["from_status"], h["to_status"], h["by"], h["channel"], h["reason"])
        for h in out["history"]
    ] == [(None, "pending", "booking page", "api", None)]


@pytest.mark.parametrize(
    ("send", "reason"),
    [
        pytest.param(
            {"json": {"reason": "  Down with the flu  "}}, "Down with the flu", id="reason"
        ),
        pytest.param({"json": {}}, None, id="empty-object"),
        pytest.param({}, None, id="no-body"),
    ],
)
async def test_a_customer_can_cancel_with_or_without_a_reason(
    api: httpx.AsyncClient, services: Services, send: dict[str, Any], reason: str | None
) -> None:
    booking_id = await create(api)

    response = await api.post(f"/api/bookings/{booking_id}/cancel", headers=PLUM, **send)

    assert response.status_code == 200, response.text
    out = response.json()
    assert out["status"] == "cancelled"
    last = out["history"][-1]
    assert (last["from_status"], last["to_status"], last["by"], last["channel"]) == (
        "pending",
        "cancelled",
        "Ana Silva",
        "api",
    )
    assert last["reason"] == reason
    assert (await stored(services, booking_id)).status == "cancelled"
    entries = await history_rows(services, booking_id)
    assert [(h.actor_kind, h.to_status, h.reason) for h in entries] == [
        ("system", "pending", None),
        ("customer", "cancelled", reason),
    ]
    assert await count(services, events, kind=EventKind.CANCELLED.value) == 1


async def test_cancelling_a_cancelled_booking_again_is_harmless(
    api: httpx.AsyncClient, services: Services
) -> None:
    booking_id = await create(api)
    url = f"/api/bookings/{booking_id}/cancel"
    first = await api.post(url, json={"reason": "flu"}, headers=PLUM)

    again = await api.post(url, json={"reason": "still flu"}, headers=PLUM)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "cancelled"
    assert again.json()["history"] == first.json()["history"]
    assert await count(services, booking_history) == 2
    assert await count(services, events) == 2


async def test_a_completed_booking_cannot_be_cancelled(
    api: httpx.AsyncClient, services: Services, business: Business
) -> None:
    booking_id = await create(api)
    await services.desk.act(business, booking_id, Move.CONFIRM, OWNER)
    await services.desk.act(business, booking_id, Move.COMPLETE, OWNER)

    response = await api.post(
        f"/api/bookings/{booking_id}/cancel", json={"reason": "changed my mind"}, headers=PLUM
    )

    assert response.status_code == 409, response.text
    assert isinstance(response.json()["detail"], str)
    assert "completed" in response.json()["detail"]
    assert (await stored(services, booking_id)).status == "completed"
    assert await count(services, booking_history) == 3
    assert await count(services, events) == 3


async def test_a_booking_that_has_started_can_no_longer_be_cancelled_online(
    api: httpx.AsyncClient, services: Services, clock: FixedClock
) -> None:
    booking_id = await create(api)
    clock.set(START_UTC)

    response = await api.post(f"/api/bookings/{booking_id}/cancel", headers=PLUM)

    assert response.status_code == 409, response.text
    assert "already started" in response.json()["detail"]
    assert (await stored(services, booking_id)).status == "pending"
    assert await count(services, booking_history) == 1


async def test_health_and_the_api_description_need_no_key(api: httpx.AsyncClient) -> None:
    health = await api.get("/healthz")
    described = await api.get("/openapi.json")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert described.status_code == 200
    paths = described.json()["paths"]
    assert {
        "/api/bookings",
        "/api/bookings/{booking_id}",
        "/api/bookings/{booking_id}/cancel",
    } <= set(paths)
    assert "/healthz" not in paths
    intake = paths["/api/bookings"]["post"]
    body = intake["requestBody"]["content"]["application/json"]["schema"]
    schemas = described.json()["components"]["schemas"]
    assert body == {"$ref": "#/components/schemas/BookingIn"}
    assert {"customer", "service", "start", "payment"} <= set(schemas["BookingIn"]["required"])
    assert {p["name"] for p in intake["parameters"]} == {"authorization", "idempotency-key"}
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', described.text))
    assert refs <= set(schemas)  # every schema referred to is described


# --- logging ----------------------------------------------------------------------------------


EVENT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[\w+\s*\] (api\.\w+)")


async def test_handled_errors_are_logged_on_one_line_without_a_traceback(
    api: httpx.AsyncClient,
    services: Services,
    business: Business,
    capfd: pytest.CaptureFixture[str],
    process_logs: Callable[[], None],
) -> None:
    process_logs()
    booking_id = await create(api, GOOD, **{"Idempotency-Key": "order-81"})
    await services.desk.act(business, booking_id, Move.CONFIRM, OWNER)
    await services.desk.act(business, booking_id, Move.COMPLETE, OWNER)
    capfd.readouterr()
    over = raw(GOOD) + b" " * ONE_MIB

    async def chunked() -> AsyncIterator[bytes]:
        yield over

    refused = [
        await api.get(f"/api/bookings/{booking_id}"),
        await api.get(f"/api/bookings/{booking_id}", headers=KIWI),
        await api.post(f"/api/bookings/{booking_id}/cancel", headers=PLUM),
        await api.post("/api/bookings", content=over, headers={**PLUM, **JSON}),
        await api.post("/api/bookings", content=chunked(), headers={**PLUM, **JSON}),
        await api.post("/api/bookings", content=b"{nope", headers={**PLUM, **JSON}),
        await api.post(
            "/api/bookings",
            json=good(**{"start": "2020-01-01T00:00:00Z", "payment.transaction_id": "OLD-1"}),
            headers=PLUM,
        ),
        await api.post(
            "/api/bookings",
            json=good(notes="changed"),
            headers={**PLUM, "Idempotency-Key": "order-81"},
        ),
    ]

    assert [r.status_code for r in refused] == [401, 404, 409, 413, 413, 422, 422, 422]
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "Exception in ASGI application" not in err
    events_logged = [m.group(1) for m in map(EVENT_LINE.match, err.splitlines()) if m]
    assert events_logged == [
        "api.unauthorized",
        "api.refused",
        "api.refused",
        "api.too_large",
        "api.too_large",
        "api.invalid",
        "api.refused",
        "api.refused",
    ], err
    assert "jp_test_key" not in err


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/bookings/99999999999999999999", 422), (f"/api/bookings/{2**63}", 422),
     ("/api/bookings/0", 422), (f"/api/bookings/{2**63 - 1}", 404)],
)  # fmt: skip
async def test_a_booking_number_out_of_range_is_refused_not_a_crash(
    api: httpx.AsyncClient, path: str, status: int
) -> None:
    assert (await api.get(path, headers=PLUM)).status_code == status


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer.name": "Ana\x00"}, ["body", "customer", "name"]),
        ({"customer.name": "Ana \x1b[2J"}, ["body", "customer", "name"]),
        ({"notes": "bring \x1b]0;x"}, ["body", "notes"]),
        ({"payment.transaction_id": "T\r\nX"}, ["body", "payment", "transaction_id"]),
        ({"customer.email": "josé@example.com"}, ["body", "customer", "email"]),
        ({"start": "9999-12-31T23:30:00Z"}, ["body", "start"]),
        ({"start": "2031-01-01T10:00:00Z"}, ["body", "start"]),
    ],
)
async def test_text_that_could_harm_a_terminal_or_a_mail_header_is_refused(
    api: httpx.AsyncClient, services: Services, changes: dict[str, Any], field: list[str]
) -> None:
    response = await api.post("/api/bookings", json=good(**changes), headers=PLUM)
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [field]
    assert await count(services, bookings) == 0


async def test_notes_may_span_lines(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/bookings", json=good(notes="line one\r\nline two"), headers=PLUM
    )
    assert response.status_code == 201
    assert response.json()["notes"] == "line one\nline two"


async def test_a_retry_after_the_start_still_returns_the_booking(
    api: httpx.AsyncClient, services: Services
) -> None:
    first = await api.post("/api/bookings", json=good(), headers=PLUM)
    assert first.status_code == 201
    services.clock.set(datetime.fromisoformat(first.json()["start"]) + timedelta(hours=1))  # type: ignore[attr-defined]
    again = await api.post("/api/bookings", json=good(), headers=PLUM)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


async def test_every_route_answers_a_body_that_is_not_utf8_or_not_json_with_422(
    api: httpx.AsyncClient, services: Services
) -> None:
    booking_id = await create(api)
    bad_bodies = [
        b"\x80\x81 not text",  # not UTF-8 (a fuzzer's cancel got a 400 for these)
        b"\xff\xfe\xfa not text",  # a UTF-16 byte-order mark, then not text
        b"{not json",
        b'{"reason": "unfinished',
    ]
    for path in ("/api/bookings", f"/api/bookings/{booking_id}/cancel"):
        for body in bad_bodies:
            response = await api.post(path, content=body, headers={**PLUM, **JSON})
            assert response.status_code == 422, (path, body, response.text)
            [problem] = response.json()["detail"]
            assert problem["loc"][0] == "body" and problem["type"] == "json_invalid"
    assert (await stored(services, booking_id)).status == "pending"  # nothing was cancelled


async def test_the_api_description_matches_the_api(
    api: httpx.AsyncClient, clock: FixedClock
) -> None:
    described = (await api.get("/openapi.json")).json()
    intake = described["paths"]["/api/bookings"]["post"]["responses"]
    assert {"200", "201", "401", "422", "503"} <= set(intake)
    assert "Retry-After" in intake["503"]["headers"]
    schemas = described["components"]["schemas"]
    currency = json.dumps(schemas["PaymentIn"]["properties"]["currency"])
    assert "ISO 4217" in currency and "XXX" in currency
    assert "decimal string" in json.dumps(schemas["PaymentIn"]["properties"]["amount"])
    assert "control characters" in json.dumps(schemas["CustomerIn"]["properties"]["name"])
    # The example is a booking the API takes today, as it is described.
    example = schemas["BookingIn"]["example"]
    assert datetime.fromisoformat(example["start"]) > datetime.now(UTC)
    clock.set(datetime.now(UTC))
    taken = await api.post("/api/bookings", json=example, headers=PLUM)
    assert taken.status_code == 201, taken.text
    again = await api.post("/api/bookings", json=example, headers=PLUM)
    assert again.status_code == 200  # the documented repeat


async def test_a_start_that_is_a_number_is_refused_not_taken_for_1970(
    api: httpx.AsyncClient,
) -> None:
    await create(api)  # a fuzzer's repeat of this payment, with start 0, got a 200
    response = await api.post("/api/bookings", json=good(start=0), headers=PLUM)
    assert response.status_code == 422
    assert locs(response) == [["body", "start"]]


async def test_the_api_shows_a_no_show_and_its_history(
    api: httpx.AsyncClient, services: Services, business: Business
) -> None:
    booking_id = await create(api)
    assert isinstance(services.clock, FixedClock)
    services.clock.advance(seconds=(START_UTC - services.clock.now()).total_seconds() + 600)
    await services.desk.act(business, booking_id, Move.NO_SHOW, OWNER)

    shown = await api.get(f"/api/bookings/{booking_id}", headers=PLUM)

    assert shown.status_code == 200
    assert shown.json()["status"] == "no_show"
    assert shown.json()["history"][-1]["from_status"] == "pending"
    assert shown.json()["history"][-1]["to_status"] == "no_show"
