"""Desk replies as Rich renderables for the terminal console."""

from __future__ import annotations

import calendar as cal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core import wording
from core.events import Event, EventKind
from core.lifecycle import Move, Status
from core.model import Booking, Business
from core.replies import (
    BookingCard,
    BookingList,
    CalendarMonth,
    HelpText,
    MoveDone,
    Problem,
    Reply,
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
        case HelpText(text=text):
            return _t(text)
        case Problem(text=text):
            return _t(text, style="bold red")
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def actions_hint(booking: Booking, actions: list[Move]) -> Text:
    """The buttons a chat would show, as commands to type."""
    if not actions:
        return _t(f"{booking.ref} is {booking.status.value}: no further actions.", style="dim")
    typed = "  ".join(f"[{m.value} {booking.id}]" for m in actions)
    return _t(f"Actions: {typed}", style="cyan")


def _status(status: Status) -> Text:
    return _t(status.value, style=STATUS_STYLE[status])


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
    b, zone = reply.booking, reply.business.zone
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Status", _status(b.status))
    grid.add_row("When", _t(wording.span(b, zone)))
    grid.add_row("Customer", _t(b.customer.name))
    grid.add_row("Email", _t(b.customer.email))
    grid.add_row("Phone", _t(b.customer.phone or "—"))
    price = wording.money(b.service.price, b.payment.currency) if b.service.price else "—"
    grid.add_row("Service", _t(f"{b.service.name} ({b.service.duration_minutes} min, {price})"))
    grid.add_row(
        "Payment",
        _t(
            f"{wording.money(b.payment.amount, b.payment.currency)} {b.payment.status.value} via "
            f"{b.payment.provider.value} (transaction {b.payment.transaction_id})"
        ),
    )
    if b.notes:
        grid.add_row("Notes", _t(b.notes))
    parts: list[RenderableType] = [grid]
    if reply.overlaps:
        clash = ", ".join(
            f"{o.ref} {wording.clock_time(o.start_at, zone)} {o.customer.name}"
            for o in reply.overlaps
        )
        parts.append(_t(f"Overlaps with {clash}", style="bold yellow"))
    if b.status is Status.CANCELLED:
        parts.append(_t(wording.refund_hint(b), style="magenta"))
    parts.append(_t("History", style="bold"))
    parts.extend(_t(f"  {wording.history_line(h, zone)}") for h in b.history)
    parts.append(actions_hint(b, reply.actions))
    return Panel(Group(*parts), title=_t(f"{b.ref} — {reply.business.name}"), title_align="left")


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
    if reply.move is Move.CANCEL:
        lines.append(_t(wording.refund_hint(b), style="magenta"))
    lines.append(actions_hint(b, reply.actions))
    return Group(*lines)


def alert(event: Event, booking: Booking, business: Business, actions: list[Move]) -> Panel:
    """A live alert for something that happened elsewhere (new booking, customer cancel)."""
    zone = business.zone
    what = f"{booking.customer.name} · {booking.service.name} · {wording.span(booking, zone)}"
    paid = (
        f"{wording.money(booking.payment.amount, booking.payment.currency)} paid via "
        f"{booking.payment.provider.value}"
    )
    if event.kind is EventKind.CREATED:
        title, body = f"New booking {booking.ref}", f"{what}\n{paid}"
    elif event.kind is EventKind.MAIL_FAILED:
        title = f"Email to {booking.customer.name} failed ({booking.ref}, {event.data.get('kind')})"
        body = (
            f"{event.data.get('error', '')}\nWrite to them yourself: {booking.customer.email}"
            + (f" · {booking.customer.phone}" if booking.customer.phone else "")
        )
    else:
        reason = event.data.get("reason")
        said = f" — “{reason}”" if reason else ""
        verb = event.kind.value.removeprefix("booking.")
        title = f"{booking.ref} {verb} by {event.actor.describe()}"
        body = f"{what}{said}"
        if event.kind is EventKind.CANCELLED:
            body += "\n" + wording.refund_hint(booking)
    return Panel(
        Group(_t(body), actions_hint(booking, actions)),
        title=_t(title),
        title_align="left",
        border_style="cyan",
    )
