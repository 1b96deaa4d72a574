"""Telegram updates in, one chat-layer call each, HTML messages out.

Who may do what is the chat layer's: a chat not linked to a business gets its one refusal
(`wording.not_linked`) whatever it sends, except `/start <code>`, which links it. In a linked
group anyone may act; the chat layer records who.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import logs
from bot.telegram import buttons, render
from bot.telegram.sender import NO_PREVIEW, not_modified
from core import slots, wording
from core.cards import ActionId, Tap
from core.chat import (
    Acted,
    ChatDesk,
    ConversationKey,
    Person,
    Platform,
    ReasonPrompt,
    ReschedulePrompt,
)
from core.lifecycle import Status
from core.replies import BookingCard, Problem

log = logs.get("bot.telegram")

Context = ContextTypes.DEFAULT_TYPE
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
# Each shortcut is a line of the command language; /bookings takes the line as typed.
SHORTCUTS = {
    "bookings": "",
    "today": "today",
    "pending": "pending",
    "search": "search",
    "calendar": "calendar",
    "revenue": "revenue",
    "help": "help",
}
SEEN_UPDATES = 10_000  # update ids remembered, so one delivered twice is handled once
OPEN_QUESTIONS = 1_000  # Cancel questions waiting for their reason
GONE = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


@dataclass(frozen=True)
class Question:
    """Cancel's question, waiting for a reply: which booking, and the card it came from."""

    booking_id: int
    drawn: Status
    card_message_id: int | None


def conversation(update: Update) -> ConversationKey:
    chat = update.effective_chat
    return ConversationKey(Platform.TELEGRAM, "", str(chat.id if chat else 0))


def person(update: Update) -> Person:
    user = update.effective_user
    return Person(str(user.id), user.full_name) if user else Person("", "someone")


class TelegramChat:
    """The bot's handlers, over the chat layer."""

    def __init__(self, chat: ChatDesk) -> None:
        self.chat = chat
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._questions: OrderedDict[tuple[int, int], Question] = OrderedDict()

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Every handler, in the order they are tried."""
        fresh = filters.UpdateType.MESSAGE  # edited messages are not asked again
        app.add_handler(TypeHandler(Update, self.once), group=-1)
        app.add_handler(CommandHandler("start", self.on_start, filters=fresh))
        app.add_handler(CommandHandler("unlink", self.on_unlink, filters=fresh))
        app.add_handler(CommandHandler(list(SHORTCUTS), self.on_command, filters=fresh))
        app.add_handler(
            MessageHandler(fresh & filters.REPLY & filters.TEXT & ~filters.COMMAND, self.on_reply)
        )
        app.add_handler(MessageHandler(fresh & filters.COMMAND, self.on_unknown_command))
        app.add_handler(
            MessageHandler(fresh & filters.TEXT & filters.ChatType.PRIVATE, self.on_text)
        )
        app.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(CallbackQueryHandler(self.on_tap))
        app.add_error_handler(self.on_error)

    async def once(self, update: Update, context: Context) -> None:
        """Drop an update delivered a second time (the same update_id)."""
        if update.update_id in self._seen:
            raise ApplicationHandlerStop
        self._seen[update.update_id] = None
        if len(self._seen) > SEEN_UPDATES:
            self._seen.popitem(last=False)

    async def on_start(self, update: Update, context: Context) -> None:
        """Link this chat with `/start <code>` (the deep link); `/start` alone is help."""
        if not context.args:
            await self._run(update, context, "start")
            return
        chat = update.effective_chat
        title = (chat.effective_name or "") if chat else ""
        linked = await self.chat.link(
            conversation(update), person(update), " ".join(context.args), title
        )
        await self._say(context, update, render.notice(linked))

    async def on_unlink(self, update: Update, context: Context) -> None:
        """Stop posting this business's bookings here."""
        key = conversation(update)
        if await self.chat.business_of(key) is None:
            await self._say(context, update, render.words(wording.not_linked("telegram")))
            return
        await self._say(context, update, render.notice(await self.chat.unlink(key, person(update))))

    async def on_command(self, update: Update, context: Context) -> None:
        """`/bookings <anything>`, or a shortcut: `/today`, `/pending`, `/search ana`…"""
        text = update.effective_message.text if update.effective_message else ""
        name, _, rest = (text or "").partition(" ")
        shortcut = SHORTCUTS.get(name.lstrip("/").split("@")[0].lower(), "")
        await self._run(update, context, f"{shortcut} {rest}".strip() or "today")

    async def on_text(self, update: Update, context: Context) -> None:
        """A line typed in a private chat, without a command: the same language."""
        message = update.effective_message
        await self._run(update, context, message.text or "" if message else "")

    async def on_unknown_command(self, update: Update, context: Context) -> None:
        """A command we don't have: said so in private chats (in groups it may be another
        bot's)."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or chat.type != ChatType.PRIVATE:
            return
        if await self.chat.business_of(conversation(update)) is None:
            text = wording.not_linked("telegram")
        else:
            text = wording.unknown_command((message.text or "").split(" ")[0][:64])
        await self._say(context, update, render.words(text))

    async def on_reply(self, update: Update, context: Context) -> None:
        """The reason for a cancel, replied to its question; other replies are typed lines."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or message.reply_to_message is None:
            return
        asked = (chat.id, message.reply_to_message.message_id)
        question = self._questions.pop(asked, None)
        key = conversation(update)
        if question is None:
            to_us = message.reply_to_message.from_user
            if (
                to_us is not None
                and to_us.id == context.bot.id
                and await self.chat.business_of(key)
            ):
                # A question this process never asked (or forgot in a restart): say so.
                await self._say(context, update, render.words(wording.PROMPT_EXPIRED))
            elif chat.type == ChatType.PRIVATE:
                await self._run(update, context, message.text or "")
            return
        done = await self.chat.cancel(
            key, person(update), question.booking_id, question.drawn, message.text
        )
        if isinstance(done, Problem):  # too long: the question stays open
            self._questions[asked] = question
            await self._say(context, update, render.words(done.text))
            return
        await self._say(context, update, render.words(done.text))
        if question.card_message_id is not None:
            await self._edit(context, chat.id, question.card_message_id, render.acted(done))

    async def on_membership(self, update: Update, context: Context) -> None:
        """The bot was removed from a chat, or blocked: nothing more goes there."""
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in GONE:
            return
        private = change.chat.type == ChatType.PRIVATE
        reason = wording.BLOCKED_BY_USER if private else wording.REMOVED_FROM_CHAT
        if await self.chat.gone(conversation(update), reason):
            log.info("telegram.chat_gone", chat=change.chat.id, reason=reason)

    async def on_tap(self, update: Update, context: Context) -> None:
        """A button: act through the chat layer, answer with a toast, redraw the message."""
        query = update.callback_query
        if query is None:
            return
        wanted = buttons.read(query.data if isinstance(query.data, str) else "")
        if wanted is None:
            await query.answer()
            return
        key, who = conversation(update), person(update)
        if isinstance(wanted, buttons.View):
            shown = await self.chat.command(key, who, wanted.command)
            if isinstance(shown, Problem):
                await query.answer(render.toast(shown.text))
                return
            await query.answer()
            message = render.reply(shown, wanted.command)
            if wanted.in_place and query.message is not None:
                await self._edit(context, query.message.chat.id, query.message.message_id, message)
            else:
                await self._send(context, query, message)
            return
        if isinstance(wanted, buttons.Moving):
            await self._moving(context, query, key, who, wanted)
            return
        if isinstance(wanted, buttons.Answer):
            self._forget_question(query, wanted.booking_id)
            if wanted.cancel:
                done = await self.chat.cancel(key, who, wanted.booking_id, wanted.drawn, None)
            else:
                details = Tap(ActionId.DETAILS, wanted.booking_id, wanted.drawn).value
                kept = await self.chat.tap(key, who, details)
                if isinstance(kept, BookingCard):
                    done = Acted(wording.NOT_CANCELLED, kept.card, False)
                else:
                    done = kept if isinstance(kept, Problem) else Problem(wording.UNKNOWN_BUTTON)
            await self._answered(context, query, done)
            return
        if isinstance(wanted, buttons.Prompted):  # the chat layer redraws the whole prompt
            answered = await self.chat.tap(key, who, wanted.value, closing_out=True)
            text = (
                answered.text if isinstance(answered, Acted | Problem) else wording.UNKNOWN_BUTTON
            )
            await query.answer(render.toast(text))
            return
        toasted: list[str] = []

        async def toast(text: str, ok: bool) -> None:  # before the card is drawn again
            toasted.append(text)
            await query.answer(render.toast(text))

        result = await self.chat.tap(key, who, wanted, told=toast)
        if toasted:  # answered already: only the redraw is left
            if isinstance(result, Acted):
                await self._redrawn(context, query, result)
        elif isinstance(result, ReasonPrompt):
            await query.answer(render.toast(wording.CANCEL_ASKED))
            await self._ask_reason(context, query, result)
        elif isinstance(result, ReschedulePrompt):
            await query.answer(render.toast(result.question))
            zone, now = ZoneInfo(result.zone), self.chat.clock.now()
            first, last = slots.first_day(zone, now), slots.last_day(zone, now)
            opens = max(first, result.day)
            step = buttons.Moving(result.booking_id, result.drawn)
            markup = render.move_days(step, date(opens.year, opens.month, 1), first, last)
            await self._rekey(context, query, markup)
        elif isinstance(result, BookingCard):
            await query.answer(render.toast(wording.details_below(result.card.title)))
            await self._send(context, query, render.reply(result))
        else:
            await self._answered(context, query, result)

    async def on_error(self, update: object, context: Context) -> None:
        """The adapter's one error handler: log what broke (never what was said), and tell
        the person that nothing changed."""
        log.error("telegram.handler_failed", error=type(context.error).__name__)
        if not isinstance(update, Update):
            return
        with contextlib.suppress(TelegramError):
            if update.callback_query is not None:
                await update.callback_query.answer(render.toast(wording.SOMETHING_WENT_WRONG))
            elif update.effective_chat is not None and update.effective_message is not None:
                await self._say(context, update, render.words(wording.SOMETHING_WENT_WRONG))

    # Helpers: running a typed line, and the Bot API calls every handler makes.

    async def _run(self, update: Update, context: Context, line: str) -> None:
        """A line of the command language, answered in the chat it came from."""
        key = conversation(update)
        shown = await self.chat.command(key, person(update), line)
        sent = await self._say(context, update, render.reply(shown, line))
        if isinstance(shown, BookingCard) and sent is not None:  # later changes redraw it too
            await self.chat.shown(key, shown.booking.id, str(sent))

    async def _answered(
        self, context: Context, query: CallbackQuery, done: Acted | Problem
    ) -> None:
        """A tap's outcome: a toast always; the tapped message redrawn when there is a card."""
        await query.answer(render.toast(done.text))
        if isinstance(done, Acted):
            await self._redrawn(context, query, done)

    async def _redrawn(self, context: Context, query: CallbackQuery, done: Acted) -> None:
        """The tapped message, redrawn with the card as it now is."""
        if done.card is not None and query.message is not None:
            await self._edit(
                context, query.message.chat.id, query.message.message_id, render.acted(done)
            )

    async def _ask_reason(
        self, context: Context, query: CallbackQuery, prompt: ReasonPrompt
    ) -> None:
        """Cancel pressed: the card offers skip / don't cancel, and a reply asks the reason."""
        card_message = query.message
        chat_id = card_message.chat.id if card_message else query.from_user.id
        if card_message is not None:
            with contextlib.suppress(BadRequest):
                await context.bot.edit_message_reply_markup(
                    chat_id=chat_id,
                    message_id=card_message.message_id,
                    reply_markup=render.reason_keyboard(prompt),
                )
        asked = render.reason_prompt(prompt)
        sent = await context.bot.send_message(
            chat_id=chat_id,
            text=asked.text,
            parse_mode=ParseMode.HTML,
            reply_markup=asked.markup,
            link_preview_options=NO_PREVIEW,
        )
        card_id = card_message.message_id if card_message else None
        self._questions[(chat_id, sent.message_id)] = Question(
            prompt.booking_id, prompt.drawn, card_id
        )
        if len(self._questions) > OPEN_QUESTIONS:
            self._questions.popitem(last=False)

    async def _moving(
        self,
        context: Context,
        query: CallbackQuery,
        key: ConversationKey,
        who: Person,
        step: buttons.Moving,
    ) -> None:
        """A step of Reschedule's keyboards: another month, a day's times, the move itself
        (through the chat layer, which checks the booking is still as the card showed), or
        Don't move it."""
        if step.day is not None and step.at is not None:
            done = await self.chat.reschedule(
                key, who, step.booking_id, step.drawn, step.day, step.at
            )
            if isinstance(done, Problem):  # a time gone by meanwhile: the keyboard stays
                await query.answer(render.toast(done.text))
                return
            await self._answered(context, query, done)
            return
        if step.month is None:  # Don't move it: the card again, as it is now
            details = Tap(ActionId.DETAILS, step.booking_id, step.drawn).value
            kept = await self.chat.tap(key, who, details)
            if isinstance(kept, BookingCard):
                await self._answered(
                    context, query, Acted(wording.RESCHEDULE_KEPT, kept.card, False)
                )
            else:
                await query.answer(render.toast(getattr(kept, "text", wording.UNKNOWN_BUTTON)))
            return
        business = await self.chat.business_of(key)
        if business is None:
            await query.answer(render.toast(wording.not_linked("telegram")))
            return
        now = self.chat.clock.now()
        if step.day is not None:
            times = slots.times(step.day, business.zone, now)
            if not times:
                await query.answer(
                    render.toast(wording.RESCHEDULE_NO_TIMES.format(id=step.booking_id))
                )
                return
            await query.answer()
            await self._rekey(
                context, query, render.move_times(step, step.day, times, business.timezone)
            )
            return
        first, last = slots.first_day(business.zone, now), slots.last_day(business.zone, now)
        await query.answer()
        await self._rekey(context, query, render.move_days(step, step.month, first, last))

    async def _rekey(
        self, context: Context, query: CallbackQuery, markup: InlineKeyboardMarkup
    ) -> None:
        """Swap the tapped message's keyboard (its text stays)."""
        if query.message is None:
            return
        try:
            await context.bot.edit_message_reply_markup(
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=markup,
            )
        except BadRequest as exc:
            if not not_modified(exc):
                raise

    def _forget_question(self, query: CallbackQuery, booking_id: int) -> None:
        chat_id = query.message.chat.id if query.message else None
        for asked, question in list(self._questions.items()):
            if asked[0] == chat_id and question.booking_id == booking_id:
                del self._questions[asked]

    async def _say(self, context: Context, update: Update, message: render.Message) -> int | None:
        chat = update.effective_chat
        if chat is None:
            return None
        sent = await context.bot.send_message(
            chat_id=chat.id,
            text=message.text,
            parse_mode=ParseMode.HTML,
            reply_markup=message.markup,
            link_preview_options=NO_PREVIEW,
        )
        return sent.message_id

    async def _send(self, context: Context, query: CallbackQuery, message: render.Message) -> None:
        chat_id = query.message.chat.id if query.message else query.from_user.id
        await context.bot.send_message(
            chat_id=chat_id,
            text=message.text,
            parse_mode=ParseMode.HTML,
            reply_markup=message.markup,
            link_preview_options=NO_PREVIEW,
        )

    async def _edit(
        self, context: Context, chat_id: int, message_id: int, message: render.Message
    ) -> None:
        """Redraw a message; one that already shows this is fine."""
        markup = message.markup if isinstance(message.markup, InlineKeyboardMarkup) else None
        try:
            await context.bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if not not_modified(exc):
                raise
