"""The chat layer: conversations linked to businesses, taps on cards, and what each event
posts where. Slack, Telegram and the console call this; each only reads its platform's payload
and renders what comes back.

Who may act: any conversation linked to a business acts for it (a surface that knows more,
such as Slack's channel members, checks that before calling). Every change records the
surface, the person's platform id and display name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core import owners_day, periods, wording
from core.cards import ActionId, Card, Tap, read_tap
from core.clock import Clock
from core.commands import CommandError, SetDigest
from core.desk import Desk
from core.errors import (
    BookingNotFound,
    DomainError,
    IllegalMove,
    NoSuchLocalTime,
    NotMovable,
    StartInPast,
    StartTooFar,
)
from core.events import Event, EventKind
from core.lifecycle import RESCHEDULABLE, TRANSITIONS, Move, MoveOutcome, Status
from core.model import Actor, ActorKind, Booking, Business, Channel
from core.notifications import DeliveryStatus
from core.owners_day import Prompt
from core.replies import BookingCard, MoveDone, Problem, RefundMarked, Reply, Said

LINK_CODE_TTL = timedelta(hours=24)
_LINK_CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class Platform(StrEnum):
    SLACK = "slack"
    TELEGRAM = "telegram"
    CONSOLE = "console"

    @property
    def channel(self) -> Channel:
        return Channel(self.value)


@dataclass(frozen=True)
class ConversationKey:
    """A conversation as its platform names it: a Slack team's channel, a Telegram chat."""

    platform: Platform
    workspace: str  # the Slack team; "" where the platform has none
    chat_id: str


@dataclass(frozen=True)
class Person:
    """Someone acting in a conversation: their platform id and display name."""

    id: str
    name: str


@dataclass(frozen=True)
class Conversation:
    id: int
    key: ConversationKey
    business_id: int | None
    title: str = ""
    unreachable: bool = False

    @property
    def label(self) -> str:
        return self.title or self.key.chat_id


class LinkOutcome(StrEnum):
    LINKED = "linked"
    RELINKED = "relinked"  # already linked to that business (and reachable again)
    ELSEWHERE = "elsewhere"  # linked to another business: unlink first
    REFUSED = "refused"  # unknown, used or expired code: one answer for all three


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    business_id: int | None = None


def new_link_code() -> str:
    """A one-time code: 24 characters of A-Z a-z 0-9 _ - (144 random bits), short enough
    for Telegram's `?start=` deep link (64 characters at most)."""
    return secrets.token_urlsafe(18)


def code_digest(code: str) -> str:
    """Codes are stored only as digests."""
    return hashlib.sha256(code.encode()).hexdigest()


class Conversations(Protocol):
    """Conversations, their links to businesses, and the messages posted in them."""

    async def find(self, key: ConversationKey) -> Conversation | None: ...

    async def linked_in(self, platform: Platform, workspace: str) -> list[Conversation]:
        """The linked, reachable conversations of one workspace (a Slack team)."""
        ...

    async def add_link_code(self, business_id: int, digest: str, at: datetime) -> None: ...

    async def link(
        self, key: ConversationKey, title: str, digest: str, actor: Actor, at: datetime
    ) -> LinkResult:
        """Use a code to link a conversation, in one transaction: the code is spent only when
        the link is made (or renewed)."""
        ...

    async def unlink(self, key: ConversationKey, actor: Actor, at: datetime) -> int | None:
        """Unlink; the business it was linked to, or None when it wasn't."""
        ...

    async def record_message(
        self, conversation_id: int, booking_id: int, message_ref: str, at: datetime
    ) -> None:
        """Remember a message that shows a booking, so every change redraws it."""
        ...

    async def mark_unreachable(self, conversation_id: int, reason: str, at: datetime) -> bool:
        """The platform says the conversation is gone: nothing more is sent there until it is
        linked again, and the owner is told elsewhere. False when there was nothing to mark."""
        ...

    async def set_digest(self, conversation_id: int, setting: str) -> None:
        """The conversation's morning digest time ("07:30") or "off"."""
        ...


class ChatKind(StrEnum):
    """What a chat delivery does (the outbox's `kind` for chat rows)."""

    CARD = "chat.card"  # post a new booking's card
    REDRAW = "chat.redraw"  # edit every message that shows the booking
    NOTICE = "chat.notice"  # post a line the owner should read
    # The owner's day (core.owners_day), queued by its planner rather than by an event:
    CLOSEOUT = "chat.closeout"  # "Did #42 happen?", for the bookings in its data
    NUDGE = "chat.nudge"  # a pending booking's card: still waiting for a confirmation
    DIGEST = "chat.digest"  # the morning digest of its data's local day
    REFUNDS = "chat.refunds"  # refunds owed for more than 3 days (where the digest is off)

    @property
    def shows_booking(self) -> bool:
        """A message that shows a booking's card: every later change redraws it."""
        return self in (ChatKind.CARD, ChatKind.NUDGE)


class NoticeKind(StrEnum):
    CHANGED = "changed"  # a customer's or the system's change
    REFUND_ISSUED = "refund-issued"
    MAIL_FAILED = "mail-failed"
    UNREACHABLE = "unreachable"


def chat_for(event: Event) -> list[tuple[ChatKind, dict[str, Any]]]:
    """The chat deliveries an event causes in each linked conversation, with their data.

    A new booking posts its card; a change redraws every card of the booking. A change the
    owners didn't make themselves (a customer's cancellation) is also posted as a notice, and
    so are a refund marked issued and an email that failed for good.
    """
    if event.kind is EventKind.CREATED:
        return [(ChatKind.CARD, {})]
    if event.kind is EventKind.MAIL_FAILED:
        data = {"notice": NoticeKind.MAIL_FAILED.value, "kind": event.data.get("kind", "")}
        return [(ChatKind.NOTICE, data | {"error": str(event.data.get("error", ""))[:200]})]
    if event.kind is EventKind.REFUND_ISSUED:
        return [(ChatKind.REDRAW, {}), (ChatKind.NOTICE, change_said(event))]
    if event.actor.kind is ActorKind.OWNER:
        return [(ChatKind.REDRAW, {})]
    return [(ChatKind.REDRAW, {}), (ChatKind.NOTICE, change_said(event))]


def change_said(event: Event) -> dict[str, Any]:
    """A change's notice, as data: who did what, when, why."""
    refund = event.kind is EventKind.REFUND_ISSUED
    said = {
        "notice": (NoticeKind.REFUND_ISSUED if refund else NoticeKind.CHANGED).value,
        "actor": event.actor.describe(),
        "at": event.occurred_at.isoformat(),
        "what": wording.NOTES_BY_EVENT.get(
            event.kind.value, event.kind.value.removeprefix("booking.")
        ),
    }
    if event.data.get("reason"):
        said["reason"] = str(event.data["reason"])
    return said


@dataclass(frozen=True)
class QueuedChat:
    """One chat delivery in the durable outbox."""

    id: int
    business_id: int
    booking_id: int | None
    conversation_id: int
    kind: ChatKind
    data: dict[str, Any]
    recipient: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    retry_until: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Content:
    """What a delivery or a reply shows: a headline, a card, a notice, or a mix."""

    headline: str = ""
    card: Card | None = None
    notice: str | None = None
    prompt: Prompt | None = None  # a close-out prompt: several bookings, each its buttons


@dataclass(frozen=True)
class Acted:
    """The answer to a tap or a cancel: what to tell the person, and the card to redraw."""

    text: str
    card: Card | None
    ok: bool  # False: nothing changed (a stale card, a lost race, an illegal move)


@dataclass(frozen=True)
class ReasonPrompt:
    """Cancel was pressed: ask for an optional reason, then call `ChatDesk.cancel`."""

    booking_id: int
    drawn: Status
    question: str
    limit: int = wording.REASON_LIMIT


@dataclass(frozen=True)
class ReschedulePrompt:
    """Reschedule was pressed: ask for a new local date and time (the platform's own input),
    then call `ChatDesk.reschedule`. `day` and `at` are the booking's current local start,
    for the input to begin from."""

    booking_id: int
    drawn: Status
    question: str
    day: date
    at: time
    zone: str  # the business's IANA zone, in which the answer is read


@dataclass(frozen=True)
class Notice:
    text: str
    ok: bool = True
    business_id: int | None = None


ChatReply = Reply | Acted | ReasonPrompt | ReschedulePrompt | Notice

# Hears a tap's outcome (its words, whether it changed anything) before the card is redrawn.
Told = Callable[[str, bool], Awaitable[None]]


def cancel_reason(text: str | None) -> str | None:
    """An optional cancellation reason, trimmed; empty means none.

    Raises:
        CommandError: longer than the limit.
    """
    reason = (text or "").strip() or None
    if reason is not None and len(reason) > wording.REASON_LIMIT:
        raise CommandError(wording.REASON_TOO_LONG)
    return reason


@dataclass
class ChatDesk:
    """The desk as chat surfaces use it: conversation in, data out."""

    desk: Desk
    conversations: Conversations
    clock: Clock

    @staticmethod
    def actor(key: ConversationKey, person: Person) -> Actor:
        return Actor(ActorKind.OWNER, key.platform.channel, person.name, person.id)

    async def issue_link_code(self, business_id: int) -> str:
        """A fresh one-time code for a business (the digest is all that is stored).

        Raises:
            BusinessNotFound: no such business.
        """
        await self.desk.business(business_id)
        code = new_link_code()
        await self.conversations.add_link_code(business_id, code_digest(code), self.clock.now())
        return code

    async def link(
        self, key: ConversationKey, person: Person, code: str, title: str = ""
    ) -> Notice:
        code = code.strip()
        if not _LINK_CODE.match(code):
            return Notice(wording.LINK_REFUSED, ok=False)
        result = await self.conversations.link(
            key, title, code_digest(code), self.actor(key, person), self.clock.now()
        )
        if result.outcome is LinkOutcome.REFUSED or result.business_id is None:
            return Notice(wording.LINK_REFUSED, ok=False)
        business = await self.desk.business(result.business_id)
        if result.outcome is LinkOutcome.ELSEWHERE:
            return Notice(wording.linked_elsewhere(key.platform.value, business.name), ok=False)
        again = result.outcome is LinkOutcome.RELINKED
        return Notice(wording.linked(business.name, again), business_id=business.id)

    async def unlink(self, key: ConversationKey, person: Person) -> Notice:
        was = await self.conversations.unlink(key, self.actor(key, person), self.clock.now())
        if was is None:
            return Notice(wording.NOT_LINKED_ANYWHERE, ok=False)
        business = await self.desk.business(was)
        return Notice(wording.unlinked(business.name), business_id=business.id)

    async def shown(self, key: ConversationKey, booking_id: int, message_ref: str) -> None:
        """A surface posted a booking's card itself (a reply to `#42`): every later change
        redraws it too, as it redraws the alerts."""
        found = await self.conversations.find(key)
        if found is not None and found.business_id is not None:
            await self.conversations.record_message(
                found.id, booking_id, message_ref, self.clock.now()
            )

    async def business_of(self, key: ConversationKey) -> Business | None:
        """The business a conversation acts for; None when it isn't linked."""
        found = await self.conversations.find(key)
        if found is None or found.business_id is None:
            return None
        return await self.desk.business(found.business_id)

    async def gone(self, key: ConversationKey, reason: str) -> bool:
        """The platform told us, unasked, that a conversation is gone (the bot was removed or
        blocked): mark it unreachable, as a failed send would. False when it wasn't linked or
        was already marked."""
        found = await self.conversations.find(key)
        if found is None or found.business_id is None:
            return False
        return await self.conversations.mark_unreachable(found.id, reason, self.clock.now())

    async def command(self, key: ConversationKey, person: Person, text: str) -> Reply:
        """A typed line (`/bookings today`, `confirm 42`) from a conversation."""
        found = await self.conversations.find(key)
        if found is None or found.business_id is None:
            return Problem(wording.not_linked(key.platform.value))
        business = await self.desk.business(found.business_id)
        try:
            command = self.desk.parse(business, text)
        except CommandError as err:
            return Problem(str(err))
        if isinstance(command, SetDigest):  # a setting of this conversation
            await self.conversations.set_digest(found.id, command.setting)
            return Said(wording.digest_set(command.setting))
        return await self.desk.run(business, command, self.actor(key, person))

    async def tap(
        self,
        key: ConversationKey,
        person: Person,
        value: object,
        told: Told | None = None,
        *,
        closing_out: bool = False,
    ) -> Acted | ReasonPrompt | ReschedulePrompt | BookingCard | Problem:
        """A button pressed on a card. The payload is never trusted: the booking is read
        again, within the conversation's business, and the move applies only if the booking
        still has the status the card showed.

        `told`, if given, hears a move's outcome (its words, and whether it changed
        anything) as soon as the move is settled, before the card is drawn again: a surface
        that must answer a tap quickly (Telegram's toast) answers from it. `closing_out`: the
        button is a close-out prompt's, which acts only on an appointment that has ended (a
        prompt's buttons stay on screen after the booking is moved)."""
        business = await self.business_of(key)
        if business is None:
            return Problem(wording.not_linked(key.platform.value))
        tap = read_tap(value)
        if tap is None:
            return Problem(wording.UNKNOWN_BUTTON)
        move = tap.action.move
        if move is not None and move is not Move.CANCEL:  # the guarded move reads it itself
            actor = self.actor(key, person)
            return await self._move(business, tap, move, actor, told=told, closing_out=closing_out)
        try:
            booking = await self.desk.booking(business, tap.booking_id)
        except BookingNotFound as err:
            return Problem(wording.domain_error(err))
        if tap.action is ActionId.DETAILS:
            return BookingCard(business, booking, await self.desk.card(business, booking))
        if tap.action is ActionId.REFUND_ISSUED:
            return await self._refund(business, booking, self.actor(key, person))
        if tap.action is ActionId.RESCHEDULE:
            return await self._ask_when(business, booking, tap)
        if move is None:  # pragma: no cover - every other action is a move
            return Problem(wording.UNKNOWN_BUTTON)
        if booking.status is tap.drawn and move in TRANSITIONS[tap.drawn]:
            return ReasonPrompt(
                booking.id, tap.drawn, wording.cancel_question(booking, business.zone)
            )
        return await self._move(business, tap, move, self.actor(key, person))

    async def cancel(
        self,
        key: ConversationKey,
        person: Person,
        booking_id: int,
        drawn: Status,
        reason: str | None,
    ) -> Acted | Problem:
        """Finish a cancel started from a card, with the reason given (or none)."""
        business = await self.business_of(key)
        if business is None:
            return Problem(wording.not_linked(key.platform.value))
        try:
            cleaned = cancel_reason(reason)
        except CommandError as err:
            return Problem(str(err))
        tap = Tap(ActionId.CANCEL, booking_id, drawn)
        return await self._move(business, tap, Move.CANCEL, self.actor(key, person), cleaned)

    async def reschedule(
        self,
        key: ConversationKey,
        person: Person,
        booking_id: int,
        drawn: Status,
        day: date,
        at: time,
    ) -> Acted | Problem:
        """Finish a reschedule started from a card: move the booking to `day` `at` (local
        time of the business), if it still has the status the card showed.

        A Problem (nothing changed, the input can be corrected) for a time that is past, too
        far ahead or skipped by the clocks; an Acted for the rest, with the card to redraw."""
        business = await self.business_of(key)
        if business is None:
            return Problem(wording.not_linked(key.platform.value))
        actor = self.actor(key, person)
        try:
            start_at = _local_start(business, day, at)
            done = await self.desk.reschedule(business, booking_id, start_at, actor, drawn)
        except NotMovable as err:
            return await self._refused(business, booking_id, wording.domain_error(err))
        except DomainError as err:  # no such booking; past, too far: the input was wrong
            return Problem(wording.domain_error(err))
        applied = done.outcome is MoveOutcome.APPLIED
        text = wording.rescheduled(business, done.booking, done.moved_from, applied)
        return Acted(text, done.card, applied)

    def check_when(self, business: Business, day: date, at: time) -> str | None:
        """Why a new local start can't be taken (skipped by the clocks, past, too far), in
        words, or None: for a surface that validates its input before closing it."""
        try:
            self.desk.check_start(_local_start(business, day, at))
        except DomainError as err:
            return wording.domain_error(err)
        return None

    async def _ask_when(
        self, business: Business, booking: Booking, tap: Tap
    ) -> ReschedulePrompt | Acted | Problem:
        if booking.status is not tap.drawn:
            err = NotMovable(booking.id, booking.status, booking.last_move)
            return await self._refused(business, booking.id, wording.domain_error(err))
        if booking.status not in RESCHEDULABLE:
            err = NotMovable(booking.id, booking.status)
            return await self._refused(business, booking.id, wording.domain_error(err))
        local = booking.start_at.astimezone(business.zone)
        return ReschedulePrompt(
            booking.id,
            booking.status,
            wording.reschedule_question(booking, business.zone),
            local.date(),
            local.time().replace(second=0, microsecond=0, tzinfo=None),
            business.timezone,
        )

    async def _move(
        self,
        business: Business,
        tap: Tap,
        move: Move,
        actor: Actor,
        reason: str | None = None,
        told: Told | None = None,
        closing_out: bool = False,
    ) -> Acted | Problem:
        try:
            done = await self.desk.act(
                business, tap.booking_id, move, actor, reason, tap.drawn, closing_out=closing_out
            )
        except IllegalMove as err:
            text = wording.illegal_move(err)
            if told is not None:
                await told(text, False)
            return await self._refused(business, tap.booking_id, text)
        except DomainError as err:
            return Problem(wording.domain_error(err))
        text, ok = _move_text(done), done.outcome is MoveOutcome.APPLIED
        if told is not None:
            await told(text, ok)
        return Acted(text, await self.desk.card(business, done.booking), ok)

    async def _refund(self, business: Business, booking: Booking, actor: Actor) -> Acted | Problem:
        try:
            marked = await self.desk.refund_issued(business, booking.id, actor)
        except DomainError as err:
            return await self._refused(business, booking.id, wording.domain_error(err))
        text = wording.refund_marked(marked.booking, marked.outcome)
        ok = marked.outcome is MoveOutcome.APPLIED
        return Acted(text, await self.desk.card(business, marked.booking), ok)

    async def _refused(self, business: Business, booking_id: int, text: str) -> Acted | Problem:
        """Nothing changed: say why, and hand back the card as it is now to redraw."""
        try:
            booking = await self.desk.booking(business, booking_id)
        except BookingNotFound as err:
            return Problem(wording.domain_error(err))
        return Acted(text, await self.desk.card(business, booking), False)

    async def content(self, delivery: QueuedChat, conversation: Conversation) -> Content | None:
        """What a chat delivery shows, drawn now: a card always shows the latest state. None
        when there is nothing left to show (the booking is gone)."""
        business = await self.desk.business(delivery.business_id)
        booking: Booking | None = None
        card: Card | None = None
        if delivery.booking_id is not None:
            try:
                booking, card = await self.desk.drawn(business, delivery.booking_id)
            except BookingNotFound:
                return None
        if delivery.kind is ChatKind.CARD and card is not None:
            return Content(wording.new_booking(card.title), card)
        if delivery.kind is ChatKind.REDRAW and card is not None:
            return Content(wording.card_headline(card.title, card.status), card)
        if delivery.kind is ChatKind.NOTICE:
            text = notice_text(delivery.data, booking, business)
            return Content(notice=text) if text else None
        if delivery.kind is ChatKind.NUDGE and booking is not None and card is not None:
            # Checked just before sending: never for a booking no longer pending.
            if not owners_day.nudge_still_useful(booking, self.clock.now()):
                return None
            return Content(wording.nudge_headline(card.title), card)
        if delivery.kind is ChatKind.CLOSEOUT:
            return await self._closeout(business, [int(i) for i in delivery.data["bookings"]])
        if delivery.kind in (ChatKind.DIGEST, ChatKind.REFUNDS):
            return await self._daily(business, delivery)
        return None

    async def prompt_content(self, business_id: int, booking_ids: list[int]) -> Content | None:
        """A close-out prompt as it is now, to redraw it after an answer."""
        business = await self.desk.business(business_id)
        return await self._closeout(business, booking_ids, redraw=True)

    async def _closeout(
        self, business: Business, booking_ids: list[int], *, redraw: bool = False
    ) -> Content | None:
        """The prompt for these bookings; None when none is open any more (a prompt not yet
        sent is dropped then; one already sent is redrawn to show how each was closed)."""
        found: list[Booking] = []
        for booking_id in booking_ids:
            try:
                found.append(await self.desk.booking(business, booking_id))
            except BookingNotFound:
                continue
        now = self.clock.now()
        if not redraw and not any(owners_day.closeable(b, now) for b in found):
            return None
        prompt = owners_day.prompt_for(found, business, now)
        return Content(wording.CLOSEOUT_HEADLINE, prompt=prompt) if prompt else None

    async def _daily(self, business: Business, delivery: QueuedChat) -> Content | None:
        """The digest or the refunds nudge, drawn now; None when it has nothing to show or
        would be more than 2 hours late."""
        now = self.clock.now()
        due_at = datetime.fromisoformat(str(delivery.data["due_at"]))
        if now >= due_at + owners_day.DIGEST_STALE:
            return None
        if delivery.kind is ChatKind.REFUNDS:
            owed = await self.desk.refunds_overdue(business)
            return Content(notice=wording.refunds_nudge(owed, now)) if owed else None
        digest = await self.desk.digest(business, date.fromisoformat(str(delivery.data["day"])))
        return None if digest.empty else Content(notice=digest.text())

    async def event_content(self, event: Event) -> Content | None:
        """An event as a live alert, for a surface that follows the events stream itself
        (the console) instead of receiving deliveries."""
        business = await self.desk.business(event.business_id)
        try:
            booking, card = await self.desk.drawn(business, event.booking_id)
        except BookingNotFound:
            return None
        if event.kind is EventKind.CREATED:
            return Content(wording.new_booking(card.title), card)
        notices = [data for kind, data in chat_for(event) if kind is ChatKind.NOTICE]
        # A surface that can't edit what it showed is told of the owners' changes too.
        said = notices[0] if notices else change_said(event)
        return Content(notice=notice_text(said, booking, business), card=card)


def _local_start(business: Business, day: date, at: time) -> datetime:
    """A local start in UTC, for a move asked from a chat surface.

    Raises:
        NoSuchLocalTime: the clocks skip it.
        StartInPast / StartTooFar: a year at the calendar's edge (forged input), which
            can't be turned into UTC at all.
    """
    try:
        start_at = periods.local_start(day, at, business.zone)
    except OverflowError:
        naive = datetime.combine(day, at, tzinfo=UTC)
        raise StartInPast(naive) if day.year < 2000 else StartTooFar(naive) from None
    if start_at is None:
        raise NoSuchLocalTime(day, at, business.timezone)
    return start_at


def notice_text(data: dict[str, Any], booking: Booking | None, business: Business) -> str | None:
    """A notice delivery's words, from the data its event left."""
    try:
        kind = NoticeKind(str(data.get("notice")))
    except ValueError:
        return None
    zone = business.zone
    if kind is NoticeKind.UNREACHABLE:
        return wording.unreachable(
            str(data.get("platform", "")), str(data.get("title", "")), str(data.get("reason", ""))
        )
    if booking is None:
        return None
    if kind is NoticeKind.MAIL_FAILED:
        return wording.mail_failed(booking, str(data.get("kind", "")), str(data.get("error", "")))
    at = datetime.fromisoformat(str(data["at"])) if data.get("at") else booking.created_at
    return wording.change_notice(
        booking, str(data.get("what", "")), str(data.get("actor", "")), at, zone, data.get("reason")
    )


def _move_text(done: MoveDone | RefundMarked) -> str:
    if isinstance(done, RefundMarked):
        return wording.refund_marked(done.booking, done.outcome)
    text = wording.move_done(done.booking, done.move, done.outcome, done.business.zone)
    refund = wording.refund_line(done.booking, done.business.zone)
    if done.move is Move.CANCEL and done.outcome is MoveOutcome.APPLIED and refund:
        text += "\n" + refund
    return text
