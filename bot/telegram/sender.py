"""Durable deliveries to Telegram: the chat layer's sender, and the pace of every message.

The dispatcher (bot/chat/dispatcher.py) keeps each chat's deliveries in order, one per `pace`;
this turns the Bot API's answers into the chat layer's errors, so it can wait when told to
(429 `retry_after`), stop sending to a chat that is gone (403: blocked, removed) and forget a
message someone deleted. `OverallPace` keeps the whole bot under Telegram's ~30 messages a
second, replies to the owner included. A group's own limit (20 a minute) is Telegram's to
enforce: its 429 says how long to wait, and the dispatcher waits that long.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from bot.chat.sending import ConversationGone, MessageGone, SendFailed
from bot.telegram import render
from core.chat import Content, Conversation, Platform

PACE = timedelta(seconds=1)  # Telegram: about one message a second per chat
MESSAGES_PER_SECOND = 30.0  # Telegram: about 30 a second overall
_PACED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendChatAction"})
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def not_modified(exc: BadRequest) -> bool:
    """An edit to what the message already shows: done, not an error."""
    return "message is not modified" in exc.message.lower()


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds (PTB 22 warns while it moves from int to timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def send_error(exc: TelegramError) -> Exception:
    """The chat layer's error for a Bot API error on a send or an edit."""
    if isinstance(exc, RetryAfter):
        return SendFailed(f"429 {exc.message}", retry_after=retry_seconds(exc))
    if isinstance(exc, Forbidden):  # blocked by the user, removed from the group
        return ConversationGone(exc.message)
    if isinstance(exc, ChatMigrated):  # a group became a supergroup with a new id
        return ConversationGone(f"{exc.message}: link the new group with a new code")
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        if "chat not found" in text:
            return ConversationGone(exc.message)
        if "message to edit not found" in text or "message can't be edited" in text:
            return MessageGone(exc.message)
        return SendFailed(f"400 {exc.message}", permanent=True)
    return SendFailed(f"{type(exc).__name__}: {exc.message}")


class TelegramSender:
    """Implements bot.chat.sending.ChatSender with a python-telegram-bot Bot."""

    platform: Platform = Platform.TELEGRAM

    def __init__(self, bot: Bot, pace: timedelta = PACE) -> None:
        self.bot = bot
        self.pace = pace

    async def post(self, conversation: Conversation, content: Content) -> str:
        message = render.content(content)
        try:
            sent = await self.bot.send_message(
                chat_id=int(conversation.key.chat_id),
                text=message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=message.markup,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramError as exc:
            raise send_error(exc) from None
        return str(sent.message_id)

    async def edit(self, conversation: Conversation, message_ref: str, content: Content) -> None:
        message = render.content(content)
        try:
            await self.bot.edit_message_text(
                chat_id=int(conversation.key.chat_id),
                message_id=int(message_ref),
                text=message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=message.markup,  # type: ignore[arg-type]  # cards: inline only
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if not_modified(exc):
                return
            raise send_error(exc) from None
        except TelegramError as exc:
            raise send_error(exc) from None


class OverallPace(BaseRateLimiter[None]):
    """Spaces the bot's messages (sends and edits) at most `per_second` apart, whoever sends
    them; everything else (answers to taps, polling) goes at once."""

    def __init__(self, per_second: float = MESSAGES_PER_SECOND) -> None:
        self._gap = 1.0 / per_second
        self._next = 0.0

    async def initialize(self) -> None:
        self._next = 0.0

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint in _PACED:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._gap
            if slot > now:
                await asyncio.sleep(slot - now)
        return await callback(*args, **kwargs)
