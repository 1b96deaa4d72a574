"""The port a chat platform implements for durable delivery, and how it says what went wrong.

Each platform states its own pace (the gap between two sends to one conversation) and turns
its API's answers into these errors; the dispatcher does the rest, the same for every one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from core.chat import Content, Conversation, Platform


class SendFailed(Exception):
    """A send that didn't go through. `retry_after`: the platform said when to try again
    (a rate limit); `permanent`: trying again can't help (a malformed message)."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.permanent = permanent


class ConversationGone(Exception):
    """The platform says the conversation can't be reached any more (the bot was removed or
    blocked, the channel archived): nothing more is sent there until it is linked again."""


class MessageGone(Exception):
    """A message to edit no longer exists (deleted by someone): it is forgotten."""


class ChatSender(Protocol):
    """Posts and edits messages on one platform."""

    platform: Platform
    pace: timedelta  # at most one send per conversation per this much time

    async def post(self, conversation: Conversation, content: Content) -> str:
        """Post a message; returns the platform's id of it (a Slack ts, a Telegram
        message_id) so it can be edited later."""
        ...

    async def edit(self, conversation: Conversation, message_ref: str, content: Content) -> None:
        """Replace a posted message's content. An edit that changes nothing is no error."""
        ...
