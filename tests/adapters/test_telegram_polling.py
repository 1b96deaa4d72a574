"""The Telegram adapter by long polling (no PUBLIC_URL): updates handed out by the local Bot
API's getUpdates; a second instance told 409 Conflict; `juneplum serve` itself with a
Telegram token, stopped by SIGTERM; the token in no log line; settings refused at start-up."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bot.app import Services
from bot.errors import CannotStart
from bot.settings import Settings
from bot.telegram.surface import TelegramSurface
from core.clock import FixedClock
from core.lifecycle import Status
from tests.conftest import _plum_salon
from tests.integration.http_server import serving
from tests.telegram_api import TOKEN, FakeBotApi, Served, message, served, tap

OWNER_CHAT = 501
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"  # noqa: E501
JUNEPLUM = str(Path(sys.executable).parent / "juneplum")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    async with serving(fake.app) as url:
        fake.url = url
        yield fake
        await fake.close()


@pytest.fixture
async def bot(
    database_url: str, clock: FixedClock, tmp_path: Path, api: FakeBotApi
) -> AsyncIterator[Served]:
    async with served(database_url, clock, tmp_path, api, webhook=False) as running:
        yield running


async def until(check: object, within: float = 5.0) -> float:
    """Wait for `check()` to hold; how long it took."""
    began = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - began > within:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def test_polling_links_the_chat_and_answers_taps_from_get_updates(bot: Served) -> None:
    assert bot.surface.polling
    assert "deleteWebhook" in bot.api.methods() and not bot.api.called("setWebhook")
    salon = await _plum_salon(bot.services)
    code = await bot.services.chat.issue_link_code(salon.id)
    await bot.api.push(message(OWNER_CHAT, f"/start {code}"))
    (linked,) = await bot.api.wait_for("sendMessage")
    assert "now linked to “Plum Salon”" in linked.text
    booking_id = await bot.book(salon)
    await bot.deliver()
    await bot.api.push(tap(OWNER_CHAT, 2, f"confirm:{booking_id}:pending"))
    (toast,) = await bot.api.wait_for("answerCallbackQuery")
    assert f"#{booking_id} confirmed" in toast.params["text"]
    await bot.api.wait_for("editMessageText")
    assert (await bot.services.desk.booking(salon, booking_id)).status is Status.CONFIRMED
    offsets = [c.params.get("offset") for c in bot.api.called("getUpdates")]
    assert offsets == sorted(offsets, key=lambda o: o or 0)  # each update taken once


async def test_a_second_instance_told_409_at_its_start_stops_polling_and_says_why(
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
    api: FakeBotApi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.fail_next("getUpdates", 409, CONFLICT, times=100)
    async with served(database_url, clock, tmp_path, api, webhook=False) as second:
        took = await until(lambda: not second.surface.polling)
        assert took < 5
        await asyncio.sleep(1.5)  # its last getUpdates, confirming the offset, has gone out
        polls = len(api.called("getUpdates"))
        await asyncio.sleep(1.5)
        assert len(api.called("getUpdates")) == polls  # it stopped asking
    out = capsys.readouterr().out
    assert "telegram.polling_conflict" in out and "another instance is polling" in out


async def test_the_instance_already_running_carries_on_through_a_409(bot: Served) -> None:
    bot.surface.conflict_window = 0.0  # it has been polling for longer than the window
    bot.api.fail_next("getUpdates", 409, CONFLICT, times=2)
    await bot.api.wait_for("getUpdates", len(bot.api.called("getUpdates")) + 3)
    assert bot.surface.polling
    salon = await _plum_salon(bot.services)
    code = await bot.services.chat.issue_link_code(salon.id)
    await bot.api.push(message(OWNER_CHAT, f"/start {code}"))
    (linked,) = await bot.api.wait_for("sendMessage")
    assert "now linked" in linked.text


async def test_stop_ends_a_long_poll_within_a_second(
    database_url: str, clock: FixedClock, tmp_path: Path, api: FakeBotApi
) -> None:
    async with served(database_url, clock, tmp_path, api, webhook=False) as running:
        await api.wait_for("getUpdates")
        await asyncio.sleep(0.2)  # the long poll (10 s) is in flight
        began = time.monotonic()
        await running.surface.stop()
        assert time.monotonic() - began < 1.0
        assert not running.surface.polling


async def test_a_token_telegram_refuses_stops_start_up_with_a_clear_message(
    services: Services, api: FakeBotApi
) -> None:
    surface = TelegramSurface("123:not-the-token", services.chat, api_url=api.url)
    with pytest.raises(CannotStart, match="Telegram refused TELEGRAM_BOT_TOKEN"):
        await surface.start()


def test_a_webhook_without_its_secret_or_with_a_weak_one_is_refused_at_start_up() -> None:
    base = {"telegram_bot_token": TOKEN, "_env_file": None}
    with pytest.raises(ValidationError, match="set TELEGRAM_WEBHOOK_SECRET too"):
        Settings(public_url="https://bot.example.com", **base)  # type: ignore[arg-type]
    for secret in ("changeme", "short", "has spaces in it, sixteen+"):
        with pytest.raises(ValidationError, match="telegram_webhook_secret"):
            Settings(telegram_webhook_secret=secret, **base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(public_url="bot.example.com", **base)  # type: ignore[arg-type]
    fine = Settings(
        public_url="https://bot.example.com/",
        telegram_webhook_secret="s" * 32,
        **base,  # type: ignore[arg-type]
    )
    assert fine.public_url == "https://bot.example.com"


async def test_serve_with_a_telegram_token_alerts_the_chat_and_stops_on_sigterm_without_logging_it(
    api: FakeBotApi, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HTTP_"))}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "LOG_LEVEL": "info",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.url,
        "CHAT_POLL_SECONDS": "0.1",
    }

    async def run(*args: str) -> str:
        done = await asyncio.create_subprocess_exec(
            JUNEPLUM, *args, env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await done.communicate()
        assert done.returncode == 0
        return out.decode()

    await run("migrate")
    added = json.loads(await run("business", "add", *PLUM, "--json"))
    code = json.loads(await run("business", "link-code", str(added["id"]), "--json"))["link_code"]
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        JUNEPLUM,
        "serve",
        env=env | {"HTTP_PORT": str(port)},
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await api.wait_for("getUpdates")
        await api.push(message(OWNER_CHAT, f"/start {code}"))
        (linked,) = await api.wait_for("sendMessage")
        assert "now linked to “Plum”" in linked.text
        async with httpx.AsyncClient() as client:
            start = (datetime.now(UTC) + timedelta(days=2)).isoformat()
            posted = await client.post(
                f"http://127.0.0.1:{port}/api/bookings",
                headers={"Authorization": f"Bearer {added['api_key']}"},
                json=_booking(start),
            )
            assert posted.status_code == 201, posted.text
        (_, card) = await api.wait_for("sendMessage", 2)
        assert "Ana &lt;3 · Haircut" in card.text and card.labels[:2] == ["Confirm", "Cancel"]
        await asyncio.sleep(0.3)  # a long poll is in flight
    finally:
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(server.communicate(), timeout=15)
    assert time.monotonic() - began < 10
    assert server.returncode == 0
    logged = err.decode()
    assert "telegram.started" in logged and "mode=polling" in logged
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


PLUM = ("--name", "Plum", "--timezone", "America/New_York", "--owner-email", "o@example.com")


def _booking(start: str) -> dict[str, object]:
    return {
        "customer": {"name": "Ana <3", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45},
        "start": start,
        "payment": {"provider": "paypal", "transaction_id": "TX9", "amount": "45.00",
                    "currency": "USD"},
    }  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
