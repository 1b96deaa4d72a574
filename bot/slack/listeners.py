"""Slack's requests, each read, answered through one chat-layer call, and rendered.

Every listener acks at once (Bolt answers Slack as soon as the ack returns:
`process_before_response`), and its work runs after, as a lazy listener: nothing slow or
remote ever delays the ack. The one exception is the cancel modal's submission, whose ack
carries the inline error for a reason that is too long.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date, time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.slack import blocks
from bot.slack.home import Home
from bot.slack.members import Members
from core import wording
from core.cards import Card, read_tap
from core.chat import (
    Acted,
    ChatDesk,
    Content,
    ConversationKey,
    Person,
    Platform,
    ReasonPrompt,
    ReschedulePrompt,
    cancel_reason,
)
from core.commands import CommandError
from core.replies import BookingCard, Problem

log = logs.get("bot.slack")

BUTTONS = re.compile(
    r"^jp_(prompt_)?(confirm|complete|cancel|refund_issued|details|no_show|reschedule)$"
)
PAGES = re.compile(rf"^{blocks.PAGE}_")
CONNECT, DISCONNECT = "connect", "disconnect"
SOMETHING_WRONG = wording.SOMETHING_WRONG
NOT_A_MEMBER = wording.NOT_A_MEMBER
# Set in the context by a Reschedule modal's ack that refused the time inline.
WHEN_REFUSED = "jp_when_refused"


async def ack_now(ack: AsyncAck) -> None:
    """Tell Slack at once that the request arrived; the work follows."""
    await ack()


def person_of(body: dict[str, Any]) -> Person:
    """Who is acting: a slash command names them in `user_id` / `user_name`, interactions
    in a `user` object."""
    if body.get("user_id"):
        user_id = str(body["user_id"])
        return Person(user_id, str(body.get("user_name") or user_id))
    user = body.get("user") or {}
    if isinstance(user, str):  # events name the user by id alone
        return Person(user, user)
    user_id = str(user.get("id", ""))
    return Person(user_id, str(user.get("name") or user.get("username") or user_id))


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    if isinstance(team, dict):
        return str(team.get("id", ""))
    return str(body.get("team_id") or (body.get("user") or {}).get("team_id") or "")


class SlackListeners:
    """The listeners, sharing the chat layer, Slack's client and the membership check."""

    def __init__(self, chat: ChatDesk, client: AsyncWebClient, members: Members, home: Home):
        self.chat = chat
        self.client = client
        self.members = members
        self.home = home

    def register(self, app: AsyncApp) -> None:
        """Every listener, in one readable block."""
        app.command("/bookings")(ack=ack_now, lazy=[guarded(self.on_command)])
        app.action(BUTTONS)(ack=ack_now, lazy=[guarded(self.on_button)])
        app.action(blocks.OVERFLOW)(ack=ack_now, lazy=[guarded(self.on_button)])
        app.action(PAGES)(ack=ack_now, lazy=[guarded(self.on_page)])
        app.action(blocks.HOME_SEARCH)(ack=ack_now, lazy=[guarded(self.on_home_search)])
        app.view(blocks.CANCEL_VIEW)(ack=self.ack_reason, lazy=[guarded(self.on_reason)])
        app.view(blocks.RESCHEDULE_VIEW)(ack=self.ack_when, lazy=[guarded(self.on_when)])
        app.event("app_home_opened")(ack=ack_now, lazy=[guarded(self.on_home_opened)])
        app.error(self.on_error)

    async def on_error(self, error: Exception) -> None:
        """Bolt's own failures: one line, never the request's body."""
        log.error("slack.error", error=type(error).__name__)

    # /bookings

    async def on_command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """`/bookings connect CODE`, `/bookings disconnect`, or the command language."""
        key = ConversationKey(Platform.SLACK, team_of(body), str(body.get("channel_id", "")))
        person = person_of(body)
        text = str(body.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        verb = word.lower()
        if verb == CONNECT or (verb == DISCONNECT and not rest.strip()):
            if verb == CONNECT:
                title = f"#{body.get('channel_name') or key.chat_id}"
                notice = await self.chat.link(key, person, rest, title=title)
            else:
                notice = await self.chat.unlink(key, person)
            await _answer(
                respond,
                text=blocks.fit(notice.text, blocks.FALLBACK_TEXT),
                response_type="in_channel" if notice.ok else "ephemeral",
            )
            return
        reply = await self.chat.command(key, person, text)
        fallback, shown = blocks.reply_blocks(reply)
        await _answer(respond, text=fallback, blocks=shown, response_type="ephemeral")

    async def on_page(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Next / Previous on a list: the same command for another page, in place."""
        key = self._key(body)
        value = str(body["actions"][0].get("value") or "")
        if key is None:
            return
        reply = await self.chat.command(key, person_of(body), value[:500])
        fallback, shown = blocks.reply_blocks(reply)
        await _answer(respond, text=fallback, blocks=shown, replace_original=True)

    # Buttons

    async def on_button(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """A card's button (or a list's overflow menu): act through the chat layer."""
        action = body["actions"][0]
        value = (action.get("selected_option") or {}).get("value") or action.get("value")
        in_prompt = str(action.get("action_id", "")).startswith(blocks.PROMPT)
        key = await self._acting_key(body)
        if key is None:
            await self._tell(body, respond, NOT_A_MEMBER)
            return
        person = person_of(body)
        result = await self.chat.tap(key, person, value, closing_out=in_prompt)
        if isinstance(result, ReasonPrompt):
            metadata = self._metadata(body, str(value), key)
            view = blocks.cancel_modal(metadata, f"#{result.booking_id}", result.question)
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        elif isinstance(result, ReschedulePrompt):
            metadata = self._metadata(body, str(value), key)
            view = blocks.reschedule_modal(metadata, result)
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        elif isinstance(result, BookingCard):
            view = blocks.details_modal(result.card)
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        elif isinstance(result, Acted):
            if _ephemeral(body):  # a list or a reply only this person sees: answer anew
                text, shown = _acted_blocks(result)
                await _answer(respond, text=text, blocks=shown, replace_original=False)
                return
            if not in_prompt:  # a close-out prompt is redrawn whole by the chat layer
                await self._redraw(body, result)
            if not result.ok:
                await self._tell(body, respond, result.text)
            if _from_home(body):
                await self.home.publish(team_of(body), person.id)
        elif isinstance(result, Problem):
            await self._tell(body, respond, result.text)

    async def ack_reason(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Refuse a reason over the limit inline, in the modal; otherwise close it."""
        try:
            cancel_reason(_reason(body))
        except CommandError as err:
            await ack(response_action="errors", errors={blocks.REASON_BLOCK: str(err)})
            return
        await ack()

    async def on_reason(self, body: dict[str, Any]) -> None:
        """The cancel modal was submitted: cancel, if the booking is still as it was."""
        try:
            meta = json.loads(body["view"].get("private_metadata") or "{}")
        except json.JSONDecodeError:
            return
        tap = read_tap(meta.get("tap"))
        channel = str(meta.get("channel") or "")
        if tap is None or not channel:
            return
        try:
            cancel_reason(_reason(body))
        except CommandError:
            return  # refused inline by the ack: the modal is still open
        key = ConversationKey(Platform.SLACK, team_of(body), channel)
        person = person_of(body)
        if not await self.members.is_member(channel, person.id):
            await self._ephemeral(channel, person.id, NOT_A_MEMBER)
            return
        result = await self.chat.cancel(key, person, tap.booking_id, tap.drawn, _reason(body))
        await self._answer_modal(channel, person.id, meta, result)

    async def ack_when(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Refuse a date or time that can't be taken inline, in the modal (past, too far,
        skipped by the clocks); otherwise close it. The verdict rides in the context to the
        work after the ack (Bolt copies it then), which must not judge the time again."""
        problem = await self._when_problem(body)
        if problem is not None:
            context[WHEN_REFUSED] = True
            await ack(response_action="errors", errors={blocks.TIME_BLOCK: problem})
            return
        await ack()

    async def on_when(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        """The Reschedule modal was submitted: move the booking, if it is still as it was.
        A time that passed since the ack closed the modal is told in an ephemeral message
        (the move refuses it)."""
        if context.get(WHEN_REFUSED):
            return  # refused inline by the ack: the modal is still open
        meta = _view_metadata(body)
        tap = read_tap(meta.get("tap"))
        channel = str(meta.get("channel") or "")
        when = _when(body)
        if tap is None or not channel or when is None:
            return
        key = ConversationKey(Platform.SLACK, team_of(body), channel)
        person = person_of(body)
        if not await self.members.is_member(channel, person.id):
            await self._ephemeral(channel, person.id, NOT_A_MEMBER)
            return
        result = await self.chat.reschedule(key, person, tap.booking_id, tap.drawn, *when)
        await self._answer_modal(channel, person.id, meta, result)

    async def _answer_modal(
        self, channel: str, person_id: str, meta: dict[str, Any], result: Acted | Problem
    ) -> None:
        """After a modal's move: redraw the card it was opened from; tell the person alone
        what went wrong."""
        if isinstance(result, Acted):
            if meta.get("ts") and result.card is not None:
                await self._update(channel, str(meta["ts"]), result)
            if not result.ok:
                await self._ephemeral(channel, person_id, result.text)
        else:
            await self._ephemeral(channel, person_id, result.text)

    async def _when_problem(self, body: dict[str, Any]) -> str | None:
        """Why the modal's date and time can't be taken, or None (the move itself says the
        rest: a booking changed meanwhile is answered after the modal closes)."""
        when = _when(body)
        if when is None:
            return wording.RESCHEDULE_PICK
        channel = str(_view_metadata(body).get("channel") or "")
        business = await self.chat.business_of(
            ConversationKey(Platform.SLACK, team_of(body), channel)
        )
        if business is None:
            return None  # the submission says why
        return self.chat.check_when(business, *when)

    # App Home

    async def on_home_opened(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            await self.home.publish(team_of(body), str(event.get("user", "")))

    async def on_home_search(self, body: dict[str, Any]) -> None:
        action = body["actions"][0]
        await self.home.publish(
            team_of(body), person_of(body).id, search=str(action.get("value") or "")[:200]
        )

    # Helpers

    def _key(self, body: dict[str, Any]) -> ConversationKey | None:
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        if not channel:
            return None
        return ConversationKey(Platform.SLACK, team_of(body), str(channel))

    async def _acting_key(self, body: dict[str, Any]) -> ConversationKey | None:
        """The linked conversation the person acts through, if they are one of its members:
        the channel the button is in, or (from App Home) one linked to the card's business."""
        person = person_of(body)
        if _from_home(body):
            return await self.home.conversation_for(team_of(body), person.id, body)
        key = self._key(body)
        if key is None or not await self.members.is_member(key.chat_id, person.id):
            return None
        return key

    def _metadata(self, body: dict[str, Any], value: str, key: ConversationKey) -> str:
        """What the cancel modal carries back: the tap, and the message to redraw."""
        container = body.get("container") or {}
        message = container.get("type") == "message" and not container.get("is_ephemeral")
        ts = container.get("message_ts") if message else None  # ephemerals can't be updated
        return json.dumps({"tap": value, "channel": key.chat_id, "ts": ts})

    async def _redraw(self, body: dict[str, Any], result: Acted) -> None:
        """Redraw the message the button was on, in place, with the card as it is now."""
        container = body.get("container") or {}
        if container.get("type") != "message" or container.get("is_ephemeral"):
            return
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if channel and ts and result.card is not None:
            await self._update(str(channel), str(ts), result)

    async def _update(self, channel: str, ts: str, result: Acted) -> None:
        if result.card is None:
            return
        content = redrawn(result.card)
        await self.client.chat_update(
            channel=channel,
            ts=ts,
            text=blocks.fallback(content),
            blocks=blocks.content_blocks(content),
        )

    async def _tell(self, body: dict[str, Any], respond: AsyncRespond, text: str) -> None:
        """A short answer only the person sees: in place, in the channel, or (from the Home
        tab, which has neither) in their direct messages with the app."""
        shown = blocks.fit(text, blocks.FALLBACK_TEXT)
        if body.get("response_url"):
            await _answer(respond, text=shown, response_type="ephemeral", replace_original=False)
            return
        key = self._key(body)
        if key is not None:
            await self._ephemeral(key.chat_id, person_of(body).id, text)
        else:
            await self.client.chat_postMessage(channel=person_of(body).id, text=shown)

    async def _ephemeral(self, channel: str, user: str, text: str) -> None:
        await self.client.chat_postEphemeral(
            channel=channel, user=user, text=blocks.fit(text, blocks.FALLBACK_TEXT)
        )


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("container") or {}).get("type") == "view" and (
        (body.get("view") or {}).get("type") == "home"
    )


def _view_metadata(body: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _when(body: dict[str, Any]) -> tuple[date, time] | None:
    """The modal's date and time, as picked (the business's local time); None if either is
    missing or malformed."""
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    day = ((values.get(blocks.DAY_BLOCK) or {}).get(blocks.DAY_INPUT) or {}).get("selected_date")
    at = ((values.get(blocks.TIME_BLOCK) or {}).get(blocks.TIME_INPUT) or {}).get("selected_time")
    try:
        return date.fromisoformat(str(day)), time.fromisoformat(str(at))
    except ValueError:
        return None


def _reason(body: dict[str, Any]) -> str | None:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    field = (values.get(blocks.REASON_BLOCK) or {}).get(blocks.REASON_INPUT) or {}
    value = field.get("value")
    return str(value) if value is not None else None


def guarded(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The adapter's one error handler for the work after an ack: whatever fails, one log
    line with its type (never the payload), and the person is told nothing was changed."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as exc:
            log.error(
                "slack.listener_failed",
                listener=listener.__name__,
                error=type(exc).__name__,
                slack_error=_slack_error(exc),
            )
            respond = kwargs.get("respond")
            body = kwargs.get("body") or {}
            if respond is not None and body.get("response_url"):
                with contextlib.suppress(Exception):
                    await respond(text=SOMETHING_WRONG, response_type="ephemeral",
                                  replace_original=False)  # fmt: skip

    return run


def _slack_error(exc: Exception) -> str:
    """Slack's error code (`invalid_blocks`, `ratelimited`): never a secret, and says why."""
    if isinstance(exc, SlackApiError) and isinstance(exc.response.data, dict):
        return str(exc.response.data.get("error", ""))
    return ""


async def _answer(respond: AsyncRespond, **message: Any) -> None:
    """Answer on the response URL; Slack refusing it (invalid blocks, an expired URL) is
    logged, not lost without a trace."""
    answered = await respond(**message)
    if answered.status_code != 200:
        log.warning("slack.answer_refused", status=answered.status_code, body=answered.body[:100])


def _ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def redrawn(card: Card) -> Content:
    """A card's message as every redraw shows it (the chat layer's headline)."""
    return Content(wording.card_headline(card.title, card.status), card)


def _acted_blocks(result: Acted) -> tuple[str, list[dict[str, Any]]]:
    shown: list[dict[str, Any]] = [blocks.section(result.text)]
    if result.card is not None:
        shown += blocks.card_blocks(result.card)
    return blocks.fit(result.text, blocks.FALLBACK_TEXT), shown[: blocks.MESSAGE_BLOCKS]
