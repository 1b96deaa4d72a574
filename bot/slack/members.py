"""Who may act for a business in Slack: members of a conversation linked to it.

A button can be pressed by anyone who can see a message (a public channel's preview, a
shared channel), so every action checks that the person is a member of a linked conversation.
Members are asked of Slack (`conversations.members`) and remembered for a minute per
conversation: a burst of taps in one channel costs Slack one call, and someone removed from
the channel loses the right within that minute.
"""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs

log = logs.get("bot.slack")
REMEMBER_SECONDS = 60.0
MAX_PAGES = 20  # 20,000 members: past that, the channel is too big to be a business's desk


class Members:
    """Channel members, asked of Slack and remembered for a minute."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._known: dict[str, tuple[float, frozenset[str]]] = {}

    async def is_member(self, channel: str, user: str) -> bool:
        """Whether `user` is in `channel`; False also when Slack can't tell us now (that
        answer is not remembered: the next tap asks again)."""
        known = self._known.get(channel)
        if known is None or time.monotonic() - known[0] > REMEMBER_SECONDS:
            members = await self._ask(channel)
            if members is None:
                return False
            known = (time.monotonic(), members)
            self._known[channel] = known
        return user in known[1]

    async def _ask(self, channel: str) -> frozenset[str] | None:
        found: set[str] = set()
        cursor: str | None = None
        try:
            for _ in range(MAX_PAGES):
                page = await self._client.conversations_members(
                    channel=channel, limit=1000, cursor=cursor
                )
                members: list[str] = page.get("members") or []
                found.update(str(m) for m in members)
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error", "") if isinstance(data, dict) else exc.response.status_code
            log.warning("slack.members_unknown", error=str(error))
            return None
        return frozenset(found)
