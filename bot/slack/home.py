"""The App Home tab: a live dashboard for each business the person can act for.

For each business linked to a channel of the team that the person is a member of: bookings
awaiting confirmation first, today's and this week's schedule, the week as bookings per day,
and a search box. Published when the tab is opened and again, a moment later, when that
business's bookings change (this process remembers who looked, for a day).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.slack import blocks
from bot.slack.members import Members
from core import wording
from core.chat import ChatDesk, ConversationKey, Platform
from core.model import Actor, ActorKind, Business, Channel
from core.periods import local_today
from core.replies import BookingList, Reply

log = logs.get("bot.slack")
REMEMBER_VIEWERS_S = 24 * 3600
REFRESH_AFTER_S = 1.0  # changes that come together refresh a tab once
MAX_BUSINESSES = 3  # App Home holds 100 blocks
LIST_LINES = 10


class Home:
    """The App Home tab of each person, and who is looking at it."""

    def __init__(
        self,
        chat: ChatDesk,
        members: Members,
        client: AsyncWebClient,
    ) -> None:
        self.chat = chat
        self.members = members
        self.client = client
        self._viewers: dict[tuple[str, str], tuple[float, frozenset[int]]] = {}
        self._due: set[tuple[str, str]] = set()
        self._refreshing: asyncio.Task[None] | None = None

    async def businesses_for(self, team: str, user: str) -> list[tuple[Business, str]]:
        """The businesses the person may act for, each with a linked channel of theirs."""
        found: dict[int, tuple[Business, str]] = {}
        for conversation in await self.chat.conversations.linked_in(Platform.SLACK, team):
            business_id = conversation.business_id
            if business_id is None or business_id in found:
                continue
            if await self.members.is_member(conversation.key.chat_id, user):
                business = await self.chat.desk.business(business_id)
                found[business_id] = (business, conversation.key.chat_id)
        return list(found.values())[:MAX_BUSINESSES]

    async def conversation_for(
        self, team: str, user: str, body: dict[str, Any]
    ) -> ConversationKey | None:
        """A tap on the Home tab acts through a linked channel of the card's business that
        the person is a member of (the business rides in the block id, never trusted)."""
        block_id = str(body["actions"][0].get("block_id") or "")
        business_id = block_id.removeprefix("b").partition(":")[0]
        for business, channel in await self.businesses_for(team, user):
            if str(business.id) == business_id:
                return ConversationKey(Platform.SLACK, team, channel)
        return None

    async def publish(self, team: str, user: str, search: str = "") -> None:
        mine = await self.businesses_for(team, user)
        self._viewers[(team, user)] = (time.monotonic(), frozenset(b.id for b, _ in mine))
        view = {"type": "home", "blocks": await self._blocks(mine, user, search)}
        try:
            await self.client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            data = exc.response.data
            error = data.get("error") if isinstance(data, dict) else exc.response.status_code
            log.warning("slack.home_failed", error=str(error))

    def changed(self, business_id: int) -> None:
        """A business's bookings changed: refresh the tabs showing it, soon and once."""
        now = time.monotonic()
        for viewer, (seen, businesses) in list(self._viewers.items()):
            if now - seen > REMEMBER_VIEWERS_S:
                del self._viewers[viewer]
            elif business_id in businesses:
                self._due.add(viewer)
        if self._due and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh_due())

    async def _refresh_due(self) -> None:
        """Refresh what is due, again while changes keep coming; one tab's failure is logged
        and the others still refresh."""
        try:
            while self._due:
                await asyncio.sleep(REFRESH_AFTER_S)
                due, self._due = self._due, set()
                for team, user in due:
                    try:
                        await self.publish(team, user)
                    except Exception as exc:
                        log.warning("slack.home_failed", error=type(exc).__name__)
        finally:
            self._refreshing = None

    async def _blocks(
        self, mine: list[tuple[Business, str]], user: str, search: str
    ) -> list[dict[str, Any]]:
        if not mine:
            return [blocks.section(wording.HOME_NOT_LINKED)]
        shown: list[dict[str, Any]] = [
            {
                "type": "input",
                "block_id": "search",
                "dispatch_action": True,
                "label": blocks.plain(wording.HOME_SEARCH_LABEL, 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": blocks.HOME_SEARCH,
                    "initial_value": search[:200],
                },
            }
        ]
        actor = Actor(ActorKind.OWNER, Channel.SLACK, "", user)
        for business, _ in mine:
            shown.append({"type": "header", "text": blocks.plain(business.name, 150)})
            views = [("pending", wording.HOME_PENDING), ("today", "Today")]
            if search:
                views.insert(0, (f"search {search}", f"Search “{search}”"))
            views.append(("week", "This week"))
            for n, (command, title) in enumerate(views):
                reply = await self.chat.desk.handle(business.id, command, actor)
                shown.extend(_section(business, n, title, reply))
            shown.append(await self._week_counts(business))
            shown.append({"type": "divider"})
        return shown[:100]

    async def _week_counts(self, business: Business) -> dict[str, Any]:
        """The week as bookings per day (every booking counted, not a page of them)."""
        today = local_today(self.chat.clock.now(), business.zone)
        days = [today + timedelta(days=i) for i in range(-today.weekday(), 7 - today.weekday())]
        counts: dict[date, int] = {}
        for year, month in sorted({(d.year, d.month) for d in days}):
            counts |= (await self.chat.desk.calendar(business, year, month)).counts
        line = "  ·  ".join(f"{d:%a} {d.day}: {counts.get(d, 0)}" for d in days)
        return blocks.context(line if any(counts.get(d) for d in days) else wording.HOME_EMPTY_WEEK)


def _section(business: Business, n: int, title: str, reply: Reply) -> list[dict[str, Any]]:
    """One list of the tab; each line's block id names the business (for taps) and the
    list (a booking may be in two lists, and Slack refuses a view with a repeated id)."""
    out: list[dict[str, Any]] = [blocks.section(f"*{title}*")]
    if not isinstance(reply, BookingList) or not reply.page.bookings:
        text = reply.empty_text if isinstance(reply, BookingList) else getattr(reply, "text", "")
        out.append(blocks.context(text or "—"))
        return out
    _, lines = blocks.reply_blocks(reply)
    shown = [line for line in lines if line.get("accessory")]
    for line, booking in zip(shown, reply.page.bookings, strict=False):
        out.append(dict(line, block_id=f"b{business.id}:{n}:{booking.id}"))
    return out[: LIST_LINES + 1]
