"""The chat layer's cards, notices and replies laid out as Block Kit.

Nothing here words anything: every sentence comes from core (the card, the notices, the
replies). Customer text is escaped for Slack (`&`, `<`, `>`) in every string Slack displays,
plain_text and the fallback `text` included, so a customer named `<!channel>` pings nobody;
long values are cut to Block Kit's limits after escaping, never inside an escape and never
inside a character.
"""

from __future__ import annotations

import calendar as cal
from typing import Any

from core import wording
from core.cards import ActionId, Card, CardAction, Style, actions_for
from core.chat import Content, ReschedulePrompt
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

Block = dict[str, Any]

# Block Kit's limits (api.slack.com/reference/block-kit).
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
CONTEXT_TEXT = 2000
BUTTON_TEXT = 75
OPTION_TEXT = 75
MODAL_TITLE = 24
MODAL_BUTTON = 24
FALLBACK_TEXT = 3000
MESSAGE_BLOCKS = 50

# action_id of each of a card's buttons; the button's value is the tap (core.cards.Tap).
ACTION_IDS = {a: f"jp_{a.value.replace('-', '_')}" for a in ActionId}
# A close-out prompt's buttons: the same taps, answered without redrawing the message in
# place (the chat layer redraws the whole prompt, with every booking in it).
PROMPT = "jp_prompt_"
PROMPT_ACTION_IDS = {a: f"{PROMPT}{a.value.replace('-', '_')}" for a in ActionId}
OVERFLOW = "jp_overflow"
PAGE = "jp_page"
HOME_SEARCH = "jp_home_search"
CANCEL_VIEW = "jp_cancel"
REASON_BLOCK = "reason"
REASON_INPUT = "reason"
RESCHEDULE_VIEW = "jp_reschedule"
DAY_BLOCK = DAY_INPUT = "day"
TIME_BLOCK = TIME_INPUT = "time"


def escape(text: str) -> str:
    """Slack's three control characters, as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Escaped `text`, cut to `limit` characters with an ellipsis if longer; never inside an
    escape (&amp;), never inside a character."""
    shown = escape(text)
    if len(shown) <= limit:
        return shown
    cut = shown[: limit - 1]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, str]:
    return {"type": "mrkdwn", "text": fit(text, limit)}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": fit(text, limit), "emoji": False}


def bold(label: str, value: str, limit: int) -> dict[str, str]:
    """A '*Label*\\nvalue' text: the label is ours, the value escaped and cut."""
    return {"type": "mrkdwn", "text": f"*{label}*\n{fit(value, limit - len(label) - 3)}"}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text, CONTEXT_TEXT)]}


def button(action: CardAction, *, in_prompt: bool = False) -> Block:
    element: Block = {
        "type": "button",
        "action_id": (PROMPT_ACTION_IDS if in_prompt else ACTION_IDS)[action.id],
        "text": plain(action.label, BUTTON_TEXT),
        "value": action.value,
    }
    if action.style is not Style.PLAIN:
        element["style"] = action.style.value
    return element


def card_blocks(card: Card, *, headline: str = "", full: bool = False) -> list[Block]:
    """A card: who, what and when; its fields; status; warnings; refund; buttons."""
    title = f"*{fit(headline or card.title, 200)}*\n{fit(card.summary, SECTION_TEXT - 210)}"
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    shown = card.fields if full else [f for f in card.brief_fields if not f.in_summary]
    fields = [bold(f.label, f.value, FIELD_TEXT) for f in shown][:FIELDS]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(context(card.status_line))
    blocks.extend(context(f":warning: {w}") for w in card.warnings[:5])
    if card.refund:
        blocks.append(section(card.refund))
    if full and card.history:
        lines = "\n".join(f"• {line}" for line in card.history)
        blocks.append(section(f"History\n{lines}"))
    actions = [a for a in card.actions if full is False or a.id is not ActionId.DETAILS]
    if actions:
        blocks.append({"type": "actions", "elements": [button(a) for a in actions]})
    return blocks[:MESSAGE_BLOCKS]


def fallback(content: Content) -> str:
    """The message's `text`: what notifications and screen readers show."""
    parts = [content.headline, content.notice or ""]
    if content.prompt is not None:
        parts.append(content.prompt.question)
    if content.card is not None:
        parts += [content.card.summary, content.card.status_line]
    return fit(" — ".join(p for p in parts if p), FALLBACK_TEXT)


def content_blocks(content: Content) -> list[Block]:
    """A delivery's message: a notice line, a card, or both."""
    blocks: list[Block] = []
    if content.notice:
        blocks.extend(section(part) for part in _parts(content.notice))
    if content.prompt is not None:
        blocks.extend(prompt_blocks(content.prompt))
    if content.card is not None:
        blocks.extend(card_blocks(content.card, headline=content.headline))
    return blocks[:MESSAGE_BLOCKS]


def prompt_blocks(prompt: Prompt) -> list[Block]:
    """A close-out prompt: the question, then each booking with its buttons while open."""
    blocks: list[Block] = [section(f"*{prompt.question}*")]
    for item in prompt.items:
        blocks.append(section(f"{item.line}\n_{item.status_line}_"))
        if item.actions:
            elements = [button(a, in_prompt=True) for a in item.actions]
            blocks.append({"type": "actions", "elements": elements})
    return blocks


def _parts(text: str, limit: int = SECTION_TEXT - 100) -> list[str]:
    """A long notice (a digest) in sections Block Kit takes, cut between lines."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        if current and len(current) + len(line) + 1 > limit:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    parts.append(current)
    return parts[: MESSAGE_BLOCKS // 2]


def reply_blocks(reply: Reply) -> tuple[str, list[Block]]:
    """A command's answer (ephemeral): fallback text and blocks."""
    match reply:
        case BookingList():
            return _list(reply)
        case BookingCard(card=card):
            return fit(card.summary, FALLBACK_TEXT), card_blocks(card, full=True)
        case CalendarMonth():
            return _calendar(reply)
        case MoveDone() | RefundMarked():
            text = _done_text(reply)
            return fit(text, FALLBACK_TEXT), [section(text)]
        case RevenueReport():
            return _revenue(reply)
        case Rescheduled():
            applied = reply.outcome is MoveOutcome.APPLIED
            text = wording.rescheduled(reply.business, reply.booking, reply.moved_from, applied)
            shown = [section(text), *card_blocks(reply.card)]
            return fit(text, FALLBACK_TEXT), shown[:MESSAGE_BLOCKS]
        case HelpText(text=text) | Problem(text=text):
            return fit(text, FALLBACK_TEXT), [section(text)]
        case Said(text=text):
            return fit(text, FALLBACK_TEXT), [section(part) for part in _parts(text)]
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def _done_text(reply: MoveDone | RefundMarked) -> str:
    if isinstance(reply, RefundMarked):
        return wording.refund_marked(reply.booking, reply.outcome)
    text = wording.move_done(reply.booking, reply.move, reply.outcome, reply.business.zone)
    refund = wording.refund_line(reply.booking, reply.business.zone)
    return f"{text}\n{refund}" if refund and reply.move.value == "cancel" else text


def _list(reply: BookingList) -> tuple[str, list[Block]]:
    page = reply.page
    if not page.bookings:
        return fit(reply.empty_text, FALLBACK_TEXT), [section(reply.empty_text)]
    zone = reply.business.zone
    blocks: list[Block] = [section(f"*{reply.title}* — {reply.business.name}")]
    for b in page.bookings[: MESSAGE_BLOCKS - 4]:
        when = wording.list_time(b.start_at, zone, with_date=reply.multi_day)
        line = f"{b.ref} · {when} · {b.customer.name} · {b.service.name} · {b.status.label}"
        block: Block = {"type": "section", "text": mrkdwn(line)}
        block["accessory"] = line_actions(list(actions_for(b)))
        blocks.append(block)
    total = f"{page.total}" if page.total_exact else f"{page.total}+"
    first = (page.page - 1) * page.per_page + 1
    blocks.append(context(f"{first}–{first + len(page.bookings) - 1} of {total} ({zone.key})"))
    paging: list[Block] = []
    if page.page > 1:
        paging.append(_page_button("Previous", reply.page_command(page.page - 1)))
    if reply.more_command:
        paging.append(_page_button("Next", reply.more_command))
    if paging:
        blocks.append({"type": "actions", "elements": paging})
    return fit(f"{reply.title}: {page.total} bookings", FALLBACK_TEXT), blocks


def _revenue(reply: RevenueReport) -> tuple[str, list[Block]]:
    """A section per currency: its labelled figures, one a line."""
    title = f"{reply.title} — {reply.business.name}"
    blocks: list[Block] = [section(f"*{escape(title)}*")]
    for part in reply.sections[: MESSAGE_BLOCKS - 2]:
        lines = "\n".join(f"*{label}*: {escape(value)}" for label, value in part.lines)
        text = f"*{part.heading}*\n{lines}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT]}})
    blocks.append(context(reply.note))
    return fit(title, FALLBACK_TEXT), blocks


def line_actions(actions: list[CardAction]) -> Block:
    """A list line's actions: an overflow menu (Slack takes 2 to 5 options), or the one
    button when there is only one (View details, for a final booking)."""
    if len(actions) < 2:
        return button(actions[0])
    options = [{"text": plain(a.label, OPTION_TEXT), "value": a.value} for a in actions[:5]]
    return {"type": "overflow", "action_id": OVERFLOW, "options": options}


def _page_button(label: str, command: str) -> Block:
    return {
        "type": "button",
        "action_id": f"{PAGE}_{label.lower()}",
        "text": plain(label, BUTTON_TEXT),
        "value": command[:2000],
    }


def _calendar(reply: CalendarMonth) -> tuple[str, list[Block]]:
    weeks = cal.Calendar(firstweekday=0).monthdatescalendar(reply.year, reply.month)
    rows = ["Mo  Tu  We  Th  Fr  Sa  Su"]
    for week in weeks:
        cells = []
        for day in week:
            n = reply.counts.get(day, 0) if day.month == reply.month else 0
            label = f"{day.day:>2}" if day.month == reply.month else "  "
            cells.append(f"{label}{'•' if n else ' '}")
        rows.append("  ".join(cells))
    title = f"{cal.month_name[reply.month]} {reply.year}"
    busy = ", ".join(
        f"{d.day}: {n}" for d, n in sorted(reply.counts.items()) if d.month == reply.month
    )
    text = f"*{title}* — bookings per day\n```" + "\n".join(rows) + "```"
    if busy:
        text += f"\n{busy}"  # day numbers and counts: nothing to escape
    return title, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT]}}]


def cancel_modal(tap_value: str, booking_title: str, question: str) -> dict[str, Any]:
    """The Cancel modal: an optional reason; the tap rides along in private_metadata."""
    return {
        "type": "modal",
        "callback_id": CANCEL_VIEW,
        "private_metadata": tap_value,
        "title": plain(f"Cancel {booking_title}", MODAL_TITLE),
        "submit": plain("Cancel booking", MODAL_BUTTON),
        "close": plain("Keep it", MODAL_BUTTON),
        "blocks": [
            section(question),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": plain("Reason for the customer", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                },
            },
        ],
    }


def reschedule_modal(metadata: str, prompt: ReschedulePrompt) -> dict[str, Any]:
    """The Reschedule modal: a date picker and a time picker, starting from the booking's
    current local start; the tap (with the status the card showed) rides in
    private_metadata."""
    ref = f"#{prompt.booking_id}"
    return {
        "type": "modal",
        "callback_id": RESCHEDULE_VIEW,
        "private_metadata": metadata,
        "title": plain(wording.RESCHEDULE_TITLE.format(ref=ref), MODAL_TITLE),
        "submit": plain(wording.RESCHEDULE_SUBMIT, MODAL_BUTTON),
        "close": plain(wording.RESCHEDULE_KEEP, MODAL_BUTTON),
        "blocks": [
            section(prompt.question),
            {
                "type": "input",
                "block_id": DAY_BLOCK,
                "label": plain(wording.RESCHEDULE_DATE, 2000),
                "element": {
                    "type": "datepicker",
                    "action_id": DAY_INPUT,
                    "initial_date": prompt.day.isoformat(),
                },
            },
            {
                "type": "input",
                "block_id": TIME_BLOCK,
                "label": plain(f"{wording.RESCHEDULE_TIME} ({prompt.zone})", 2000),
                "element": {
                    "type": "timepicker",
                    "action_id": TIME_INPUT,
                    "initial_time": f"{prompt.at:%H:%M}",
                },
            },
        ],
    }


def details_modal(card: Card) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(f"Booking {card.title}", MODAL_TITLE),
        "close": plain("Close", MODAL_BUTTON),
        "blocks": [b for b in card_blocks(card, full=True) if b["type"] != "actions"],
    }
