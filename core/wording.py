"""Every sentence the desk says, in one place, so every surface says it the same way."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.commands import EXAMPLES
from core.errors import (
    BookingNotFound,
    DomainError,
    IdempotencyConflict,
    IllegalMove,
    StartInPast,
    StartTooFar,
    TooLateToCancel,
)
from core.lifecycle import Move, MoveOutcome
from core.model import Booking, HistoryEntry, Page, Provider

HELP = f"""Juneplum bookings — type a view or an action:
  today · tomorrow · week · next 7 days · all      bookings by day
  2026-12-01 · 2026-12-01..2026-12-07              one date, or a range
  pending · confirmed · completed · cancelled      by status
  search ana · ana                                 by customer or service
  #42                                              one booking, with its actions
  calendar · calendar 2026-12                      bookings per day of a month
  confirm 42 · complete 42 · cancel 42 [reason]    act on a booking
Add `page 2` to a list for more. Examples: {EXAMPLES}"""


def local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone)


def list_time(at: datetime, zone: ZoneInfo, *, with_date: bool) -> str:
    """A list line's time: '10:00', or 'Tue 3 Mar 2026 10:00' in lists over several days."""
    t = local(at, zone)
    return f"{t:%a} {t.day} {t:%b %Y} {t:%H:%M}" if with_date else f"{t:%H:%M}"


def clock_time(at: datetime, zone: ZoneInfo) -> str:
    return f"{local(at, zone):%H:%M}"


def when(at: datetime, zone: ZoneInfo, *, with_zone: bool = True) -> str:
    """'Tue 3 Mar 2026, 10:00 EST': the appointment in the business's zone, zone named."""
    t = local(at, zone)
    text = f"{t:%a} {t.day} {t:%b %Y}, {t:%H:%M}"
    return f"{text} {t:%Z}" if with_zone else text


def span(booking: Booking, zone: ZoneInfo) -> str:
    """'Tue 3 Mar 2026, 10:00–10:45 EST'."""
    start, end = local(booking.start_at, zone), local(booking.end_at, zone)
    return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}–{end:%H:%M} {start:%Z}"


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def history_line(entry: HistoryEntry, zone: ZoneInfo) -> str:
    change = (
        f"{entry.from_status.value} → {entry.to_status.value}"
        if entry.from_status
        else f"created as {entry.to_status.value}"
    )
    reason = f" — “{entry.reason}”" if entry.reason else ""
    return f"{when(entry.at, zone)}: {change} by {entry.actor.describe()}{reason}"


def refund_hint(booking: Booking) -> str:
    """Where the owner refunds: cancelling never refunds by itself."""
    p = booking.payment
    amount = money(p.amount, p.currency)
    if p.provider is Provider.PAYPAL:
        where = (
            f"in your PayPal dashboard: https://www.paypal.com/activity/payment/{p.transaction_id}"
        )
    else:
        where = "in your Inkress dashboard (Transactions)"
    return (
        f"Cancelling does not refund. To refund {amount}, open transaction "
        f"{p.transaction_id} {where}."
    )


def move_done(booking: Booking, move: Move, outcome: MoveOutcome, zone: ZoneInfo) -> str:
    what = f"{booking.customer.name} · {booking.service.name} · {when(booking.start_at, zone)}"
    if outcome is MoveOutcome.ALREADY:
        return f"{booking.ref} is already {move.past}. Nothing changed. ({what})"
    return f"{booking.ref} {move.past}: {what}"


def illegal_move(err: IllegalMove) -> str:
    ref = f"#{err.booking_id}"
    if err.changed_by is not None:
        again = (
            f" Send `{err.move.value} {err.booking_id}` again if you still mean it."
            if not err.status.is_final
            else ""
        )
        return (
            f"{ref} was {err.status.value} a moment ago by {err.changed_by.actor.describe()}, "
            f"so your {err.move.value} was not applied.{again}"
        )
    return f"{ref} is {err.status.value}; it can't be {err.move.past}."


def domain_error(err: DomainError) -> str:
    """Plain words for any domain error."""
    if isinstance(err, IllegalMove):
        return illegal_move(err)
    if isinstance(err, BookingNotFound):
        return f"There is no booking #{err.booking_id}. Try `all` or `search <name>`."
    if isinstance(err, StartInPast):
        return "The start time is in the past."
    if isinstance(err, StartTooFar):
        return "The start time is more than two years ahead."
    if isinstance(err, TooLateToCancel):
        return f"#{err.booking_id} has already started; it can no longer be cancelled online."
    if isinstance(err, IdempotencyConflict):
        return "This Idempotency-Key was already used with a different request."
    return str(err)


def past_the_end(found: Page, command: str) -> str:
    """A page beyond the last, e.g. `today page 3` when today fills one."""
    shown = "booking" if found.total == 1 else "bookings"
    pages = "1 page" if found.pages == 1 else f"{found.pages} pages"
    return (
        f"There is no page {found.page}: that list has {found.total} {shown}, on {pages}. "
        f"Type `{command}` for the first."
    )


def nothing_found(term: str, suggestion: str | None) -> str:
    if suggestion:
        return f"No bookings match “{term}”. Did you mean `{suggestion}`? Type `help` for more."
    return f"No bookings match “{term}”. Try `search <name or service>`, `today` or `help`."
