"""Telegram as one chat surface of `juneplum serve`: a python-telegram-bot Application.

Long polling by default (no public address needed). With PUBLIC_URL, serve registers
`<PUBLIC_URL>/telegram/webhook` with its secret and Telegram posts updates to that route on
the service's own ASGI server; a request without the secret gets 403 and is not read. The
Application is started and stopped here, not by FastAPI's lifespan (serve runs without one).

The bot token is part of every Bot API URL, and httpx logs each URL at INFO: httpx is kept to
warnings, and every log line passes a filter that blanks the token wherever it would appear.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from telegram import BotCommand, Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot import logs
from bot.chat.sending import ChatSender
from bot.errors import CannotStart
from bot.settings import Settings
from bot.telegram.handlers import ALLOWED_UPDATES, TelegramChat
from bot.telegram.sender import PACE, OverallPace, TelegramSender
from core import wording
from core.chat import ChatDesk, Platform

log = logs.get("bot.telegram")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header's name
POLL_TIMEOUT = timedelta(seconds=10)  # a long poll; stop() cuts it short
CONFLICT_WINDOW_SECONDS = 30.0  # a 409 this soon after we began polling: we are the second
CONCURRENT_UPDATES = 32


class TokenFilter(logging.Filter):
    """Blanks the bot token in any log record (a URL in httpx's or PTB's lines)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.token in text:
            record.msg, record.args = text.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


class TelegramSurface:
    """Implements bot.chat.surface.Surface."""

    platform: Platform = Platform.TELEGRAM

    def __init__(
        self,
        token: str,
        chat: ChatDesk,
        *,
        api_url: str = "https://api.telegram.org",
        public_url: str | None = None,
        webhook_secret: str | None = None,
        pace: timedelta = PACE,
        poll_timeout: timedelta = POLL_TIMEOUT,
    ) -> None:
        # PTB 22 warns on every RetryAfter until this opts in to its next major's timedeltas.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        if public_url and not webhook_secret:
            raise CannotStart("PUBLIC_URL needs TELEGRAM_WEBHOOK_SECRET: a webhook without it.")
        self.api_url = api_url.rstrip("/")
        self.public_url = public_url.rstrip("/") if public_url else None
        self._secret = (webhook_secret or "").encode()
        self._poll_timeout = poll_timeout
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{self.api_url}/bot")
            .base_file_url(f"{self.api_url}/file/bot")
            .rate_limiter(OverallPace())
            .concurrent_updates(CONCURRENT_UPDATES)
            .job_queue(None)
        )
        if self.public_url:
            builder = builder.updater(None)
        self.app: Application = builder.build()  # type: ignore[type-arg]
        self.handlers = TelegramChat(chat)
        self.handlers.register(self.app)
        self.sender: ChatSender = TelegramSender(self.app.bot, pace)
        self._filter = TokenFilter(token)
        self._polling_since: float | None = None
        self.conflict_window = CONFLICT_WINDOW_SECONDS
        self._conflict: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, chat: ChatDesk) -> TelegramSurface:
        token, secret = settings.telegram_bot_token, settings.telegram_webhook_secret
        if token is None:
            raise CannotStart("TELEGRAM_BOT_TOKEN is not set.")
        return cls(
            token.get_secret_value(),
            chat,
            api_url=settings.telegram_api_url,
            public_url=settings.public_url,
            webhook_secret=secret.get_secret_value() if secret else None,
        )

    @property
    def webhook_url(self) -> str | None:
        return f"{self.public_url}{WEBHOOK_PATH}" if self.public_url else None

    @property
    def polling(self) -> bool:
        updater = self.app.updater
        return updater is not None and updater.running

    def mount(self, api: FastAPI) -> None:
        """The webhook route, when there is a public URL (polling needs none)."""
        if self.public_url:
            api.add_api_route(WEBHOOK_PATH, self.webhook, methods=["POST"], include_in_schema=False)

    async def webhook(self, request: Request) -> Response:
        """Take an update Telegram posted; only with the secret registered with it."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._secret or not hmac.compare_digest(given, self._secret):
            return Response(status_code=403)
        if not self.app.running:  # starting or stopping: Telegram sends it again later
            return Response(status_code=503)
        try:
            data: Any = json.loads(await request.body())
            update = Update.de_json(data, self.app.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None:
            return Response(status_code=400)
        await self.app.update_queue.put(update)
        return Response(status_code=200)

    async def start(self) -> None:
        """Check the token (getMe), register the commands, then a webhook or long polling."""
        self._hide_token()
        try:
            await self.app.initialize()
            await self.app.bot.set_my_commands(
                [BotCommand(name, about) for name, about in wording.TELEGRAM_COMMANDS]
            )
            await self.app.start()
            if self.webhook_url:
                await self.app.bot.set_webhook(
                    url=self.webhook_url,
                    secret_token=self._secret.decode(),
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            else:
                await self._start_polling()
        except InvalidToken:
            await self._abandon()
            raise CannotStart(
                "Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather (/token)."
            ) from None
        except TelegramError as exc:
            await self._abandon()
            raise CannotStart(
                f"Telegram can't be reached at {self.api_url}: {exc.message}"
            ) from None
        log.info(
            "telegram.started",
            bot=self.app.bot.username,
            mode="webhook" if self.webhook_url else "polling",
        )

    async def _abandon(self) -> None:
        """A start that failed: stop what started, and close the client getMe opened (an
        Application that never initialised doesn't close it on shutdown)."""
        await self.stop()
        await self.app.bot.request.shutdown()

    async def _start_polling(self) -> None:
        updater = self.app.updater
        if updater is None:  # pragma: no cover - built without one only for a webhook
            return
        self._polling_since = time.monotonic()
        await updater.start_polling(
            timeout=self._poll_timeout,
            allowed_updates=list(ALLOWED_UPDATES),
            error_callback=self._polling_failed,
        )

    def _polling_failed(self, exc: TelegramError) -> None:
        """A failed getUpdates. A 409 soon after we began means another instance polls with
        this token: this one stops polling and says why; the one already running carries on."""
        since = self._polling_since
        if (
            isinstance(exc, Conflict)
            and since is not None
            and time.monotonic() - since < self.conflict_window
            and self._conflict is None
        ):
            log.error(
                "telegram.polling_conflict",
                reason="another instance is polling with this bot token (409 Conflict), so "
                "this one stops polling; stop the other one, or set PUBLIC_URL for a webhook",
            )
            self._conflict = asyncio.get_running_loop().create_task(self._stop_polling(quiet=True))
            return
        log.warning("telegram.polling_failed", error=type(exc).__name__)

    async def _stop_polling(self, *, quiet: bool = False) -> None:
        """Stop polling. `quiet`: after a conflict, PTB's last getUpdates (which confirms the
        offset) is refused too; its traceback would only repeat what we said."""
        updater = self.app.updater
        if updater is None or not updater.running:
            return
        updater_log = logging.getLogger("telegram.ext.Updater")
        level = updater_log.level
        if quiet:
            updater_log.setLevel(logging.CRITICAL)
        try:
            await updater.stop()
        finally:
            updater_log.setLevel(level)
        log.info("telegram.polling_stopped")

    async def stop(self) -> None:
        """Stop receiving, let handlers in flight finish, close the HTTP clients."""
        try:
            if self._conflict is not None:
                await self._conflict
            await self._stop_polling()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        finally:
            self._remove_token_filter()

    def _hide_token(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._filter)

    def _remove_token_filter(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self._filter)
