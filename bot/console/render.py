"""Desk replies as Rich renderables for the terminal console."""

from __future__ import annotations

import calendar as cal
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core import wording
from core.cards import ActionId, Card, CardAction
from core.chat import Content
from core.lifecycle import Move, MoveOutcome, Status
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

_CONTROLS = {c: "�" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F]}


def _t(text: str, style: str = "") -> Text:
    """Text as typed by someone else: never markup, never a terminal control sequence."""
    return Text(text.translate(_CONTROLS), style=style)


STATUS_STYLE = {
    Status.PENDING: "yellow",
    Status.CONFIRMED: "green",
    Status.COMPLETED: "blue",
    Status.CANCELLED: "red",
    Status.NO_SHOW: "magenta",
}


def render(reply: Reply) -> RenderableType:
    match reply:
        case BookingList():
            return _list(reply)
        case BookingCard():
            return _card(reply)
        case CalendarMonth():
            return _calendar(reply)
        case MoveDone():
            return _move_done(reply)
        case RefundMarked():
            return _refund_marked(reply)
        case RevenueReport():
            return _revenue(reply)
        case Rescheduled():
            return _rescheduled(reply)
        case HelpText(text=text) | Said(text=text):
            return _t(text)
        case Problem(text=text):
            return _t(text, style="bold red")
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def actions_hint(booking_id: int, actions: Sequence[CardAction]) -> Text:
    """The buttons a chat would show, as commands to type."""
    buttons = [a for a in actions if a.id is not ActionId.DETAILS]
    if not buttons:
        return _t(f"#{booking_id}: no further actions.", style="dim")
    typed = "  ".join(f"[{TYPED[a.id].format(id=booking_id)}]" for a in buttons)
    return _t(f"Actions: {typed}", style="cyan")


# What to type for each button of a card.
TYPED = {
    ActionId.CONFIRM: "confirm {id}",
    ActionId.COMPLETE: "complete {id}",
    ActionId.CANCEL: "cancel {id}",
    ActionId.REFUND_ISSUED: "refunded {id}",
    ActionId.RESCHEDULE: "move {id} YYYY-MM-DD HH:MM",
    ActionId.DETAILS: "#{id}",
    ActionId.NO_SHOW: "noshow {id}",
}


def plain(text: str) -> Text:
    """Words of ours that may quote a customer's: shown as typed, never as markup."""
    return _t(text)


def _status(status: Status) -> Text:
    return _t(status.label, style=STATUS_STYLE[status])


def _list(reply: BookingList) -> RenderableType:
    page = reply.page
    if not page.bookings:
        return _t(reply.empty_text)
    zone = reply.business.zone
    table = Table(title=_t(f"{reply.title} — {reply.business.name}"), title_justify="left")
    table.add_column("#", justify="right", style="bold")
    table.add_column("When" if reply.multi_day else "Time")
    table.add_column("Customer")
    table.add_column("Service")
    table.add_column("Status")
    for b in page.bookings:
        when = wording.list_time(b.start_at, zone, with_date=reply.multi_day)
        table.add_row(b.ref, when, _t(b.customer.name), _t(b.service.name), _status(b.status))
    total = f"{page.total}" if page.total_exact else f"{page.total}+"
    first = (page.page - 1) * page.per_page + 1
    footer = f"Showing {first}–{first + len(page.bookings) - 1} of {total} ({zone.key})."
    if reply.more_command:
        footer += f" Type `{reply.more_command}` for more."
    return Group(table, _t(footer, style="dim"))


def _card(reply: BookingCard) -> RenderableType:
    return card_panel(reply.card, title=f"{reply.card.title} — {reply.business.name}", full=True)


def card_panel(card: Card, *, title: str, full: bool, border: str = "none") -> Panel:
    """A card as a panel: its fields (all of them in the full details), warnings, refund,
    history (full only) and the actions as commands to type."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Status", _t(card.status_line, style=STATUS_STYLE[card.status]))
    shown = card.fields if full else [f for f in card.brief_fields if not f.in_summary]
    for field in shown:
        grid.add_row(field.label, _t(field.value))
    parts: list[RenderableType] = [] if full else [_t(card.summary)]
    parts.append(grid)
    parts.extend(_t(w, style="bold yellow") for w in card.warnings)
    if card.refund:
        parts.append(_t(card.refund, style="magenta"))
    if full:
        parts.append(_t("History", style="bold"))
        parts.extend(_t(f"  {line}") for line in card.history)
    parts.append(actions_hint(card.booking_id, card.actions))
    return Panel(
        Group(*parts),
        title=_t(title),
        title_align="left",
        border_style=border,
    )


def _calendar(reply: CalendarMonth) -> RenderableType:
    weeks = cal.Calendar(firstweekday=0).monthdatescalendar(reply.year, reply.month)
    table = Table(
        title=f"{cal.month_name[reply.month]} {reply.year} — bookings per day",
        title_justify="left",
    )
    for name in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        table.add_column(name, justify="right")
    for week in weeks:
        cells: list[Text] = []
        for day in week:
            if day.month != reply.month:
                cells.append(_t(""))
                continue
            n = reply.counts.get(day, 0)
            label = f"{day.day}" + (f" ·{n}" if n else "")
            style = "bold reverse" if day == reply.today else ("bold" if n else "dim")
            cells.append(_t(label, style=style))
        table.add_row(*cells)
    total = sum(reply.counts.values())
    hint = _t(
        f"{total} active bookings. Type a date (e.g. {reply.year}-{reply.month:02d}-01) "
        "to see that day.",
        style="dim",
    )
    return Group(table, hint)


def _move_done(reply: MoveDone) -> RenderableType:
    b = reply.booking
    lines: list[RenderableType] = [
        _t(wording.move_done(b, reply.move, reply.outcome, reply.business.zone), style="green")
    ]
    refund = wording.refund_line(b, reply.business.zone)
    if reply.move is Move.CANCEL and refund:
        lines.append(_t(refund, style="magenta"))
    lines.append(actions_hint(b.id, reply.actions))
    return Group(*lines)


def _refund_marked(reply: RefundMarked) -> RenderableType:
    b = reply.booking
    return Group(
        _t(wording.refund_marked(b, reply.outcome), style="green"),
        actions_hint(b.id, reply.actions),
    )


def _revenue(reply: RevenueReport) -> RenderableType:
    """A table per currency, its figures already in words."""
    parts: list[RenderableType] = [_t(f"{reply.title} — {reply.business.name}", style="bold")]
    for section in reply.sections:
        table = Table(title=_t(section.heading), title_justify="left", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for label, value in section.lines:
            table.add_row(_t(label), _t(value))
        parts.append(table)
    parts.append(_t(reply.note, style="dim"))
    return Group(*parts)


def _rescheduled(reply: Rescheduled) -> RenderableType:
    applied = reply.outcome is MoveOutcome.APPLIED
    text = wording.rescheduled(reply.business, reply.booking, reply.moved_from, applied)
    return Group(
        _t(text, style="green"),
        card_panel(reply.card, title=reply.card.title, full=False, border="cyan"),
    )


def alert(content: Content) -> RenderableType:
    """A live alert for something that happened elsewhere: a new booking's card, or a
    notice (a customer's cancellation, another owner's move, a failed email)."""
    parts: list[RenderableType] = []
    if content.notice:
        parts.append(_t(content.notice, style="bold"))
    if content.card is not None:
        title = content.headline or content.card.title
        parts.append(card_panel(content.card, title=title, full=False, border="cyan"))
    return Group(*parts)
