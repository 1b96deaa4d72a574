"""Every sentence the desk says, in one place, so every surface says it the same way."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core import gct
from core.commands import EXAMPLES
from core.errors import (
    BookingNotFound,
    DomainError,
    IdempotencyConflict,
    IllegalMove,
    NoSuchLocalTime,
    NotEndedYet,
    NotMovable,
    NotRefundable,
    NotStartedYet,
    StartInPast,
    StartTooFar,
    TooLateToCancel,
)
from core.lifecycle import Move, MoveOutcome, Status
from core.model import (
    ActorKind,
    Booking,
    Business,
    CustomerRecord,
    HistoryEntry,
    Note,
    Page,
    PaymentStatus,
    Provider,
    RefundState,
)
from core.money import Money, shown
from core.periods import DaySpan
from core.revenue import Figure, Revenue

if TYPE_CHECKING:
    from core.owners_day import Digest

HELP = f"""Juneplum bookings — type a view or an action:
  today · tomorrow · week · next 7 days · all      bookings by day
  2026-12-01 · 2026-12-01..2026-12-07              one date, or a range
  pending · confirmed · completed · cancelled      by status
  search ana · ana                                 by customer or service
  #42                                              one booking, with its actions
  calendar · calendar 2026-12                      bookings per day of a month
  confirm 42 · complete 42 · cancel 42 [reason]    act on a booking
  noshow 42                                        the customer didn't come (after the start)
  refunded 42                                      you refunded a cancelled booking
  refunds                                          refunds still owed, oldest first
  revenue · revenue 2026-11                        money made, per currency: this month or another
  revenue 2026-01-01..2026-03-31                   … or a range of days
  digest · digest 07:30 · digest off               today's digest; its time in this chat
  move 42 2026-12-08 15:00                         move a booking (your local time)
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
    day = f"{start:%a} {start.day} {start:%b %Y}"
    if start.utcoffset() != end.utcoffset():  # the clocks change during it: name both zones
        return f"{day}, {start:%H:%M} {start:%Z}–{end:%H:%M} {end:%Z}"
    return f"{day}, {start:%H:%M}–{end:%H:%M} {start:%Z}"


def money(amount: Decimal, currency: str) -> str:
    """An amount as people read it, by the one rule (core.money): 'J$4,575.25'."""
    return shown(amount, currency)


def history_line(entry: HistoryEntry, zone: ZoneInfo) -> str:
    if entry.note is Note.RESCHEDULED:
        return f"{when(entry.at, zone)}: {moved_line(entry, zone)}"
    if entry.note is not None:
        return f"{when(entry.at, zone)}: {NOTES[entry.note]} by {entry.actor.describe()}"
    change = (
        f"{entry.from_status.label} → {entry.to_status.label}"
        if entry.from_status
        else f"created as {entry.to_status.label}"
    )
    reason = f" — “{entry.reason}”" if entry.reason else ""
    return f"{when(entry.at, zone)}: {change} by {entry.actor.describe()}{reason}"


NOTES = {Note.REFUND_ISSUED: "refund marked issued", Note.RESCHEDULED: "moved"}
PROVIDERS = {Provider.PAYPAL: "PayPal", Provider.INKRESS: "Inkress", Provider.CASH: "cash"}

# The buttons of a card (core.cards.ActionId values) and what they say.
ACTION_LABELS = {
    "confirm": "Confirm",
    "complete": "Mark as completed",
    "cancel": "Cancel",
    "refund-issued": "Refund issued",
    "reschedule": "Reschedule",
    "details": "View details",
    "no-show": "No-show",
}


def summary(booking: Booking, zone: ZoneInfo) -> str:
    """'Ana Silva · Haircut · Wed 25 Nov 2026, 15:00–15:45 EST': a booking in one line."""
    return f"{booking.customer.name} · {booking.service.name} · {span(booking, zone)}"


def payment_line(booking: Booking) -> str:
    """'45.00 USD paid via PayPal (transaction 9XK…)', '45.00 USD due at the appointment
    (cash)'."""
    p = booking.payment
    if p.provider is Provider.CASH:
        return f"{money(p.amount, p.currency)} {PAYMENT_STATES[p.status]} (cash)"
    return (
        f"{money(p.amount, p.currency)} {PAYMENT_STATES[p.status]} via {PROVIDERS[p.provider]} "
        f"(transaction {p.transaction_id})"
    )


def status_line(booking: Booking, zone: ZoneInfo) -> str:
    """The status and who set it when: 'Confirmed by Riley via Slack · Wed 25 Nov 2026,
    10:02 EST', or 'Pending — waiting for your confirmation'."""
    moved = booking.last_move
    label = booking.status.label.capitalize()
    if moved is None:
        return (
            f"{label} — waiting for your confirmation"
            if booking.status is Status.PENDING
            else label
        )
    reason = f" — “{moved.reason}”" if moved.reason else ""
    return f"{label} by {moved.actor.describe()} · {when(moved.at, zone)}{reason}"


def customer_record(record: CustomerRecord) -> str:
    """'First booking', or '4 bookings: 2 visits, 1 cancellation'."""
    if record.bookings <= 1:
        return "First booking with you"
    parts = [
        _count(record.completed, "visit"),
        _count(record.cancelled, "cancellation"),
    ]
    if record.no_shows:
        parts.append(_count(record.no_shows, "no-show"))
    return f"{record.bookings} bookings: " + ", ".join(parts)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def card_fields(
    booking: Booking, zone: ZoneInfo, record: CustomerRecord, gct_rate: Decimal | None = None
) -> list[tuple[str, str, str, bool]]:
    """A card's labelled lines: (key, label, value, shown on the brief card); the GCT in
    the payment, in the full details, when the business charges it."""
    b = booking
    price = money(b.service.price, b.payment.currency) if b.service.price is not None else "—"
    fields = [
        ("customer", "Customer", b.customer.name, True),
        ("email", "Email", b.customer.email, False),
        ("phone", "Phone", b.customer.phone or "—", False),
        ("service", "Service", f"{b.service.name} ({b.service.duration_minutes} min)", True),
        ("when", "When", span(b, zone), True),
        ("price", "Price", price, True),
        ("payment", "Payment", payment_line(b), True),
        *((key, label, value, False) for key, label, value in tax_lines(b, gct_rate)),
    ]
    if b.notes:
        fields.append(("notes", "Notes", b.notes, True))
    if b.reschedules:
        fields.append(("moved", "Moved", moved_field(b.reschedules[-1], zone), True))
    fields.append(("history", "Customer history", customer_record(record), True))
    return fields


def overlap_line(other: Booking, zone: ZoneInfo) -> str:
    start, end = clock_time(other.start_at, zone), clock_time(other.end_at, zone)
    abbr = f"{local(other.start_at, zone):%Z}"
    return (
        f"Overlaps with {other.ref} ({other.customer.name}, {start}–{end} {abbr}, "
        f"{other.status.label})"
    )


def refund_line(booking: Booking, zone: ZoneInfo) -> str | None:
    """Where to refund a cancelled, paid booking; or who marked it refunded."""
    issued = booking.refund_issued
    if booking.refund.state is RefundState.ISSUED:
        return refund_issued_line(booking, issued, zone)
    if booking.refund_owed:
        return (
            refund_hint(booking)
            + " Then press “Refund issued” (or type `refunded "
            + (f"{booking.id}`).")
        )
    return None


def refund_hint(booking: Booking) -> str:
    """Where the owner refunds: cancelling never refunds by itself."""
    p = booking.payment
    amount = money(p.amount, p.currency)
    where = REFUND_WHERE[p.provider].format(id=p.transaction_id)
    return f"Cancelling does not refund. To refund {amount}, {where}"


def change_notice(
    booking: Booking, what: str, who: str, at: datetime, zone: ZoneInfo, reason: object = None
) -> str:
    """A change posted in a conversation: '#42 cancelled by Ana Silva (customer) via the
    booking page,
    10:02 EST — “sick” (Ana Silva · Haircut · Wed 25 Nov 2026, 15:00–15:45 EST)'."""
    said = f" — “{reason}”" if reason else ""
    return (
        f"{booking.ref} {what} by {who}, {clock_time(at, zone)} {local(at, zone):%Z}{said} "
        f"({summary(booking, zone)})"
    )


NOTES_BY_EVENT = {
    "booking.refund_issued": NOTES[Note.REFUND_ISSUED],
    "booking.no_show": "marked a no-show",
    "booking.rescheduled": NOTES[Note.RESCHEDULED],
}


def new_booking(title: str) -> str:
    return f"New booking {title}"


def card_headline(title: str, status: Status) -> str:
    return f"Booking {title} · {status.label}"


# Each email's name as the owner reads it (core.notifications.MailKind values).
MAIL_KINDS = {
    "created": "booking received",
    "confirmed": "booking confirmed",
    "cancelled": "booking cancelled",
    "rescheduled": "booking moved",
    "reminder-24h": "24-hour reminder",
    "reminder-30m": "30-minute reminder",
    "owner-new-booking": "new booking",
    "delivery-failed": "delivery failed",
    "chat-unreachable": "chat unreachable",
}


def mail_failed(booking: Booking, failed_kind: str, error: str) -> str:
    phone = f" · {booking.customer.phone}" if booking.customer.phone else ""
    kind = MAIL_KINDS.get(failed_kind, failed_kind)
    return (
        f"Email to {booking.customer.name} failed ({booking.ref}, {kind}): {error}\n"
        f"Write to them yourself: {booking.customer.email}{phone}"
    )


def refund_marked(booking: Booking, outcome: MoveOutcome) -> str:
    if outcome is MoveOutcome.ALREADY:
        return f"{booking.ref} is already marked refunded. Nothing changed."
    return f"{booking.ref}: refund marked issued. It is in the booking's history."


def not_refundable(booking_id: int, status: Status) -> str:
    if status is not Status.CANCELLED:
        return f"#{booking_id} is {status.label}; only a cancelled booking can be marked refunded."
    return f"#{booking_id} has no payment to refund."


def cancel_question(booking: Booking, zone: ZoneInfo) -> str:
    return (
        f"Cancel {booking.ref} ({summary(booking, zone)})? Add a reason for the customer "
        f"(optional, up to {REASON_LIMIT} characters), or skip."
    )


REASON_LIMIT = 500
REASON_TOO_LONG = f"Keep the reason under {REASON_LIMIT} characters."
UNKNOWN_BUTTON = "That button doesn't work any more. Type `help` for what I understand."

# Linking a conversation to a business, in each surface's own commands.
LINK_COMMANDS = {
    "slack": ("/bookings connect <code>", "/bookings disconnect"),
    "telegram": ("/start <code>", "/unlink"),
}
LINK_REFUSED = (
    "That code doesn't work: it may be mistyped, already used or expired. Ask for a new one "
    "(`juneplum business link-code <business id>`)."
)


def not_linked(platform: str) -> str:
    link, _ = LINK_COMMANDS[platform]
    return (
        "This conversation isn't linked to a business yet. Get a link code with "
        f"`juneplum business link-code <business id>`, then send `{link}` here."
    )


def linked(business_name: str, again: bool) -> str:
    if again:
        return f"This conversation is linked to “{business_name}” again; alerts resume here."
    return (
        f"This conversation is now linked to “{business_name}”. New bookings will appear "
        "here; type `help` for what you can ask."
    )


def linked_elsewhere(platform: str, business_name: str) -> str:
    _, unlink = LINK_COMMANDS[platform]
    return (
        f"This conversation is already linked to “{business_name}”. Send `{unlink}` first "
        "to link it to another business."
    )


def unlinked(business_name: str) -> str:
    return (
        f"This conversation is no longer linked to “{business_name}”; nothing more is posted here."
    )


NOT_LINKED_ANYWHERE = "This conversation isn't linked to any business."


def unreachable(platform_label: str, title: str, reason: str) -> str:
    return (
        f"Juneplum can no longer post to {title} on {platform_label} ({reason}). Nothing more "
        "goes there until it is linked again with a new code."
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
            f"{ref} was {err.status.label} a moment ago by {err.changed_by.actor.describe()}, "
            f"so your {err.move.value} was not applied.{again}"
        )
    return f"{ref} is {err.status.label}; it can't be {err.move.past}."


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
    if isinstance(err, NotRefundable):
        return not_refundable(err.booking_id, err.status)
    if isinstance(err, NotStartedYet):
        return not_started_yet(err)
    if isinstance(err, NotEndedYet):
        return not_ended_yet(err)
    if isinstance(err, NotMovable):
        return not_movable(err)
    if isinstance(err, NoSuchLocalTime):
        return no_such_local_time(err)
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


# Chat surfaces' own lines.
SOMETHING_WRONG = "Something went wrong there; nothing was changed. Try again."
NOT_A_MEMBER = (
    "Only members of a conversation linked to this business can see or change its bookings."
)
HOME_NOT_LINKED = (
    "No business here yet. In a channel, send `/bookings connect <code>` with a code from "
    "`juneplum business link-code <business id>`; this tab then shows its bookings."
)
HOME_SEARCH_LABEL = "Search by customer or service"
HOME_PENDING = "Waiting for your confirmation"
HOME_EMPTY_WEEK = "Nothing booked this week."

# Why a platform says a conversation can't be reached, in words (Slack's error codes).
GONE_REASONS = {
    "channel_not_found": "the channel was deleted, or the app can no longer see it",
    "is_archived": "the channel was archived",
    "not_in_channel": "the app was removed from the channel",
    "account_inactive": "the app's access to the workspace was removed",
    "team_access_not_granted": "the app's access to the workspace was removed",
    "team_not_found": "the workspace can no longer be reached",
}
SOCKET_MODE_REFUSED = (
    "Slack refused SLACK_APP_TOKEN for Socket Mode: create an app-level token with the "
    "connections:write scope (Basic Information, App-Level Tokens) and set it again."
)
SLACK_UNREACHABLE = (
    "Slack did not answer when connecting over Socket Mode; check the network, or set "
    "SLACK_API_URL if it is not https://slack.com/api/."
)


# Telegram

# The bot's command menu (setMyCommands): each shortcut stands for a line of the language.
TELEGRAM_COMMANDS = (
    ("bookings", "Any view or action: today, pending, #42, confirm 42, help…"),
    ("today", "Today's bookings"),
    ("pending", "Bookings waiting for your confirmation"),
    ("search", "Find bookings by customer or service: /search ana"),
    ("calendar", "Bookings per day of the month"),
    ("revenue", "Money this month, per currency: /revenue 2026-11"),
    ("help", "What you can ask"),
    ("unlink", "Stop posting this business's bookings here"),
)
TELEGRAM_HELP_INTRO = (
    "In Telegram: /today · /pending · /search ana · /calendar, or /bookings with anything "
    "below (/bookings 2026-12-01, /bookings #42, /bookings confirm 42). /unlink stops the "
    "alerts here."
)
SOMETHING_WENT_WRONG = SOMETHING_WRONG
CANCEL_ASKED = "Reply with a reason for the customer, or press “Cancel without a reason”."
SKIP_REASON = "Cancel without a reason"
KEEP_BOOKING = "Don't cancel"
REASON_PLACEHOLDER = "Reason for the customer (optional)"
NOT_CANCELLED = "Not cancelled. Here is the booking as it is."
PROMPT_EXPIRED = "That question has expired; press Cancel on the booking again."
NEXT_PAGE = "Next ›"
PREVIOUS_PAGE = "‹ Previous"
EARLIER_MONTH = "‹"
LATER_MONTH = "›"
WEEKDAYS_SHORT = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
REMOVED_FROM_CHAT = "the bot was removed from the chat"
BLOCKED_BY_USER = "the bot was blocked"


def details_below(title: str) -> str:
    return f"The details of {title} are below."


def unknown_command(command: str) -> str:
    return f"I don't know {command}. Type /help for what I understand."


def list_footer(first: int, last: int, total: str, zone: str) -> str:
    return f"Showing {first}–{last} of {total} ({zone})."


def calendar_title(month_name: str, year: int) -> str:
    return f"{month_name} {year} — bookings per day"


def calendar_hint(total: int) -> str:
    shown = "1 active booking" if total == 1 else f"{total} active bookings"
    return f"{shown}. Tap a day to list it."


# Payments and refunds (issue 21): providers, the refund record, payments to review.

PAYMENT_STATES = {
    PaymentStatus.PAID: "paid",
    PaymentStatus.DUE: "due at the appointment",
    PaymentStatus.PARTIALLY_REFUNDED: "paid, partly refunded",
    PaymentStatus.REFUNDED: "refunded",
}
# Where the owner refunds each provider's payment; {id} is its transaction id.
REFUND_WHERE = {
    Provider.PAYPAL: "open transaction {id} in your PayPal dashboard: "
    "https://www.paypal.com/activity/payment/{id}.",
    Provider.INKRESS: "open the order with reference {id} in your Inkress dashboard "
    "(https://inkress.com, Orders).",
    Provider.CASH: "give the cash back.",
}


def provider_name(provider: Provider) -> str:
    return PROVIDERS[provider] if provider is not Provider.CASH else "Cash"


def refund_issued_line(booking: Booking, marked: HistoryEntry | None, zone: ZoneInfo) -> str:
    """'Refund marked issued by Sam via Slack · Wed 25 Nov 2026, 09:00 EST', or, reported by
    a provider, 'Refund of 20.00 USD (of 45.00 USD paid) issued, reported by PayPal · …'."""
    refund, paid = booking.refund, booking.payment
    at = refund.issued_at or (marked.at if marked is not None else None)
    stamp = f" · {when(at, zone)}" if at is not None else ""
    if marked is not None and marked.actor.kind is not ActorKind.SYSTEM:
        return f"Refund marked issued by {marked.actor.describe()}{stamp}"
    amount = money(refund.amount if refund.amount is not None else paid.amount, paid.currency)
    part = f" (of {money(paid.amount, paid.currency)} paid)" if refund.amount != paid.amount else ""
    who = f", reported by {marked.actor.describe()}" if marked is not None else ""
    return f"Refund of {amount}{part} issued{who}{stamp}"


def currency_mismatch(amount: Decimal, currency: str, expected: str) -> str:
    return f"Paid {money(amount, currency)}, but the business takes {expected}."


def amount_mismatch(amount: Decimal, price: Decimal, currency: str, *, due: bool) -> str:
    said = "Due" if due else "Paid"
    return f"{said} {money(amount, currency)}, but the service's price is {money(price, currency)}."


def review_line(reason: str) -> str:
    return f"Check the payment: {reason}"


REFUNDS_TITLE = "Refunds owed, oldest first"
NO_REFUNDS_OWED = "No refunds owed."


# Money: GCT on receipts, and the revenue report (issue 21).


def tax_lines(booking: Booking, gct_rate: Decimal | None) -> list[tuple[str, str, str]]:
    """The paid amount as subtotal, GCT and total, when the business charges GCT:
    (key, label, value)."""
    if not gct.enabled(gct_rate) or gct_rate is None:
        return []
    p = booking.payment
    split = gct.split(Money(p.amount, p.currency), gct_rate)
    return [
        ("subtotal", "Subtotal", str(split.subtotal)),
        ("gct", f"GCT {gct.percent(split.rate)}", str(split.tax)),
        ("total", "Total", str(split.total)),
    ]


def revenue_title(span: DaySpan) -> str:
    return f"Revenue · {span.label}"


def revenue_note(span: DaySpan, zone: ZoneInfo, empty: bool) -> str:
    """Which appointments the figures count, in the business's zone."""
    days = (
        f"on {_day(span.first)}"
        if span.days == 1
        else f"from {_day(span.first)} to {_day(span.last)}"
    )
    if empty:
        return f"No bookings {days} ({zone.key})."
    return (
        f"Appointments {days} ({zone.key}). Completed is after refunds issued on it; "
        "each currency is counted on its own."
    )


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def revenue_sections(revenue: Revenue) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each currency's figures as (heading, [(label, value)])."""
    sections = []
    for c in revenue.currencies:
        lines = [
            ("Completed", _figure(c.completed)),
            ("To come: confirmed", _figure(c.confirmed)),
            ("To come: pending", _figure(c.pending)),
            ("Cancelled", _figure(c.cancelled)),
            ("Refunds owed", _figure(c.refunds_owed)),
            ("Refunds issued", _figure(c.refunds_issued)),
        ]
        if c.gct is not None and revenue.gct_rate is not None:
            lines.insert(1, (f"GCT {gct.percent(revenue.gct_rate)} in completed", str(c.gct)))
        if c.top_services:
            top = " · ".join(f"{s.name} {s.money} ({s.count})" for s in c.top_services)
            lines.append(("Top services", top))
        sections.append((c.currency, lines))
    return sections


def _figure(figure: Figure) -> str:
    return f"{figure.money} · {_count(figure.count, 'booking')}"


# The owner's day: no-shows, close-out prompts, nudges, the morning digest, refunds owed.


def not_started_yet(err: NotStartedYet) -> str:
    return (
        f"#{err.booking_id} hasn't started yet; it can be marked a no-show (or, while "
        "pending, completed) once it has, from its start time."
    )


def not_ended_yet(err: NotEndedYet) -> str:
    return (
        f"#{err.booking_id} was moved and hasn't ended yet, so nothing was changed: it will "
        f"be asked about again after it ends (or type `complete {err.booking_id}`)."
    )


CLOSEOUT_COMPLETED = "Completed"
CLOSEOUT_HEADLINE = "Close out"


def closeout_question(refs: list[str]) -> str:
    """'Did #42 happen?', or 'Did these happen? #42, #43' for bookings that ended together."""
    if len(refs) == 1:
        return f"Did {refs[0]} happen?"
    return "Did these happen? " + ", ".join(refs)


def nudge_headline(title: str) -> str:
    return f"{title} is still waiting for your confirmation"


DIGEST_TODAY = "Today"
DIGEST_PENDING = "Still waiting for your confirmation"
DIGEST_REFUNDS = "Refunds owed"
DIGEST_NOT_CLOSED = "Yesterday, not closed out (complete or noshow)"
DIGEST_SHOWN = 20  # lines per part; the rest is counted


def digest(d: Digest) -> str:
    """The morning digest as lines: the day in order, then what needs the owner."""
    zone = d.business.zone
    lines = [f"Good morning — {d.business.name}, {d.day:%a} {d.day.day} {d.day:%b %Y}"]
    parts: list[tuple[str, list[str]]] = [
        (
            DIGEST_TODAY,
            [
                f"{clock_time(b.start_at, zone)} {b.ref} {_digest_line(b)} · {b.status.label}"
                for b in d.today
            ],
        ),
        (
            DIGEST_PENDING,
            [f"{b.ref} {when(b.start_at, zone)} · {_digest_line(b)}" for b in d.pending],
        ),
        (DIGEST_REFUNDS, [refund_owed_line(b, d.now) for b in d.refunds]),
        (
            DIGEST_NOT_CLOSED,
            [
                f"{clock_time(b.start_at, zone)} {b.ref} {_digest_line(b)} · {b.status.label}"
                for b in d.not_closed
            ],
        ),
    ]
    for title, items in parts:
        if not items:
            continue
        lines.append("")
        lines.append(f"{title} ({len(items)}):")
        lines += [f"• {line}" for line in items[:DIGEST_SHOWN]]
        if len(items) > DIGEST_SHOWN:
            lines.append(f"… and {len(items) - DIGEST_SHOWN} more")
    return "\n".join(lines)


def _digest_line(b: Booking) -> str:
    return f"{b.customer.name} · {b.service.name}"


def refund_owed_line(b: Booking, now: datetime) -> str:
    """'#12 Ana Silva · 45.00 USD · owed 5 days (refunded 12)'."""
    cancelled = b.cancellation
    days = (now - cancelled.at).days if cancelled is not None else 0
    owed = "owed since today" if days < 1 else f"owed {_count(days, 'day')}"
    refund = b.refund
    amount = money(refund.amount, refund.currency) if refund.amount is not None else ""
    return f"{b.ref} {b.customer.name} · {amount} · {owed} (then type `refunded {b.id}`)"


def refunds_nudge(owed: list[Booking], now: datetime) -> str:
    lines = [f"Refunds owed for more than 3 days ({len(owed)}):"]
    lines += [f"• {refund_owed_line(b, now)}" for b in owed[:DIGEST_SHOWN]]
    if len(owed) > DIGEST_SHOWN:
        lines.append(f"… and {len(owed) - DIGEST_SHOWN} more: type `cancelled`")
    return "\n".join(lines)


def digest_set(setting: str) -> str:
    if setting == "off":
        return (
            "The morning digest is off in this conversation. Refunds owed for more than "
            "3 days are still named here at 08:00. `/bookings digest 08:00` turns it back on."
        )
    return (
        f"The morning digest comes here at {setting} (the business's time) on days with "
        "something to show. `/bookings digest off` stops it."
    )


DIGEST_BAD_TIME = "Give the digest a time like `digest 07:30`, or `digest off`."
DIGEST_ONLY_IN_CHAT = (
    "The digest time is set per chat conversation: send `/bookings digest 07:30` (or `off`) "
    "in Slack or Telegram. Type `digest` for today's digest here."
)
NOTHING_TODAY = "Nothing today: no bookings, nothing pending, no refunds owed."


# Reschedule and the calendar feed (issue 22)


def short_when(at: datetime, zone: ZoneInfo) -> str:
    """'Tue 8 Dec 15:00': a start in the business's zone, short, for a line about a move."""
    t = local(at, zone)
    return f"{t:%a} {t.day} {t:%b} {t:%H:%M}"


def moved_line(entry: HistoryEntry, zone: ZoneInfo) -> str:
    """'moved from Tue 8 Dec 15:00 to Wed 9 Dec 10:00 EST by Riley via Slack'."""
    old, new = entry.moved_from, entry.moved_to
    if old is None or new is None:  # pragma: no cover - a reschedule always has both
        return f"moved by {entry.actor.describe()}"
    return (
        f"moved from {short_when(old, zone)} to {short_when(new, zone)} "
        f"{local(new, zone):%Z} by {entry.actor.describe()}"
    )


def moved_field(entry: HistoryEntry, zone: ZoneInfo) -> str:
    """A card's 'Moved' line: from when, by whom, when."""
    old = entry.moved_from or entry.at
    return f"from {when(old, zone)} by {entry.actor.describe()} · {when(entry.at, zone)}"


def rescheduled(business: Business, booking: Booking, moved_from: datetime, applied: bool) -> str:
    """The answer to `move 42 ...`: what changed, or that nothing did."""
    zone = business.zone
    what = f"{booking.customer.name} · {booking.service.name}"
    if not applied:
        return f"{booking.ref} already starts {when(booking.start_at, zone)}. Nothing changed."
    return (
        f"{booking.ref} moved from {when(moved_from, zone)} to {when(booking.start_at, zone)} "
        f"({what}). The customer is emailed the new time."
    )


def not_movable(err: NotMovable) -> str:
    ref = f"#{err.booking_id}"
    if err.changed_by is not None:
        what = "moved" if err.changed_by.note is Note.RESCHEDULED else err.status.value
        return (
            f"{ref} was {what} a moment ago by {err.changed_by.actor.describe()}, so it was not "
            "moved. Look at the booking again and move it if you still mean it."
        )
    return f"{ref} is {err.status.value}; only a pending or confirmed booking can be moved."


def no_such_local_time(err: NoSuchLocalTime) -> str:
    return (
        f"{err.at:%H:%M} doesn't exist on {err.day.isoformat()} in {err.zone}: the clocks "
        "skip that hour. Pick another time."
    )


RESCHEDULE_LABEL = "Reschedule"
RESCHEDULE_TITLE = "Move {ref}"
RESCHEDULE_SUBMIT = "Move booking"
RESCHEDULE_DATE = "New date"
RESCHEDULE_TIME = "New start time"
RESCHEDULE_PICK_DAY = "Move {ref} to which day?"
RESCHEDULE_PICK_TIME = "Move {ref} to {day} at what time? ({zone})"
RESCHEDULE_NO_TIMES = (
    "No times left on that day; pick another, or type `move {id} YYYY-MM-DD HH:MM`."
)
RESCHEDULE_BACK = "‹ Back to the days"
RESCHEDULE_KEEP = "Don't move it"
RESCHEDULE_KEPT = "Not moved. Here is the booking as it is."
RESCHEDULE_PICK = "Pick a date and a time."


def reschedule_question(booking: Booking, zone: ZoneInfo) -> str:
    """The platform's date and time input, introduced."""
    return (
        f"Move {booking.ref} ({summary(booking, zone)}) to a new start, in your local time "
        f"({zone.key}). It keeps its {booking.service.duration_minutes} minutes; the customer "
        "is emailed the new time."
    )


CALENDAR_FEED_NAME = "{business} bookings"


def calendar_event_summary(booking: Booking) -> str:
    """A feed event's title: '#42 Ana Silva · Haircut (pending)'."""
    return (
        f"{booking.ref} {booking.customer.name} · {booking.service.name} ({booking.status.value})"
    )


def calendar_event_description(booking: Booking, with_contacts: bool) -> str:
    """A feed event's details, one per line; the customer's contacts only when the business
    turned them on."""
    lines = [
        f"Booking {booking.ref}",
        f"Customer: {booking.customer.name}",
        f"Service: {booking.service.name} ({booking.service.duration_minutes} min)",
        f"Status: {booking.status.value}",
    ]
    if with_contacts:
        lines.append(f"Email: {booking.customer.email}")
        if booking.customer.phone:
            lines.append(f"Phone: {booking.customer.phone}")
    return "\n".join(lines)


# --- payments: what a provider's event and the owner's emails say (issue 21's fixes) --------

PAID_AFTER_START = "Paid for an appointment that had already started."


def foreign_refund(provider: Provider, amount: Decimal, currency: str, paid_currency: str) -> str:
    """A refund in another currency than the payment: flagged, never added."""
    return (
        f"{provider_name(provider)} reported a refund of {money(amount, currency)}, but the "
        f"payment was in {paid_currency}: it isn't counted as a refund."
    )


def owner_payment_line(booking: Booking) -> str:
    """The owner's new-booking email: whether the customer paid, or pays at the visit."""
    p = booking.payment
    if p.status is PaymentStatus.DUE:
        return f"{money(p.amount, p.currency)} is due at the appointment (cash)."
    return "The customer has paid."


def refund_done_line(booking: Booking, provider: str, transaction_id: str) -> str:
    """The cancelled email, once a refund is issued: its own amount, and of how much paid
    when that is less."""
    refund, paid = booking.refund, booking.payment
    transaction = f"({provider}, transaction {transaction_id})"
    if refund.amount is None or refund.amount >= paid.amount:
        paid_money = money(paid.amount, paid.currency)
        return f"Your payment of {paid_money} {transaction} has been refunded."
    return (
        f"{money(refund.amount, paid.currency)} (of {money(paid.amount, paid.currency)} paid) "
        f"{transaction} has been refunded to you."
    )
