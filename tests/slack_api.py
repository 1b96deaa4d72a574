"""A local server that answers like Slack's Web API and records every call, and helpers that
send requests shaped and signed exactly as Slack sends them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-0000-secret-token"
APP_TOKEN = "xapp-1-test-0000-socket-token"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class SlackApi:
    """The Web API at `<base>/api/<method>`, response URLs at `<base>/respond/<id>`."""

    members: dict[str, list[str]] = field(default_factory=dict)  # channel -> user ids
    socket_url: str = ""  # what apps.connections.open hands out (Socket Mode)
    refused: list[str] = field(default_factory=list)  # Block Kit Slack would have refused
    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # what response_urls got
    _trouble: dict[str, deque[tuple[int, dict[str, Any], dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _ts: int = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST", "GET"]),
                Route("/respond/{hook}", self._respond, methods=["POST"]),
            ]
        )

    def answer_next(
        self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """The next call of `method` gets this answer instead of success."""
        self._trouble[method].append((status, body, headers or {}))

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1) -> list[dict[str, Any]]:
        """The calls of `method` once there are `count` of them (lazy listeners run after the
        ack, so their calls arrive a moment later); 5 seconds at most."""
        await _until(lambda: len(self.of(method)) >= count)
        return self.of(method)

    async def wait_responses(self, count: int = 1) -> list[dict[str, Any]]:
        await _until(lambda: len(self.responses) >= count)
        return self.responses

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            params: dict[str, Any] = json.loads(raw or b"{}")
        else:
            params = dict(parse_qsl(raw.decode()))
            for key in ("blocks", "view"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        params.update(dict(request.query_params))
        self.calls.append(Call(method, params))
        if method == "apps.connections.open":
            ok = request.headers.get("authorization") == f"Bearer {APP_TOKEN}"
            return JSONResponse({"ok": True, "url": self.socket_url} if ok else {"ok": False})
        if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        trouble = self._trouble[method]
        if trouble:
            status, body, headers = trouble.popleft()
            return JSONResponse(body, status_code=status, headers=headers)
        view = params.get("view")
        problem = block_kit_problem(params.get("blocks") or (view or {}).get("blocks"), view=view)
        if problem:
            self.refused.append(problem)
            return JSONResponse({"ok": False, "error": "invalid_blocks", "errors": [problem]})
        return JSONResponse(self._success(method, params))

    def _success(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": TEAM,
                    "user": "juneplum", "team": "Plum"}  # fmt: skip
        if method == "conversations.members":
            return {"ok": True, "members": self.members.get(str(params.get("channel")), []),
                    "response_metadata": {"next_cursor": ""}}  # fmt: skip
        if method in ("chat.postMessage", "chat.update"):
            if method == "chat.postMessage":
                self._ts += 1
            ts = params.get("ts") or f"1700000000.{self._ts:06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        return {"ok": True}

    async def _respond(self, request: Request) -> Response:
        message = json.loads(await request.body())
        problem = block_kit_problem(message.get("blocks"))
        if problem:
            self.refused.append(problem)
            return Response("invalid_blocks", status_code=400)
        self.responses.append(message)
        return Response("ok")


# Block Kit's limits, as Slack enforces them (api.slack.com/reference/block-kit).
TEXT_LIMITS = {"section": 3000, "context": 2000, "header": 150}


def block_kit_problem(
    found: list[dict[str, Any]] | str | None, view: dict[str, Any] | None = None
) -> str:
    """Why Slack would refuse these blocks (or this view), or ""."""
    blocks: list[dict[str, Any]] = json.loads(found) if isinstance(found, str) else found or []
    problems: list[str] = []
    if view:
        if len(view.get("title", {}).get("text", "")) > 24:
            problems.append("modal title over 24")
        for key in ("submit", "close"):
            if len((view.get(key) or {}).get("text", "")) > 24:
                problems.append(f"modal {key} over 24")
    limit = 100 if view else 50
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks, over {limit}")
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        problems.append("a repeated block_id")
    for block in blocks:
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if len(text) > TEXT_LIMITS.get(str(kind), 3000):
            problems.append(f"{kind} text over its limit")
        for field_ in block.get("fields", []):
            if len(field_["text"]) > 2000:
                problems.append("a field over 2000")
        if len(block.get("fields", [])) > 10:
            problems.append("over 10 fields")
        elements: list[dict[str, Any]] = [block["accessory"]] if block.get("accessory") else []
        elements += block.get("elements", []) if kind == "actions" else []
        if kind == "input":
            problems.extend(_input_problems(block))
        for element in elements:
            if element.get("type") == "overflow" and not 2 <= len(element["options"]) <= 5:
                problems.append("an overflow needs 2 to 5 options")
            if element.get("type") == "button" and len(element["text"]["text"]) > 75:
                problems.append("a button's text over 75")
    return "; ".join(problems)


# Input block elements we use, and what Slack checks of each (api.slack.com/reference/
# block-kit/block-elements): a datepicker's initial_date is YYYY-MM-DD, a timepicker's
# initial_time HH:mm (24-hour); both need an action_id of at most 255 characters.
INPUT_ELEMENTS = {"plain_text_input", "datepicker", "timepicker"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _input_problems(block: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    label = block.get("label") or {}
    if label.get("type") != "plain_text" or not 0 < len(label.get("text", "")) <= 2000:
        problems.append("an input's label must be plain_text of 1 to 2000")
    element = block.get("element") or {}
    kind = element.get("type")
    if kind not in INPUT_ELEMENTS:
        problems.append(f"an input's element {kind!r} is not one Slack takes here")
    if not 0 < len(element.get("action_id", "")) <= 255:
        problems.append("an input element needs an action_id of 1 to 255")
    placeholder = element.get("placeholder")
    if placeholder is not None and len(placeholder.get("text", "")) > 150:
        problems.append("a placeholder over 150")
    day, at = str(element.get("initial_date", "")), str(element.get("initial_time", ""))
    if kind == "datepicker" and day and not _DATE.fullmatch(day):
        problems.append("a datepicker's initial_date must be YYYY-MM-DD")
    if kind == "timepicker" and at and not _TIME.fullmatch(at):
        problems.append("a timepicker's initial_time must be HH:mm")
    return problems


async def _until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(5.0):
        while not done():  # noqa: ASYNC110 - the calls arrive over HTTP, polled
            await asyncio.sleep(0.01)


def signed(body: str, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    """Slack's signature headers for a body (v0, HMAC-SHA256 of 'v0:timestamp:body')."""
    timestamp = str(int(at if at is not None else time.time()))
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def command_body(base: str, text: str, *, user: str = "U1", channel: str = "C1") -> str:
    """A slash command as Slack posts it (form-encoded)."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "team_domain": "plum",
            "channel_id": channel,
            "channel_name": "salon",
            "user_id": user,
            "user_name": {"U1": "riley", "U2": "sam"}.get(user, "stranger"),
            "command": "/bookings",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": f"{base}/respond/{user}-{channel}",
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    )


def action_body(
    base: str,
    value: str,
    *,
    action_id: str,
    user: str = "U1",
    channel: str = "C1",
    message_ts: str = "1700000000.000001",
    overflow: bool = False,
    ephemeral: bool = False,
) -> str:
    """A block_actions payload from a button (or an overflow menu) on a channel message."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "card",
        "type": "overflow" if overflow else "button",
        "action_ts": "1700000100.000200",
    }
    if overflow:
        action["selected_option"] = {"text": {"type": "plain_text", "text": "x"}, "value": value}
    else:
        action |= {"value": value, "text": {"type": "plain_text", "text": "Confirm"}}
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": _name(user), "name": _name(user), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": TEAM, "domain": "plum"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "salon"},
        "message": {"type": "message", "ts": message_ts, "text": "card", "user": "UBOT"},
        "response_url": f"{base}/respond/{user}-{channel}",
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(metadata: str, reason: str | None, *, user: str = "U1") -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "plum"},
        "user": {"id": user, "username": _name(user), "name": _name(user), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "deprecated-verification-token",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "view": {
            "id": "V0001",
            "team_id": TEAM,
            "type": "modal",
            "callback_id": "jp_cancel",
            "private_metadata": metadata,
            "state": {
                "values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}
            },
            "hash": "156772938.1827394",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)})


def reschedule_submission_body(
    metadata: str, day: str | None, at: str | None, *, user: str = "U1"
) -> str:
    """The Reschedule modal submitted, with its date and time pickers' values as Slack
    sends them (selected_date YYYY-MM-DD, selected_time HH:mm; None when left empty)."""
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "plum"},
        "user": {"id": user, "username": _name(user), "name": _name(user), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "deprecated-verification-token",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "view": {
            "id": "V0002",
            "team_id": TEAM,
            "type": "modal",
            "callback_id": "jp_reschedule",
            "private_metadata": metadata,
            "state": {
                "values": {
                    "day": {"day": {"type": "datepicker", "selected_date": day}},
                    "time": {"time": {"type": "timepicker", "selected_time": at}},
                }
            },
            "hash": "156772938.1827395",
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return urlencode({"payload": json.dumps(payload)})


def app_home_opened_body(user: str = "U1") -> str:
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "api_app_id": "A0001",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0001",
                "tab": "home",
                "event_ts": "1700000000.000100",
            },
            "type": "event_callback",
            "event_id": "Ev0001",
            "event_time": 1700000000,
            "authorizations": [
                {"team_id": TEAM, "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}
            ],
        }
    )


def _name(user: str) -> str:
    return {"U1": "riley", "U2": "sam"}.get(user, "stranger")
