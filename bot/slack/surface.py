"""Slack as `juneplum serve` runs it: a Bolt AsyncApp on the service's own ASGI server at
`POST /slack/events` (events, slash commands, interactivity and options on one URL), or over
Socket Mode when SLACK_APP_TOKEN is set (for owners with no public URL).

Bolt runs with `process_before_response=True`: it answers Slack when a listener's ack returns,
and the work runs after it as a lazy listener (bot.slack.listeners). Bolt's own logger is kept
at WARNING: at INFO it writes a forged request's body to the log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.chat.sending import ChatSender
from bot.errors import CannotStart
from bot.slack.home import Home
from bot.slack.listeners import SlackListeners
from bot.slack.members import Members
from bot.slack.sender import SlackSender
from core import wording
from core.chat import ChatDesk, Content, Conversation, Platform

log = logs.get("bot.slack")
EVENTS_PATH = "/slack/events"
RATE_LIMIT_RETRIES = 10  # slack_sdk's handler retries a 429 once by default: Slack asks us to wait
SOCKET_START_SECONDS = 10.0


class SlackSurface:
    """bot.chat.surface.Surface for Slack."""

    platform = Platform.SLACK

    def __init__(
        self,
        chat: ChatDesk,
        *,
        bot_token: str,
        signing_secret: str,
        api_url: str,
        app_token: str | None = None,
    ) -> None:
        bolt_log = logging.getLogger("slack_bolt.juneplum")
        bolt_log.setLevel(logging.WARNING)
        # Interactive calls (updates, modals, ephemeral answers) wait out a rate limit; the
        # deliveries' client hands it back to the outbox instead (bot.slack.sender).
        self.client = AsyncWebClient(
            token=bot_token,
            base_url=api_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
                AsyncServerErrorRetryHandler(max_retry_count=2),
            ],
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            process_before_response=True,
            logger=bolt_log,
        )
        self.members = Members(self.client)
        self.home = Home(chat, self.members, self.client)
        SlackListeners(chat, self.client, self.members, self.home).register(self.app)
        self.sender: ChatSender = _RefreshingHome(
            SlackSender(AsyncWebClient(token=bot_token, base_url=api_url)), self.home
        )
        self._handler = AsyncSlackRequestHandler(self.app)
        self._app_token = app_token
        self._signing_secret = signing_secret
        self._socket: object | None = None

    def mount(self, api: FastAPI) -> None:
        if not self._signing_secret:  # Socket Mode only: nothing may come in over HTTP
            return

        @api.post(EVENTS_PATH, include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            """Every request Slack sends: Bolt checks its signature and dispatches it."""
            body = await request.body()
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return JSONResponse({"error": "invalid request"}, status_code=400)
            return await self._handler.handle(request)

    async def start(self) -> None:
        """With an app token, connect over Socket Mode; a token Slack refuses, or a Slack
        that doesn't answer, stops `serve` with a plain message (slack_sdk alone would retry
        for ever, before the API even listens)."""
        if not self._app_token:
            return
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        try:
            async with asyncio.timeout(SOCKET_START_SECONDS):
                opened = await self.client.apps_connections_open(app_token=self._app_token)
                if not opened.get("ok") or not opened.get("url"):
                    raise CannotStart(wording.SOCKET_MODE_REFUSED)
                socket = AsyncSocketModeHandler(self.app, self._app_token)
                await socket.connect_async()  # type: ignore[no-untyped-call]
        except SlackApiError:
            raise CannotStart(wording.SOCKET_MODE_REFUSED) from None
        except (TimeoutError, aiohttp.ClientError):
            raise CannotStart(wording.SLACK_UNREACHABLE) from None
        self._socket = socket
        log.info("slack.socket_mode")

    async def stop(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close_async()  # type: ignore[attr-defined]


class _RefreshingHome:
    """The deliveries' sender, refreshing the App Home tabs that show the business after
    each card or redraw it delivers."""

    platform = Platform.SLACK

    def __init__(self, sender: SlackSender, home: Home) -> None:
        self._sender = sender
        self._home = home
        self.pace: timedelta = sender.pace

    async def post(self, conversation: Conversation, content: Content) -> str:
        ref = await self._sender.post(conversation, content)
        if conversation.business_id is not None:
            self._home.changed(conversation.business_id)
        return ref

    async def edit(self, conversation: Conversation, message_ref: str, content: Content) -> None:
        await self._sender.edit(conversation, message_ref, content)
        if conversation.business_id is not None:
            self._home.changed(conversation.business_id)
