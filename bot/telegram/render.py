"""Desk replies, cards and notices as Telegram HTML with inline keyboards.

Every word comes from core.wording; what others typed (names, services, notes, reasons) is
escaped, so a customer called `<b>Ana</b>` is shown as typed. A button's callback data is the
card action's value (`confirm:42:pending`) or one of the views in `bot.telegram.buttons`.
"""

from __future__ import annotations

import calendar as cal
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import buttons
from core import wording
from core.cards import ActionId, Card, CardAction
from core.chat import Acted, Content, Notice, ReasonPrompt
from core.lifecycle import MoveOutcome
from core.owners_day import Prompt
from core.replies import (
    BookingCard,
    BookingList,
    CalendarMonth,
    HelpText,
    MoveDone,
    Problem,
    RefundMarked,
    Reply,
    Rescheduled,
    RevenueReport,
    Said,
)

TEXT_LIMIT = 4096  # a message's text, after entities are parsed
TOAST_LIMIT = 200  # answerCallbackQuery text
VALUE_LIMIT = 1000  # one customer-typed value on a card (notes can be long)
HISTORY_SHOWN = 20  # the latest lines of a booking's history in its details

Markup = InlineKeyboardMarkup | ForceReply | None


@dataclass(frozen=True)
class Message:
    """A message to send or to edit into: HTML text and its keyboard."""

    text: str
    markup: Markup = None


def e(text: str) -> str:
    """Text of ours or of others, as HTML: `code` in our words becomes <code>."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"`([^`\n]{1,200})`", r"<code>\1</code>", escaped)


def _cut(text: str, limit: int = VALUE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def toast(text: str) -> str:
    """A callback answer: plain text, at most 200 characters."""
    plain = text.replace("`", "")
    return plain if len(plain) <= TOAST_LIMIT else plain[: TOAST_LIMIT - 1] + "…"


def card_text(card: Card, *, headline: str = "", full: bool = False) -> str:
    """A card as HTML: the brief card in alerts, every field and the history in details."""
    lines = [f"<b>{e(headline or card.title)}</b>"]
    if not full:
        lines.append(e(_cut(card.summary)))
    lines.append(f"<i>{e(_cut(card.status_line))}</i>")
    shown = card.fields if full else [f for f in card.brief_fields if not f.in_summary]
    lines += [f"<b>{e(f.label)}:</b> {e(_cut(f.value))}" for f in shown]
    lines += [f"⚠️ {e(w)}" for w in card.warnings]
    if card.refund:
        lines.append(f"💸 {e(card.refund)}")
    if full and card.history:
        lines.append("<b>History</b>")
        earlier = len(card.history) - HISTORY_SHOWN
        if earlier > 0:
            lines.append(f"… {earlier} earlier")
        lines += [e(_cut(h, 600)) for h in card.history[-HISTORY_SHOWN:]]
    return "\n".join(lines)


def card_keyboard(actions: Sequence[CardAction]) -> InlineKeyboardMarkup | None:
    """The card's buttons: the moves on one row, Reschedule and View details under them."""
    below = (ActionId.RESCHEDULE, ActionId.DETAILS)
    moves = [_button(a.label, a.value) for a in actions if a.id not in below]
    details = [_button(a.label, a.value) for a in actions if a.id in below]
    rows = [row for row in (moves, details) if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def content(shown: Content) -> Message:
    """A delivery: a new booking's card, a redrawn card, or a notice (with its card)."""
    parts: list[str] = []
    if shown.notice:
        parts.append(e(_cut(shown.notice, 3500)))
    if shown.prompt is not None:
        return prompt(shown.prompt)
    if shown.card is not None:
        parts.append(card_text(shown.card, headline=shown.headline))
        return Message(_fit("\n\n".join(parts)), card_keyboard(shown.card.actions))
    return Message(_fit("\n\n".join(parts) or e(shown.headline)))


def prompt(shown: Prompt) -> Message:
    """A close-out prompt: the question, each booking with how it stands, and a row of
    buttons for each one still open (named by its #id: they sit under the text)."""
    lines = [f"<b>{e(shown.question)}</b>"]
    for item in shown.items:
        lines.append(f"{e(_cut(item.line))}\n<i>{e(_cut(item.status_line))}</i>")
    rows = [
        [_button(f"#{item.booking_id} {a.label}", buttons.prompted(a.value)) for a in item.actions]
        for item in shown.items
        if item.actions
    ]
    return Message(_fit("\n\n".join(lines)), InlineKeyboardMarkup(rows) if rows else None)


def card(shown: Card, *, full: bool = False, headline: str = "") -> Message:
    return Message(
        _fit(card_text(shown, headline=headline, full=full)), card_keyboard(shown.actions)
    )


def reply(answer: Reply, typed: str = "") -> Message:
    """A desk reply to a typed command (or to a view button); `typed` is what was asked, so a
    list knows its own pages."""
    match answer:
        case BookingList():
            return booking_list(answer, typed)
        case BookingCard():
            return card(
                answer.card, full=True, headline=f"{answer.card.title} — {answer.business.name}"
            )
        case CalendarMonth():
            return month(answer)
        case MoveDone() | RefundMarked():
            return _done(answer)
        case RevenueReport():
            return revenue(answer)
        case Rescheduled():
            applied = answer.outcome is MoveOutcome.APPLIED
            said = wording.rescheduled(answer.business, answer.booking, answer.moved_from, applied)
            shown = e(said) + "\n\n" + card_text(answer.card)
            return Message(_fit(shown), card_keyboard(answer.card.actions))
        case HelpText(text=text):
            return Message(
                e(wording.TELEGRAM_HELP_INTRO) + "\n\n<pre>" + html.escape(text) + "</pre>"
            )
        case Problem(text=text) | Said(text=text):
            return Message(_fit(e(text)))
    raise AssertionError(f"unrendered reply {answer!r}")  # pragma: no cover


def _done(answer: MoveDone | RefundMarked) -> Message:
    b = answer.booking
    if isinstance(answer, RefundMarked):
        text = wording.refund_marked(b, answer.outcome)
    else:
        text = wording.move_done(b, answer.move, answer.outcome, answer.business.zone)
        refund = wording.refund_line(b, answer.business.zone)
        if refund and answer.move.value == "cancel":
            text += "\n" + refund
    return Message(e(text), card_keyboard(answer.actions))


def acted(answer: Acted) -> Message:
    """After a tap or a cancel: the card as it is now (or the words, without a card)."""
    if answer.card is None:
        return Message(e(answer.text))
    return card(answer.card)


def words(text: str) -> Message:
    """A line of ours (which may quote someone's text), as a message."""
    return Message(e(text))


def notice(answer: Notice) -> Message:
    return Message(e(answer.text))


def reason_prompt(prompt: ReasonPrompt) -> Message:
    """Cancel's question, as a reply the owner's app opens by itself."""
    return Message(
        e(prompt.question),
        ForceReply(selective=False, input_field_placeholder=wording.REASON_PLACEHOLDER),
    )


def reason_keyboard(prompt: ReasonPrompt) -> InlineKeyboardMarkup:
    """The card's buttons while its Cancel waits for a reason: skip it, or don't cancel."""
    return InlineKeyboardMarkup(
        [
            [
                _button(wording.SKIP_REASON, buttons.skip(prompt.booking_id, prompt.drawn)),
                _button(wording.KEEP_BOOKING, buttons.keep(prompt.booking_id, prompt.drawn)),
            ]
        ]
    )


def booking_list(answer: BookingList, typed: str) -> Message:
    """One line per booking with its #id; Previous / Next buttons when there are pages."""
    page = answer.page
    if not page.bookings:
        return Message(e(answer.empty_text))
    zone = answer.business.zone
    lines = [f"<b>{e(answer.title)} — {e(answer.business.name)}</b>"]
    for b in page.bookings:
        when = wording.list_time(b.start_at, zone, with_date=answer.multi_day)
        lines.append(
            f"<b>{b.ref}</b> {e(when)} · {e(_cut(b.customer.name, 100))} · "
            f"{e(_cut(b.service.name, 100))} · {b.status.label}"
        )
    total = f"{page.total}" if page.total_exact else f"{page.total}+"
    first = (page.page - 1) * page.per_page + 1
    lines.append(
        f"<i>{e(wording.list_footer(first, first + len(page.bookings) - 1, total, zone.key))}</i>"
    )
    row: list[InlineKeyboardButton] = []
    base = buttons.without_page(answer.more_command or typed)
    if page.page > 1 and (back := buttons.view(f"{base} page {page.page - 1}")):
        row.append(_button(wording.PREVIOUS_PAGE, back))
    if answer.more_command and (more := buttons.view(answer.more_command)):
        row.append(_button(wording.NEXT_PAGE, more))
    return Message(_fit("\n".join(lines)), InlineKeyboardMarkup([row]) if row else None)


def revenue(answer: RevenueReport) -> Message:
    """A block per currency: its labelled figures, one a line."""
    parts = [f"<b>{e(answer.title)} — {e(answer.business.name)}</b>"]
    for section in answer.sections:
        lines = "\n".join(f"{e(label)}: {e(value)}" for label, value in section.lines)
        parts.append(f"<b>{e(section.heading)}</b>\n{lines}")
    parts.append(f"<i>{e(answer.note)}</i>")
    return Message(_fit("\n\n".join(parts)))


def month(answer: CalendarMonth) -> Message:
    """A month as a grid of day buttons with each day's count; arrows move between months."""
    year, m = answer.year, answer.month
    title = wording.calendar_title(cal.month_name[m], year)
    text = f"<b>{e(title)}</b>\n{e(wording.calendar_hint(sum(answer.counts.values())))}"
    before = (year - 1, 12) if m == 1 else (year, m - 1)
    after = (year + 1, 1) if m == 12 else (year, m + 1)
    rows = [
        [
            _button(wording.EARLIER_MONTH, buttons.view(f"calendar {before[0]}-{before[1]:02d}")),
            _button(f"{cal.month_abbr[m]} {year}", buttons.NOTHING),
            _button(wording.LATER_MONTH, buttons.view(f"calendar {after[0]}-{after[1]:02d}")),
        ],
        [_button(d, buttons.NOTHING) for d in wording.WEEKDAYS_SHORT],
    ]
    for week in cal.Calendar(firstweekday=0).monthdatescalendar(year, m):
        cells = []
        for day in week:
            if day.month != m:
                cells.append(_button(" ", buttons.NOTHING))
                continue
            n = answer.counts.get(day, 0)
            label = f"{day.day}·{n}" if n else f"{day.day}"
            if day == answer.today:
                label = f"[{label}]"
            cells.append(_button(label, buttons.day(day)))
        rows.append(cells)
    return Message(text, InlineKeyboardMarkup(rows))


def _fit(text: str) -> str:
    """Within Telegram's 4096 characters: values are cut before this, so it rarely acts."""
    if len(text) <= TEXT_LIMIT:
        return text
    cut = text[: TEXT_LIMIT - 1]
    return cut[: cut.rfind("\n")] + "\n…" if "\n" in cut else cut


def move_days(step: buttons.Moving, month: date, first: date, last: date) -> InlineKeyboardMarkup:
    """Reschedule's month of days: days from `first` to `last` can be tapped, the arrows move
    between months within them; then Don't move it."""
    year, m = month.year, month.month
    before = date(year - 1, 12, 1) if m == 1 else date(year, m - 1, 1)
    after = date(year + 1, 1, 1) if m == 12 else date(year, m + 1, 1)

    def to_month(other: date, label: str) -> InlineKeyboardButton:
        within = date(first.year, first.month, 1) <= other <= last
        moved = buttons.Moving(step.booking_id, step.drawn, month=other)
        return _button(label if within else " ", moved.data if within else buttons.NOTHING)

    title = wording.RESCHEDULE_PICK_DAY.format(ref=f"#{step.booking_id}")
    rows = [
        [_button(title, buttons.NOTHING)],
        [
            to_month(before, wording.EARLIER_MONTH),
            _button(f"{cal.month_abbr[m]} {year}", buttons.NOTHING),
            to_month(after, wording.LATER_MONTH),
        ],
        [_button(d, buttons.NOTHING) for d in wording.WEEKDAYS_SHORT],
    ]
    for week in cal.Calendar(firstweekday=0).monthdatescalendar(year, m):
        cells = []
        for day in week:
            if day.month != m or not first <= day <= last:
                cells.append(_button(" ", buttons.NOTHING))
                continue
            picked = buttons.Moving(step.booking_id, step.drawn, month=month, day=day)
            cells.append(_button(str(day.day), picked.data))
        rows.append(cells)
    rows.append(
        [_button(wording.RESCHEDULE_KEEP, buttons.Moving(step.booking_id, step.drawn).data)]
    )
    return InlineKeyboardMarkup(rows)


def move_times(
    step: buttons.Moving, day: date, times: Sequence[time], zone: str
) -> InlineKeyboardMarkup:
    """Reschedule's times on a day (core.slots), four to a row; then back to the days, and
    Don't move it."""
    title = wording.RESCHEDULE_PICK_TIME.format(
        ref=f"#{step.booking_id}", day=f"{day:%a} {day.day} {day:%b}", zone=zone
    )
    rows = [[_button(title, buttons.NOTHING)]]
    cells = [
        _button(f"{at:%H:%M}", buttons.Moving(step.booking_id, step.drawn, day=day, at=at).data)
        for at in times
    ]
    rows += [cells[i : i + 4] for i in range(0, len(cells), 4)]
    back = buttons.Moving(step.booking_id, step.drawn, month=date(day.year, day.month, 1))
    keep = buttons.Moving(step.booking_id, step.drawn)
    rows.append(
        [_button(wording.RESCHEDULE_BACK, back.data), _button(wording.RESCHEDULE_KEEP, keep.data)]
    )
    return InlineKeyboardMarkup(rows)
