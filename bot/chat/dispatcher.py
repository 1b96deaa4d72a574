"""Delivers chat cards and notices from the outbox: each conversation's in order, paced.

Every tick claims the conversations that have something due (storage.outbox.claim_chat) and
starts one task per conversation, which sends its deliveries one after another, at the
platform's pace. A conversation's deliveries never overtake each other: when the platform says
"retry after N seconds", or a send fails for a while, the rest of that conversation's claim is
handed back to wait behind it. A card is drawn when it is sent, so it always shows the
booking's latest state.

A crash between the platform's acceptance and our mark leaves the row claimed; when the lease
runs out it is sent again: the same window as mail, only on a crash.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from bot import logs
from bot.chat.sending import ChatSender, ConversationGone, MessageGone, SendFailed
from core.chat import ChatDesk, ChatKind, Content, Conversation, Platform, QueuedChat
from core.clock import Clock
from core.notifications import RetryPolicy
from storage.conversations import SqlConversations
from storage.outbox import SqlOutbox

log = logs.get("bot.chat")
T = TypeVar("T")
PACE_MEMORY = 10_000


@dataclass(frozen=True)
class ChatSettings:
    lanes: int = 32  # conversations served at once
    per_lane: int = 20  # deliveries of one conversation per claim
    lease: timedelta = timedelta(seconds=60)
    send_timeout: timedelta = timedelta(seconds=10)
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class ChatDispatcher:
    """One sender of chat deliveries; any number may run against PostgreSQL."""

    def __init__(
        self,
        outbox: SqlOutbox,
        conversations: SqlConversations,
        chat: ChatDesk,
        senders: Mapping[Platform, ChatSender],
        clock: Clock,
        settings: ChatSettings | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.conversations = conversations
        self.chat = chat
        self.senders = dict(senders)
        self.clock = clock
        self.settings = settings or ChatSettings()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:chat:{id(self):x}"
        self._lanes: set[asyncio.Task[None]] = set()
        self._last_send: dict[int, float] = {}  # conversation id -> monotonic time
        # sent, mark not yet written: (delivery, message posted, a prompt's bookings)
        self._unmarked: list[tuple[QueuedChat, str | None, tuple[int, ...]]] = []
        self._stopping = False

    def stop(self) -> None:
        """Claim nothing more; the sends in flight finish and are marked."""
        self._stopping = True

    @property
    def busy(self) -> bool:
        return bool(self._lanes)

    async def tick(self) -> int:
        """Claim what is due and start its conversations; returns how many deliveries."""
        if self._stopping or not self.senders or not await self._marks_written():
            return 0
        claimed_at = self.clock.now()
        platforms = [p.value for p in self.senders]
        if not await self.outbox.chat_due(claimed_at, platforms):  # a read: no write lock
            return 0
        claimed = await self.outbox.claim_chat(
            self.name,
            claimed_at,
            self.settings.lease,
            limit=self.settings.lanes * self.settings.per_lane,
            platforms=platforms,
            lanes=self.settings.lanes,
            per_lane=self.settings.per_lane,
        )
        if not claimed:
            return 0
        lanes: dict[int, list[QueuedChat]] = {}
        for delivery in claimed:
            lanes.setdefault(delivery.conversation_id, []).append(delivery)
        found = await self.conversations.by_ids(list(lanes))
        deadline = claimed_at + self.settings.lease - self.settings.send_timeout
        drawn = _Drawn(self.chat)
        for conversation_id, deliveries in lanes.items():
            task = asyncio.create_task(
                self._lane(found.get(conversation_id), deliveries, deadline, drawn),
                name=f"chat-lane-{conversation_id}",
            )
            self._lanes.add(task)
            task.add_done_callback(self._lanes.discard)
        return len(claimed)

    async def drain(self) -> int:
        """Deliver until nothing is due and no conversation is in progress; returns how many
        deliveries were claimed (tests, and the benchmark)."""
        sent = 0
        while True:
            claimed = await self.tick()
            sent += claimed
            if self._lanes:
                await asyncio.wait(set(self._lanes))
            elif not claimed:
                return sent

    async def wait(self, grace_seconds: float) -> None:
        """Let the conversations in progress finish (bounded), as shutdown does."""
        if self._lanes:
            await asyncio.wait(set(self._lanes), timeout=grace_seconds)

    async def _lane(
        self,
        conversation: Conversation | None,
        deliveries: list[QueuedChat],
        deadline: datetime,
        drawn: _Drawn,
    ) -> None:
        """One conversation's claimed deliveries, in order; whatever goes wrong, none is left
        claimed and none is tried twice at once."""
        for i, delivery in enumerate(deliveries):
            rest = [d.id for d in deliveries[i + 1 :]]
            try:
                goes_on = await self._one(conversation, delivery, rest, deadline, drawn)
            except Exception as exc:  # our bug, or the database: this one backs off, alone
                log.error("chat.delivery_failed", id=delivery.id, error=type(exc).__name__)
                goes_on = await self._failed(delivery, SendFailed(type(exc).__name__), rest)
            if not goes_on:
                return

    async def _one(
        self,
        conversation: Conversation | None,
        delivery: QueuedChat,
        rest: list[int],
        deadline: datetime,
        drawn: _Drawn,
    ) -> bool:
        """Send one delivery; whether the lane goes on to the next."""
        sender = self.senders.get(conversation.key.platform) if conversation else None
        if conversation is None or sender is None:
            await self.outbox.release([delivery.id, *rest], self.name, self.clock.now())
            return False
        await self._paced(conversation.id, sender.pace)
        if self._stopping or self.clock.now() >= deadline:
            await self.outbox.release([delivery.id, *rest], self.name, self.clock.now())
            return False
        # Still ours, and its conversation still linked to its business and reachable (an
        # unlink, a relink to another business or "gone" may have come meanwhile).
        if not await self.outbox.still_deliverable(delivery.id, self.name, self.clock.now()):
            await self.outbox.skip(delivery.id, self.name, "no longer linked or reachable")
            return True
        try:
            outcome = await self._deliver(sender, conversation, delivery, drawn)
        except ConversationGone as gone:
            reason = str(gone) or "the platform says it is gone"
            await self.conversations.mark_unreachable(conversation.id, reason, self.clock.now())
            # Already unreachable or unlinked: these are skipped all the same, never retried.
            for delivery_id in (delivery.id, *rest):
                await self.outbox.skip(delivery_id, self.name, f"unreachable: {reason}"[:200])
            log.warning("chat.unreachable", conversation=conversation.id, reason=reason)
            return False
        except SendFailed as exc:
            return await self._failed(delivery, exc, rest)
        if outcome:
            log.info("chat.sent", id=delivery.id, kind=delivery.kind.value)
        else:
            await self.outbox.skip(delivery.id, self.name, "nothing to show")
        return True

    async def _deliver(
        self, sender: ChatSender, conversation: Conversation, delivery: QueuedChat, drawn: _Drawn
    ) -> bool:
        """Send one delivery and mark it; False when there was nothing to send. Only the
        platform's calls are timed out: a slow mark after an accepted post is no failure
        (a resend would double the card)."""
        content = await drawn.content(delivery, conversation)
        if content is None:
            return False
        if delivery.kind.shows_booking and delivery.booking_id is not None:
            ref = await self._timed(sender.post(conversation, content))
            await self._mark(delivery, ref)
            return True
        if delivery.kind is ChatKind.CLOSEOUT and content.prompt is not None:
            ref = await self._timed(sender.post(conversation, content))
            await self._mark(delivery, ref, content.prompt.booking_ids)
            return True
        if delivery.kind is ChatKind.REDRAW and delivery.booking_id is not None:
            shown = await self.conversations.shown_in(conversation.id, delivery.booking_id)
            for ref, prompt in shown:
                redrawn: Content | None = content
                if prompt is not None:  # a close-out prompt: redrawn whole
                    redrawn = await drawn.prompt(delivery.business_id, prompt)
                if redrawn is None:
                    continue
                try:
                    await self._timed(sender.edit(conversation, ref, redrawn))
                except MessageGone:
                    await self.conversations.forget_message(conversation.id, ref)
        else:
            await self._timed(sender.post(conversation, content))
        await self._mark(delivery, None)
        return True

    async def _mark(
        self, delivery: QueuedChat, posted: str | None, prompt: tuple[int, ...] = ()
    ) -> None:
        """Mark a delivery sent (with the message it posted, and the bookings of a close-out
        prompt). A mark the database can't take now (a full disk) is kept here and written
        before anything new is claimed, so a sent card is never sent again by this
        process."""
        try:
            if not await self._write_mark(delivery, posted, prompt):
                log.warning("chat.lease_lost", id=delivery.id)
        except Exception as exc:
            log.warning("chat.unmarked", id=delivery.id, error=type(exc).__name__)
            self._unmarked.append((delivery, posted, prompt))

    async def _write_mark(
        self, delivery: QueuedChat, posted: str | None, prompt: tuple[int, ...] = ()
    ) -> bool:
        now = self.clock.now()
        if posted is not None:
            return await self.outbox.mark_posted(delivery, self.name, posted, now, prompt)
        return bool(await self.outbox.mark_sent_many([delivery.id], self.name, now))

    async def _marks_written(self) -> bool:
        """Write the marks kept from earlier; whether none is left."""
        left: list[tuple[QueuedChat, str | None, tuple[int, ...]]] = []
        for delivery, posted, prompt in self._unmarked:
            try:
                await self._write_mark(delivery, posted, prompt)
            except Exception:
                left.append((delivery, posted, prompt))
        self._unmarked = left
        return not left

    async def _timed(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.settings.send_timeout.total_seconds()):
                return await call
        except TimeoutError:
            raise SendFailed("the platform did not answer in time") from None

    async def _failed(self, delivery: QueuedChat, exc: SendFailed, rest: list[int]) -> bool:
        """Retry later, or give up on this one; whether the lane goes on now."""
        now = self.clock.now()
        error = str(exc)[:300]
        if exc.permanent or (exc.retry_after is None and now >= delivery.retry_until):
            await self.outbox.mark_chat_failed(delivery.id, self.name, error)
            log.warning("chat.failed", id=delivery.id, kind=delivery.kind.value, error=error)
            return True
        wait = (
            timedelta(seconds=exc.retry_after)
            if exc.retry_after is not None
            else self.settings.policy.delay(delivery.attempts)
        )
        retry_at = now + wait
        await self.outbox.mark_retry(delivery.id, self.name, retry_at, error)
        await self.outbox.release(rest, self.name, retry_at)
        log.info("chat.retry", id=delivery.id, retry_at=retry_at.isoformat(), error=error)
        return False

    async def _paced(self, conversation_id: int, pace: timedelta) -> None:
        """Wait until this conversation may take another send (this process's sends: with
        several instances, the platform's retry-after is the backstop)."""
        last = self._last_send.get(conversation_id)
        if last is not None:
            wait = last + pace.total_seconds() - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        if len(self._last_send) > PACE_MEMORY:  # forget conversations long quiet
            horizon = time.monotonic() - 60
            self._last_send = {c: t for c, t in self._last_send.items() if t > horizon}
        self._last_send[conversation_id] = time.monotonic()


class _Drawn:
    """Each card drawn once per tick, however many conversations it goes to.

    Why: a new booking in a business with ten linked conversations is ten deliveries of one
    card, and drawing it is three reads; on PostgreSQL (a round trip each) that was most of
    a delivery's cost, and chat deliveries/s missed its target under a burst (136/s in a slow
    hour). A card drawn for one tick is as fresh as the claim: a change after it queues a
    redraw, which a later tick draws anew. Notices are drawn per delivery (their words come
    from the delivery's own data).
    """

    def __init__(self, chat: ChatDesk) -> None:
        self._chat = chat
        self._cards: dict[tuple[ChatKind, int], asyncio.Future[Content | None]] = {}
        self._prompts: dict[tuple[int, tuple[int, ...]], asyncio.Future[Content | None]] = {}

    async def content(self, delivery: QueuedChat, conversation: Conversation) -> Content | None:
        if delivery.kind is ChatKind.NOTICE or delivery.booking_id is None:
            return await self._chat.content(delivery, conversation)
        key = (delivery.kind, delivery.booking_id)
        if key not in self._cards:
            drawing = asyncio.ensure_future(self._chat.content(delivery, conversation))
            self._cards[key] = drawing
        return await asyncio.shield(self._cards[key])

    async def prompt(self, business_id: int, booking_ids: list[int]) -> Content | None:
        """A close-out prompt redrawn, once per tick however many conversations show it."""
        key = (business_id, tuple(booking_ids))
        if key not in self._prompts:
            drawing = asyncio.ensure_future(self._chat.prompt_content(business_id, booking_ids))
            self._prompts[key] = drawing
        return await asyncio.shield(self._prompts[key])
