"""The Slack adapter through Bolt's own HTTP stack: signed requests shaped as Slack sends them,
the Web API answered by a local server that records every call, the real database."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from aiohttp import WSMsgType, web

from bot.api import build_api
from bot.app import Services, build_services
from bot.errors import CannotStart
from bot.health import Health
from bot.settings import Settings
from bot.slack.surface import SlackSurface
from core.chat import ConversationKey, Platform
from core.clock import FixedClock
from core.lifecycle import Status
from core.model import Business
from storage import migrate
from tests.conftest import PAGE, _plum_salon, new_booking
from tests.integration.http_server import serving
from tests.slack_api import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM,
    SlackApi,
    action_body,
    app_home_opened_body,
    command_body,
    signed,
    view_submission_body,
)

START = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


@dataclass
class Desk:
    """The served app, the fake Slack, and the services behind them."""

    services: Services
    business: Business
    slack: SlackApi
    url: str  # our service
    http: httpx.AsyncClient

    async def send(self, body: str, content_type: str = FORM, **headers: str) -> httpx.Response:
        sign = signed(body)
        sign.update(headers)
        return await self.http.post(
            f"{self.url}/slack/events", content=body, headers={"Content-Type": content_type, **sign}
        )

    async def command(self, text: str, user: str = "U1", channel: str = "C1") -> dict[str, Any]:
        before = len(self.slack.responses)
        answer = await self.send(command_body(self.slack_url, text, user=user, channel=channel))
        assert answer.status_code == 200
        return (await self.slack.wait_responses(before + 1))[-1]

    async def press(self, value: str, action_id: str, **kw: Any) -> httpx.Response:
        answer = await self.send(action_body(self.slack_url, value, action_id=action_id, **kw))
        assert answer.status_code == 200, answer.text
        return answer

    async def book(self, n: int = 1, name: str = "Ana Silva") -> int:
        booking, _ = await self.services.desk.intake(
            self.business, new_booking(name=name, start=START + timedelta(hours=n), txn=f"T{n}"),
            PAGE,
        )  # fmt: skip
        return booking.id

    async def link(self, channel: str, user: str = "U1") -> None:
        code = await self.services.chat.issue_link_code(self.business.id)
        answer = await self.command(f"connect {code}", user=user, channel=channel)
        assert answer["response_type"] == "in_channel", answer

    @property
    def slack_url(self) -> str:
        return self._slack_url

    _slack_url: str = ""


@pytest.fixture
async def desk(database_url: str, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Desk]:
    slack = SlackApi(members={"C1": ["U1", "U2"], "C2": ["U1", "U2"], "C3": ["U9"]})
    async with serving(slack.app()) as slack_url:
        settings = Settings(
            database_url=database_url,
            mail_dir=tmp_path / "mail",
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_url}/api/",
            _env_file=None,
        )
        services = build_services(settings, clock=clock)
        await migrate.upgrade(services.db)
        business = await _plum_salon(services)
        api = build_api(
            services.desk,
            services.businesses,
            Health(services.db),
            max_body_bytes=1024 * 1024,
            payments=services.payments,
        )
        for surface in services.surfaces:
            surface.mount(api)
        async with serving(api) as url, httpx.AsyncClient(timeout=10) as http:
            d = Desk(services, business, slack, url, http)
            d._slack_url = slack_url
            yield d
        await services.aclose()
    assert slack.refused == []  # nothing we sent would Slack have refused


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    """Every string a set of blocks shows."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """A message's buttons: label -> value."""
    return {
        e["text"]["text"]: e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    }


async def test_slack_is_the_configured_surface(desk: Desk) -> None:
    assert [type(s) for s in desk.services.surfaces] == [SlackSurface]


async def test_connect_links_the_channel_and_a_new_booking_posts_its_card(desk: Desk) -> None:
    await desk.link("C1")
    await desk.book()
    await desk.services.chat_dispatcher.drain()
    (post,) = desk.slack.of("chat.postMessage")
    assert post["channel"] == "C1"
    assert "New booking #1" in post["text"] and "Ana Silva" in post["text"]
    shown = blocks_text(post["blocks"])
    assert "Thu 26 Nov 2026, 11:00–11:45 EST" in shown
    assert "US$45.00 paid via PayPal (transaction T1)" in shown
    assert list(buttons(post["blocks"])) == ["Confirm", "Cancel", "Reschedule", "View details"]
    assert "attachments" not in post


async def test_an_unlinked_channel_is_told_how_to_link_whoever_asks(desk: Desk) -> None:
    answer = await desk.command("today", user="U9", channel="C3")
    assert answer["response_type"] == "ephemeral"
    assert "isn't linked to a business yet" in answer["text"]
    assert (
        "/bookings connect <code>" in answer["text"]
        or "/bookings connect &lt;code&gt;" in answer["text"]
    )


async def test_a_button_confirms_and_redraws_every_copy(desk: Desk) -> None:
    await desk.link("C1")
    await desk.link("C2")
    booking_id = await desk.book()
    await desk.services.chat_dispatcher.drain()
    first = desk.slack.of("chat.postMessage")[0]
    await desk.press(
        buttons(first["blocks"])["Confirm"],
        "jp_confirm",
        message_ts=first.get("ts", "1700000000.000001"),
    )
    updates = await desk.slack.wait_for("chat.update")
    assert updates[0]["channel"] == "C1"
    assert "Confirmed by riley via Slack" in blocks_text(updates[0]["blocks"])
    assert list(buttons(updates[0]["blocks"])) == [
        "Mark as completed",
        "Cancel",
        "Reschedule",
        "View details",
    ]
    assert (await desk.services.desk.booking(desk.business, booking_id)).status is Status.CONFIRMED
    await desk.services.chat_dispatcher.drain()
    redrawn = {u["channel"] for u in desk.slack.of("chat.update")}
    assert redrawn == {"C1", "C2"}


async def test_a_double_tap_changes_nothing_and_says_so(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    value = f"confirm:{booking_id}:pending"
    await desk.press(value, "jp_confirm")
    await desk.slack.wait_for("chat.update", 1)
    await desk.press(value, "jp_confirm")
    told = (await desk.slack.wait_responses(2))[-1]
    assert "already confirmed. Nothing changed." in told["text"]
    assert told["response_type"] == "ephemeral"


async def test_a_race_between_two_channels_has_one_winner(desk: Desk) -> None:
    await desk.link("C1")
    await desk.link("C2")
    booking_id = await desk.book()
    await desk.press(f"confirm:{booking_id}:pending", "jp_confirm", channel="C1")
    await desk.slack.wait_for("chat.update", 1)
    await desk.press(f"cancel:{booking_id}:pending", "jp_cancel", channel="C2", user="U2")
    told = (await desk.slack.wait_responses(3))[-1]
    assert "was confirmed a moment ago by riley via Slack" in told["text"]
    assert desk.slack.of("views.open") == []  # no cancel modal for a card that is out of date
    assert (await desk.services.desk.booking(desk.business, booking_id)).status is Status.CONFIRMED


async def test_a_stranger_pressing_a_button_changes_nothing(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.press(f"confirm:{booking_id}:pending", "jp_confirm", user="U9")
    told = (await desk.slack.wait_responses(2))[-1]
    assert "Only members of a conversation linked to this business" in told["text"]
    assert (await desk.services.desk.booking(desk.business, booking_id)).status is Status.PENDING
    assert desk.slack.of("chat.update") == []


async def test_cancel_opens_a_modal_and_a_long_reason_is_refused_inline(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.press(f"cancel:{booking_id}:pending", "jp_cancel")
    (opened,) = await desk.slack.wait_for("views.open")
    view = opened["view"]
    assert view["callback_id"] == "jp_cancel"
    too_long = await desk.send(view_submission_body(view["private_metadata"], "x" * 501))
    assert too_long.status_code == 200
    assert too_long.json() == {
        "response_action": "errors",
        "errors": {"reason": "Keep the reason under 500 characters."},
    }
    assert (await desk.services.desk.booking(desk.business, booking_id)).status is Status.PENDING
    done = await desk.send(view_submission_body(view["private_metadata"], "double booked"))
    assert done.status_code == 200 and done.text == ""
    (update,) = await desk.slack.wait_for("chat.update")
    shown = blocks_text(update["blocks"])
    assert "Cancelled by riley via Slack" in shown and "double booked" in shown
    assert "https://www.paypal.com/activity/payment/T1" in shown
    assert list(buttons(update["blocks"])) == ["Refund issued", "View details"]
    booking = await desk.services.desk.booking(desk.business, booking_id)
    assert booking.status is Status.CANCELLED and booking.cancellation is not None
    assert booking.cancellation.reason == "double booked"


async def test_refund_issued_is_recorded_and_redraws_the_message(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.command(f"cancel {booking_id} ill")
    await desk.press(f"refund-issued:{booking_id}:cancelled", "jp_refund_issued")
    (update,) = await desk.slack.wait_for("chat.update")
    assert "Refund marked issued by riley via Slack" in blocks_text(update["blocks"])
    booking = await desk.services.desk.booking(desk.business, booking_id)
    assert booking.refund_issued is not None and booking.refund_issued.actor.person_id == "U1"


async def test_bookings_today_lists_each_booking_with_actions_and_pages(desk: Desk) -> None:
    await desk.link("C1")
    for n in range(1, 24):
        await desk.book(n, name=f"Guest {n}")
    answer = await desk.command("2026-11-26..2026-11-27")
    assert answer["response_type"] == "ephemeral"
    lines = [b for b in answer["blocks"] if b.get("accessory")]
    assert len(lines) == 20
    assert lines[0]["text"]["text"].startswith("#1 · Thu 26 Nov 2026 11:00 · Guest 1 · Haircut")
    options = [o["value"] for o in lines[0]["accessory"]["options"]]
    assert options == [
        "confirm:1:pending",
        "cancel:1:pending",
        "reschedule:1:pending",
        "details:1:pending",
    ]
    paging = [b for b in answer["blocks"] if b["type"] == "actions"][-1]
    (next_page,) = paging["elements"]
    assert next_page["value"] == "2026-11-26..2026-11-27 page 2"
    await desk.press(next_page["value"], "jp_page_next")
    second = (await desk.slack.wait_responses(3))[-1]
    assert second["replace_original"] is True
    assert len([b for b in second["blocks"] if b.get("accessory")]) == 3


async def test_help_and_bad_input_answer_with_examples(desk: Desk) -> None:
    await desk.link("C1")
    assert "confirm 42" in (await desk.command("help"))["text"]
    assert "2026-02-30 isn't a date on the calendar" in (await desk.command("2026-02-30"))["text"]


async def test_a_forged_signature_or_an_old_timestamp_is_rejected_and_never_logged(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = command_body(desk.slack_url, "connect SECRETCUSTOMERTEXT")
    forged = await desk.http.post(
        f"{desk.url}/slack/events", content=body,
        headers={"Content-Type": FORM, **signed(body, secret="not-the-secret")},
    )  # fmt: skip
    stale = await desk.http.post(
        f"{desk.url}/slack/events", content=body,
        headers={"Content-Type": FORM, **signed(body, at=time.time() - 600)},
    )  # fmt: skip
    assert forged.status_code == 401 and stale.status_code == 401
    assert desk.slack.responses == []
    logged = caplog.text
    assert "SECRETCUSTOMERTEXT" not in logged and SIGNING_SECRET not in logged
    assert BOT_TOKEN not in logged
    not_utf8 = await desk.http.post(
        f"{desk.url}/slack/events", content=b"\xff\xfe", headers={"Content-Type": FORM}
    )
    assert not_utf8.status_code == 400


async def test_customer_text_is_escaped_and_long_names_are_cut(desk: Desk) -> None:
    await desk.link("C1")
    new = replace(
        new_booking(name="<!channel> & <@U1> " + "é" * 180, start=START, txn="X"),
        notes="<!here> " + "ß" * 6000,
    )
    await desk.services.desk.intake(desk.business, new, PAGE)
    await desk.services.chat_dispatcher.drain()
    (post,) = desk.slack.of("chat.postMessage")
    everything = post["text"] + blocks_text(post["blocks"])
    assert "<!channel>" not in everything and "<@U1>" not in everything
    assert "<!here>" not in everything
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in everything
    for block in post["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    notes = [f["text"] for b in post["blocks"] for f in b.get("fields", []) if "Notes" in f["text"]]
    assert notes and notes[0].endswith("ß…")
    assert len(post["text"]) <= 3000


async def test_slack_rate_limits_and_server_errors_are_retried_and_nothing_is_doubled(
    desk: Desk,
) -> None:
    await desk.link("C1")
    desk.slack.answer_next(
        "chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}
    )
    ids = [await desk.book(n, name=f"Guest {n}") for n in range(1, 4)]
    await desk.services.chat_dispatcher.drain()
    assert len(desk.slack.of("chat.postMessage")) == 1  # the refused one; the rest waited
    desk.services.clock.advance(seconds=3)  # type: ignore[attr-defined]
    desk.slack.answer_next("chat.postMessage", 500, {"ok": False, "error": "internal_error"})
    await desk.services.chat_dispatcher.drain()
    desk.services.clock.advance(seconds=61)  # type: ignore[attr-defined]
    await desk.services.chat_dispatcher.drain()
    accepted = [p for p in desk.slack.of("chat.postMessage")][2:]
    shown = [int(p["text"].split("#")[1].split(":")[0].split()[0]) for p in accepted]
    assert shown == ids


async def test_a_burst_of_forty_bookings_is_forty_messages_each_once(desk: Desk) -> None:
    await desk.link("C1")
    ids = [await desk.book(n, name=f"Guest {n}") for n in range(1, 41)]
    desk.services.chat_dispatcher.senders[Platform.SLACK].pace = timedelta(0)
    await desk.services.chat_dispatcher.drain()
    posts = desk.slack.of("chat.postMessage")
    assert [int(p["text"].split("#")[1].split(" ")[0].rstrip(":—")) for p in posts] == ids


async def test_app_home_shows_pending_bookings_first_to_members(desk: Desk) -> None:
    await desk.link("C1")
    await desk.book(1, name="Ana Silva")
    answer = await desk.send(app_home_opened_body("U1"), "application/json")
    assert answer.status_code == 200
    (published,) = await desk.slack.wait_for("views.publish")
    assert published["user_id"] == "U1"
    shown = blocks_text(published["view"]["blocks"])
    assert "Plum Salon" in shown and "Waiting for your confirmation" in shown
    assert shown.index("Waiting for your confirmation") < shown.index("Today")
    assert "Ana Silva" in shown
    stranger = await desk.send(app_home_opened_body("U9"), "application/json")
    assert stranger.status_code == 200
    published = (await desk.slack.wait_for("views.publish", 2))[-1]
    assert "Ana Silva" not in blocks_text(published["view"]["blocks"])


async def test_disconnect_unlinks_and_another_business_can_then_connect(desk: Desk) -> None:
    await desk.link("C1")
    answer = await desk.command("disconnect")
    assert "no longer linked to “Plum Salon”" in answer["text"]
    assert await desk.services.chat.business_of(ConversationKey(Platform.SLACK, TEAM, "C1")) is None
    again = await desk.command("today")
    assert "isn't linked" in again["text"]
    assert json.dumps(again)  # answered, not an error


async def test_app_home_is_refreshed_when_a_booking_arrives(desk: Desk) -> None:
    await desk.link("C1")
    await desk.send(app_home_opened_body("U1"), "application/json")
    await desk.slack.wait_for("views.publish", 1)
    await desk.book(2, name="Zoë New")
    await desk.services.chat_dispatcher.drain()
    refreshed = (await desk.slack.wait_for("views.publish", 2))[-1]
    assert refreshed["user_id"] == "U1"
    assert "Zoë New" in blocks_text(refreshed["view"]["blocks"])


async def test_a_channel_slack_says_is_gone_is_reported_in_words_in_the_others(
    desk: Desk,
) -> None:
    await desk.link("C1")
    await desk.link("C2")
    desk.slack.answer_next("chat.postMessage", 200, {"ok": False, "error": "is_archived"})
    await desk.book()
    await desk.services.chat_dispatcher.drain()
    await desk.book(2)
    await desk.services.chat_dispatcher.drain()
    to_c1 = [p for p in desk.slack.of("chat.postMessage") if p["channel"] == "C1"]
    to_c2 = [p for p in desk.slack.of("chat.postMessage") if p["channel"] == "C2"]
    notices = [p["text"] for p in to_c1 + to_c2 if "can no longer post" in p["text"]]
    assert len(notices) == 1 and "the channel was archived" in notices[0]
    assert len(to_c2) + len(to_c1) == 4  # the refused card, 2 cards, the notice


class SocketModeServer:
    """Slack's Socket Mode end: says hello, hands over one envelope, records the acks."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.acks: list[dict[str, Any]] = []
        self.acked = asyncio.Event()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1,
                                "connection_info": {"app_id": "A0001"}})  # fmt: skip
        await socket.send_json(self.envelope)
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
                self.acked.set()
        return socket


async def test_socket_mode_answers_a_command_without_a_public_url(
    database_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    slack = SlackApi(members={"C1": ["U1"]})
    async with serving(slack.app()) as slack_url:
        payload = dict(parse_qsl(command_body(slack_url, "help")))
        server = SocketModeServer(
            {"envelope_id": "e-1", "type": "slash_commands", "accepts_response_payload": True,
             "payload": payload}
        )  # fmt: skip
        app = web.Application()
        app.router.add_get("/socket", server.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        slack.socket_url = f"ws://127.0.0.1:{port}/socket"
        settings = Settings(
            database_url=database_url, mail_dir=tmp_path / "mail", slack_bot_token=BOT_TOKEN,
            slack_app_token=APP_TOKEN, slack_api_url=f"{slack_url}/api/", _env_file=None,
        )  # fmt: skip
        services = build_services(settings, clock=clock)
        await migrate.upgrade(services.db)
        (surface,) = services.surfaces
        try:
            await surface.start()
            async with asyncio.timeout(10):
                await server.acked.wait()
            assert server.acks[0]["envelope_id"] == "e-1"
            (answer,) = await slack.wait_responses(1)
            assert "isn't linked to a business yet" in answer["text"]
        finally:
            await surface.stop()
            await services.aclose()
            await runner.cleanup()


async def test_view_details_opens_a_modal_with_the_full_card_and_history(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.press(f"details:{booking_id}:pending", "jp_details")
    (opened,) = await desk.slack.wait_for("views.open")
    view = opened["view"]
    assert view["type"] == "modal" and view["title"]["text"] == f"Booking #{booking_id}"
    shown = blocks_text(view["blocks"])
    assert "ana@example.com" in shown and "+1 555 0100" in shown
    assert "created as pending by the booking page" in shown


async def test_the_home_search_box_finds_bookings(desk: Desk) -> None:
    await desk.link("C1")
    await desk.book(1, name="Zoë Search")
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "riley", "name": "riley", "team_id": TEAM},
        "team": {"id": TEAM, "domain": "plum"},
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "type": "home", "private_metadata": ""},
        "trigger_id": "1.2.3",
        "actions": [{"action_id": "jp_home_search", "block_id": "search", "type":
                     "plain_text_input", "value": "zoe", "action_ts": "1.2"}],
    }  # fmt: skip
    await desk.send(urlencode({"payload": json.dumps(payload)}))
    (published,) = await desk.slack.wait_for("views.publish")
    shown = blocks_text(published["view"]["blocks"])
    assert "Search “zoe”" in shown and "Zoë Search" in shown


async def test_a_typed_action_records_who_typed_it(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    answer = await desk.command(f"confirm {booking_id}", user="U2")
    assert f"#{booking_id} confirmed" in answer["text"]
    booking = await desk.services.desk.booking(desk.business, booking_id)
    last = booking.last_move
    assert last is not None and (last.actor.name, last.actor.person_id) == ("sam", "U2")


async def test_acting_from_a_list_answers_with_the_outcome_and_the_card(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    done = await desk.book(2)
    await desk.command(f"confirm {done}")
    await desk.command(f"complete {done}")  # a final booking: its line has one button
    listed = await desk.command("2026-11-26")
    accessories = [b["accessory"] for b in listed["blocks"] if b.get("accessory")]
    assert [a["type"] for a in accessories] == ["overflow", "button"]
    assert accessories[1]["text"]["text"] == "View details"
    await desk.send(
        action_body(desk.slack_url, f"confirm:{booking_id}:pending", action_id="jp_overflow",
                    overflow=True, ephemeral=True)
    )  # fmt: skip
    answer = (await desk.slack.wait_responses(len(desk.slack.responses) + 1))[-1]
    assert answer["replace_original"] is False
    assert f"#{booking_id} confirmed" in answer["text"]
    assert "Confirmed by riley via Slack" in blocks_text(answer["blocks"])


async def test_a_stranger_tapping_on_the_home_tab_is_told_in_a_direct_message(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    payload = {
        "type": "block_actions",
        "user": {"id": "U9", "username": "stranger", "name": "stranger", "team_id": TEAM},
        "team": {"id": TEAM, "domain": "plum"},
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "type": "home", "private_metadata": ""},
        "trigger_id": "1.2.3",
        "actions": [{"action_id": "jp_overflow", "block_id": f"b{desk.business.id}:0:{booking_id}",
                     "type": "overflow", "action_ts": "1.2", "selected_option": {
                         "text": {"type": "plain_text", "text": "Confirm"},
                         "value": f"confirm:{booking_id}:pending"}}],
    }  # fmt: skip
    await desk.send(urlencode({"payload": json.dumps(payload)}))
    (told,) = await desk.slack.wait_for("chat.postMessage")
    assert told["channel"] == "U9" and "Only members" in told["text"]
    assert (await desk.services.desk.booking(desk.business, booking_id)).status is Status.PENDING


async def test_a_long_reason_is_refused_only_in_the_modal(desk: Desk) -> None:
    await desk.link("C1")
    booking_id = await desk.book()
    meta = json.dumps({"tap": f"cancel:{booking_id}:pending", "channel": "C1", "ts": None})
    refused = await desk.send(view_submission_body(meta, "  " + "x" * 501 + "  "))
    assert refused.json()["response_action"] == "errors"
    padded = await desk.send(view_submission_body(meta, "  " + "x" * 500 + "  "))
    assert padded.text == ""  # 500 once trimmed: accepted, as the cancel itself counts it
    await desk.slack.wait_for("chat.postEphemeral", 0)
    assert desk.slack.of("chat.postEphemeral") == []


async def test_a_confirm_and_a_cancel_from_two_channels_at_once_have_one_winner(
    desk: Desk,
) -> None:
    await desk.link("C1")
    await desk.link("C2")
    booking_id = await desk.book()
    meta = json.dumps({"tap": f"cancel:{booking_id}:pending", "channel": "C2", "ts": None})
    await asyncio.gather(
        desk.press(f"confirm:{booking_id}:pending", "jp_confirm", channel="C1"),
        desk.send(view_submission_body(meta, "no", user="U2")),
    )
    for _ in range(100):
        status = (await desk.services.desk.booking(desk.business, booking_id)).status
        told = desk.slack.of("chat.postEphemeral") + desk.slack.responses[2:]
        if status is not Status.PENDING and told:
            break
        await asyncio.sleep(0.05)
    assert status in (Status.CONFIRMED, Status.CANCELLED)
    assert any("a moment ago by" in t["text"] for t in told)


async def test_socket_mode_with_a_refused_app_token_stops_with_a_plain_message(
    database_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    slack = SlackApi()
    async with serving(slack.app()) as slack_url:
        settings = Settings(
            database_url=database_url, mail_dir=tmp_path / "mail", slack_bot_token=BOT_TOKEN,
            slack_app_token="xapp-1-not-the-app-token", slack_api_url=f"{slack_url}/api/",
            _env_file=None,
        )  # fmt: skip
        services = build_services(settings, clock=clock)
        (surface,) = services.surfaces
        with pytest.raises(CannotStart, match="Slack refused SLACK_APP_TOKEN"):
            await surface.start()
        await services.aclose()


# The owner's day


async def test_a_close_out_prompt_is_valid_block_kit_and_its_no_show_redraws_it(
    desk: Desk, clock: FixedClock
) -> None:
    await desk.link("C1")
    first = await desk.book(1)  # Thu 11:00-11:45 EST
    later = await desk.book(2, name="Bo Chen")  # 12:00-12:45 EST
    await desk.services.chat_dispatcher.drain()
    clock.advance(hours=27, minutes=50)  # Thu 12:50 EST: both ended
    await desk.services.owners_day.plan(clock.now())
    await desk.services.chat_dispatcher.drain()
    (prompt,) = [p for p in desk.slack.of("chat.postMessage") if "happen?" in p["text"]]
    shown = blocks_text(prompt["blocks"])
    assert f"Did these happen? #{first}, #{later}" in shown and "Bo Chen" in shown
    ids = [
        e["action_id"] for b in prompt["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert ids == ["jp_prompt_complete", "jp_prompt_no_show"] * 2
    no_show = f"no-show:{first}:pending"
    assert no_show in [
        e["value"] for b in prompt["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    await desk.press(no_show, "jp_prompt_no_show", message_ts=prompt.get("ts", "1.2"))
    for _ in range(100):  # the press is handled after its ack
        if (await desk.services.desk.booking(desk.business, first)).status is Status.NO_SHOW:
            break
        await asyncio.sleep(0.02)
    assert (await desk.services.desk.booking(desk.business, first)).status is Status.NO_SHOW
    await desk.services.chat_dispatcher.drain()
    (redrawn,) = [u for u in desk.slack.of("chat.update") if "happen?" in u["text"]]
    assert "No-show by riley via Slack" in blocks_text(redrawn["blocks"])
    assert list(buttons(redrawn["blocks"])) == ["Completed", "No-show"]  # the later one's


async def test_the_digest_time_is_set_with_a_command_and_today_s_digest_shown(desk: Desk) -> None:
    await desk.link("C1")
    await desk.book(1)
    answer = await desk.command("digest 7:30")
    assert "comes here at 07:30" in answer["text"]
    answer = await desk.command("digest")  # today's, now: nothing booked, one waiting
    assert "Still waiting for your confirmation (1):" in blocks_text(answer["blocks"])
    assert "#1 Thu 26 Nov 2026, 11:00 EST · Ana Silva" in blocks_text(answer["blocks"])
