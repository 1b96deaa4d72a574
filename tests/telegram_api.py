"""A local server that answers like the Telegram Bot API and records every call; and the bot
as `juneplum serve` runs it against that server (`served`).

Served over real HTTP on 127.0.0.1 (tests.integration.http_server), so the bot's own
python-telegram-bot client, rate limiter and error mapping run as in production. It keeps the
messages it was sent (so an edit to the same content answers "message is not modified", as
Telegram does), hands out updates to getUpdates (long polling, offsets), and can be told to
answer the next calls as Telegram does when things go wrong: 429 with retry_after, 403, 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.app import Services, build_services
from bot.server import http_server, listen
from bot.settings import Settings
from bot.telegram.surface import SECRET_HEADER, TelegramSurface
from core.chat import ConversationKey, Platform
from core.clock import FixedClock
from core.model import Business
from storage import migrate
from tests.chat_platform import FakePlatform
from tests.conftest import PAGE, new_booking

BOT_ID = 7000001
BOT_USERNAME = "juneplum_test_bot"
TOKEN = "7000001:AAH-test-token-never-logged-0123456789"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_INTS = {"chat_id", "message_id", "offset", "timeout", "limit"}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200  # what the fake answered: 429, 403… when told to fail

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[list[tuple[str, str]]]:
        """The inline keyboard as rows of (label, callback data)."""
        markup = self.params.get("reply_markup") or {}
        return [
            [(b["text"], b.get("callback_data", "")) for b in row]
            for row in markup.get("inline_keyboard", [])
        ]

    @property
    def labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    def data_of(self, label: str) -> str:
        (found,) = [data for row in self.buttons for text, data in row if text == label]
        return found


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None


@dataclass
class FakeBotApi:
    """The Bot API for one bot (TOKEN); `url` is set once it serves."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    chat_types: dict[int, str] = field(default_factory=dict)
    _failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_message: dict[int, itertools.count[int]] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    closing: bool = False

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._answer, methods=["POST"])])

    # What the tests tell it

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) fail like this."""
        for _ in range(times):
            self._failures[method].append(Failure(status, description, retry_after, chat_id))

    async def close(self) -> None:
        """End every long poll now (so the server can stop without waiting them out)."""
        async with self._changed:
            self.closing = True
            self._changed.notify_all()

    async def push(self, *updates: dict[str, Any]) -> None:
        """Updates for getUpdates to hand out."""
        async with self._changed:
            self._updates.extend(updates)
            self._changed.notify_all()

    # What the tests read

    def called(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and chat_id in (None, c.chat_id)]

    def delivered(self, chat_id: int) -> list[Call]:
        """The messages a chat received (sendMessage calls that were not refused)."""
        return [c for c in self.called("sendMessage", chat_id) if c.status == 200]

    def answer_to(self, update: dict[str, Any]) -> str:
        """The toast that answered a callback_query update."""
        query_id = update["callback_query"]["id"]
        (answer,) = [
            c
            for c in self.called("answerCallbackQuery")
            if c.params.get("callback_query_id") == query_id
        ]
        return str(answer.params.get("text", ""))

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    async def wait_for(self, method: str, count: int = 1, within: float = 10.0) -> list[Call]:
        """Wait until `method` has been called at least `count` times; those calls."""
        deadline = time.monotonic() + within
        while len(self.called(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{method} called {len(self.called(method))} times, not {count}: "
                    f"{self.methods()}"
                )
            await asyncio.sleep(0.01)
        return self.called(method)

    # The API

    async def _answer(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        params = _params(await request.body(), request.headers.get("content-type", ""))
        failure = self._failure(method, params) or _keyboard_refused(params)
        self.calls.append(Call(method, params, failure.status if failure else 200))
        if failure is not None:
            return _error(failure.status, failure.description, failure.retry_after)
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getMe":
            return _ok(
                {
                    "id": BOT_ID,
                    "is_bot": True,
                    "first_name": "Juneplum",
                    "username": BOT_USERNAME,
                    "can_join_groups": True,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                }
            )
        if method in ("setMyCommands", "setWebhook", "deleteWebhook", "answerCallbackQuery"):
            return _ok(True)
        if method == "sendMessage":
            return self._send(params)
        if method in ("editMessageText", "editMessageReplyMarkup"):
            return self._edit(method, params)
        return _error(404, "Not Found: method not found")

    def _failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        for failure in list(queue):
            if failure.chat_id is None or failure.chat_id == params.get("chat_id"):
                queue.remove(failure)
                return failure
        return None

    async def _get_updates(self, params: dict[str, Any]) -> JSONResponse:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)

        def due() -> list[dict[str, Any]]:
            return [u for u in self._updates if u["update_id"] >= offset]

        async with self._changed:
            if not due() and timeout > 0:
                try:
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(due()) or self.closing)
                except TimeoutError:
                    pass
            return _ok(due()[:100])

    def _message(self, chat_id: int, message_id: int, params: dict[str, Any]) -> dict[str, Any]:
        chat_type = self.chat_types.get(chat_id, "private" if chat_id > 0 else "group")
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Riley"
        else:
            chat["title"] = f"Group {chat_id}"
        found = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Juneplum"},
            "text": params.get("text", ""),
        }
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            found["reply_markup"] = markup
        return found

    def _send(self, params: dict[str, Any]) -> JSONResponse:
        chat_id = int(params["chat_id"])
        ids = self._next_message.setdefault(chat_id, itertools.count(1))
        message_id = next(ids)
        self.messages[(chat_id, message_id)] = {
            "text": params.get("text", ""),
            "reply_markup": params.get("reply_markup"),
        }
        return _ok(self._message(chat_id, message_id, params))

    def _edit(self, method: str, params: dict[str, Any]) -> JSONResponse:
        key = (int(params["chat_id"]), int(params["message_id"]))
        shown = self.messages.get(key)
        if shown is None:
            return _error(400, "Bad Request: message to edit not found")
        new = dict(shown)
        if method == "editMessageText":
            new["text"] = params.get("text", "")
        new["reply_markup"] = params.get("reply_markup")
        if new == shown:
            return _error(400, NOT_MODIFIED)
        self.messages[key] = new
        return _ok(self._message(key[0], key[1], new))


def _smtp(port: int | None) -> dict[str, Any]:
    """Mail to a local SMTP server, when a test reads the mailbox."""
    if port is None:
        return {}
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none",
            "mail_from": "bookings@plum.example"}  # fmt: skip


def _keyboard_refused(params: dict[str, Any]) -> Failure | None:
    """Telegram refuses an inline button whose callback_data is over 64 bytes (or empty)."""
    markup = params.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return Failure(400, "Bad Request: BUTTON_DATA_INVALID")
    return None


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        loaded = json.loads(body or b"{}")
        return dict(loaded) if isinstance(loaded, dict) else {}
    params: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        if name in _INTS:
            params[name] = int(value)
        elif value[:1] in ("{", "["):
            params[name] = json.loads(value)
        else:
            params[name] = value
    return params


def _ok(result: object) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


# Updates as Telegram sends them

_ids = itertools.count(1000)


def user(user_id: int = 111, first: str = "Riley", last: str = "Park") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first, "last_name": last}


def chat_of(chat_id: int, title: str = "Front desk") -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Riley"}
    return {"id": chat_id, "type": "group", "title": title}


def message(
    chat_id: int, text: str, *, sender: dict[str, Any] | None = None, reply_to: int | None = None
) -> dict[str, Any]:
    """A message update; a leading /command gets its bot_command entity, as Telegram sends."""
    sent: dict[str, Any] = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": chat_of(chat_id),
        "from": sender or user(),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split(" ")[0]
        sent["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if reply_to is not None:
        sent["reply_to_message"] = {
            "message_id": reply_to,
            "date": int(time.time()),
            "chat": chat_of(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Juneplum"},
            "text": "…",
        }
    return {"update_id": next(_ids), "message": sent}


def tap(
    chat_id: int, message_id: int, data: str, *, sender: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A callback_query update: someone pressed a button on message `message_id`."""
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": str(next(_ids)),
            "from": sender or user(),
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat_of(chat_id),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Juneplum"},
                "text": "…",
            },
        },
    }


def removed(chat_id: int, status: str = "kicked") -> dict[str, Any]:
    """A my_chat_member update: the bot was removed from the chat (or blocked)."""
    bot = {"id": BOT_ID, "is_bot": True, "first_name": "Juneplum"}
    return {
        "update_id": next(_ids),
        "my_chat_member": {
            "chat": chat_of(chat_id),
            "from": user(),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": {"status": status, "user": bot, "until_date": 0},
        },
    }


# The bot as `juneplum serve` runs it: the served app on a real port, its Telegram surface
# built from settings as serve builds it, talking to a FakeBotApi.

SECRET = "webhook-secret-for-tests-0123456789"
SLACK_KEY = ConversationKey(Platform.SLACK, "T1", "C-salon")  # "Slack", through the chat layer


@dataclass
class Served:
    services: Services
    surface: TelegramSurface
    url: str  # the served app
    api: FakeBotApi
    slack: FakePlatform
    client: httpx.AsyncClient

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        """Telegram posting an update to the webhook."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.client.post(f"{self.url}/telegram/webhook", json=update, headers=headers)

    async def send(self, *updates: dict[str, Any]) -> None:
        """Post updates (each must be taken) and wait until the bot has handled them all."""
        for update in updates:
            answer = await self.post(update)
            assert answer.status_code == 200, answer.text
        await self.settled()

    async def settled(self, within: float = 10.0) -> None:
        """Wait until no update is queued or being handled (seen idle a few times running)."""
        app = self.surface.app
        deadline, idle = time.monotonic() + within, 0
        while idle < 3:
            if time.monotonic() > deadline:
                raise AssertionError("the bot is still busy")
            busy = app.update_queue.qsize() or app.update_processor.current_concurrent_updates
            idle = 0 if busy else idle + 1
            await asyncio.sleep(0.005)

    async def link(self, business: Business, chat_id: int) -> None:
        """`/start <code>` in a chat, with a fresh code for the business."""
        code = await self.services.chat.issue_link_code(business.id)
        before = len(self.api.called("sendMessage", chat_id))
        await self.send(message(chat_id, f"/start {code}"))
        said = self.api.called("sendMessage", chat_id)[before:]
        assert said and "now linked to" in said[-1].text, said

    async def book(self, business: Business, n: int = 1, name: str = "Ana Silva") -> int:
        start = new_booking().start_at + timedelta(hours=n)
        booking, _ = await self.services.desk.intake(
            business, new_booking(name=name, start=start, txn=f"T{n}"), PAGE
        )
        return booking.id

    async def deliver(self) -> None:
        """Send what the chat dispatcher has due now."""
        await self.services.chat_dispatcher.drain()


@contextlib.asynccontextmanager
async def served(
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
    api: FakeBotApi,
    *,
    webhook: bool = True,
    smtp_port: int | None = None,
) -> AsyncIterator[Served]:
    sock = listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        mail_dir=tmp_path / "mail",
        telegram_bot_token=TOKEN,
        telegram_api_url=api.url,
        public_url=url if webhook else None,
        telegram_webhook_secret=SECRET if webhook else None,
        _env_file=None,
        **_smtp(smtp_port),
    )
    slack = FakePlatform(Platform.SLACK)
    services = build_services(settings, clock=clock, senders={Platform.SLACK: slack})
    await migrate.upgrade(services.db)
    (surface,) = services.surfaces
    assert isinstance(surface, TelegramSurface)
    surface.sender.pace = timedelta(0)  # the dispatcher's pace per chat: tests don't wait it
    server = http_server(services)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        await surface.start()
        async with httpx.AsyncClient() as client:
            yield Served(services, surface, url, api, slack, client)
    finally:
        await surface.stop()
        server.should_exit = True
        await task
        sock.close()
        await services.aclose()
