"""An in-process chat platform for tests: it records every post and edit, and can be told to
answer as a real platform does when things go wrong (rate limited, a server error, gone)."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from bot.chat.sending import ConversationGone, SendFailed
from core.chat import Content, Conversation, Platform


@dataclass(frozen=True)
class Sent:
    chat_id: str
    ref: str
    content: Content

    @property
    def text(self) -> str:
        """Everything the message shows, as one string to search."""
        parts = [self.content.headline, self.content.notice or ""]
        card = self.content.card
        if card is not None:
            parts += [card.title, card.summary, card.status_line, *(f.value for f in card.fields)]
            parts += [*card.warnings, card.refund or "", *(a.label for a in card.actions)]
        return "\n".join(p for p in parts if p)


class FakePlatform:
    """Implements bot.chat.sending.ChatSender."""

    def __init__(self, platform: Platform = Platform.SLACK, pace: float = 0.0) -> None:
        self.platform = platform
        self.pace = timedelta(seconds=pace)
        self.delay = 0.0  # seconds each post takes
        self.posts: list[Sent] = []
        self.edits: list[Sent] = []
        self._next = 0
        self._trouble: dict[str, deque[Exception]] = defaultdict(deque)

    def answer_next(self, chat_id: str, *failures: Exception) -> None:
        """The next sends to `chat_id` fail like this, one each, then sends succeed again."""
        self._trouble[chat_id].extend(failures)

    def rate_limited(self, chat_id: str, seconds: float) -> None:
        self.answer_next(chat_id, SendFailed("ratelimited", retry_after=seconds))

    def server_error(self, chat_id: str) -> None:
        self.answer_next(chat_id, SendFailed("HTTP 500"))

    def gone(self, chat_id: str) -> None:
        self.answer_next(chat_id, ConversationGone("channel_not_found"))

    def _check(self, conversation: Conversation) -> None:
        trouble = self._trouble[conversation.key.chat_id]
        if trouble:
            raise trouble.popleft()

    async def post(self, conversation: Conversation, content: Content) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self._check(conversation)
        self._next += 1
        ref = f"m{self._next}"
        self.posts.append(Sent(conversation.key.chat_id, ref, content))
        return ref

    async def edit(self, conversation: Conversation, message_ref: str, content: Content) -> None:
        self._check(conversation)
        self.edits.append(Sent(conversation.key.chat_id, message_ref, content))

    def posted_to(self, chat_id: str) -> list[Sent]:
        return [s for s in self.posts if s.chat_id == chat_id]

    def edited_in(self, chat_id: str) -> list[Sent]:
        return [s for s in self.edits if s.chat_id == chat_id]
