"""Posts and edits the chat layer's deliveries in Slack, and says what went wrong in the
chat layer's terms (bot.chat.sending): the dispatcher does order, pace and retries.

This client has no rate-limit retry handler of its own: a 429's Retry-After goes back to the
outbox, which holds the rest of that conversation behind it instead of sleeping in a send.
"""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.sending import ConversationGone, MessageGone, SendFailed
from bot.slack.blocks import content_blocks, fallback
from core import wording
from core.chat import Content, Conversation, Platform

# Slack's answers that mean the conversation can't be reached any more.
GONE = frozenset(wording.GONE_REASONS)
MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message"})


class SlackSender:
    """bot.chat.sending.ChatSender for Slack: one message per second per conversation."""

    platform = Platform.SLACK
    pace = timedelta(seconds=1)

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, conversation: Conversation, content: Content) -> str:
        try:
            sent = await self.client.chat_postMessage(
                channel=conversation.key.chat_id,
                text=fallback(content),
                blocks=content_blocks(content),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            raise _failure(exc) from None
        return str(sent["ts"])

    async def edit(self, conversation: Conversation, message_ref: str, content: Content) -> None:
        try:
            await self.client.chat_update(
                channel=conversation.key.chat_id,
                ts=message_ref,
                text=fallback(content),
                blocks=content_blocks(content),
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            failure = _failure(exc)
            if isinstance(exc, SlackApiError) and _error(exc) in MESSAGE_GONE:
                raise MessageGone(_error(exc)) from None
            raise failure from None


def _retry_after(exc: SlackApiError) -> float:
    for name, value in (exc.response.headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value))
            except ValueError:
                break
    return 1.0


def _error(exc: SlackApiError) -> str:
    data = exc.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _failure(exc: Exception) -> Exception:
    """Slack's answer as the chat layer's error."""
    if not isinstance(exc, SlackApiError):
        return SendFailed(f"can't reach Slack: {type(exc).__name__}")
    error, status = _error(exc), exc.response.status_code
    if status == 429 or error == "ratelimited":
        return SendFailed("ratelimited", retry_after=_retry_after(exc))
    if error in GONE:
        return ConversationGone(wording.GONE_REASONS.get(error, error))
    if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
        return SendFailed(f"Slack answered {status} {error}".strip())
    return SendFailed(f"Slack refused it: {error or status}", permanent=True)
