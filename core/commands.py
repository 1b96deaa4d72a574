"""The command language every surface speaks, parsed once here.

Views: today, tomorrow, week, next 7 days, all, 2026-12-01, 2026-12-01..2026-12-07, pending (any
status), search ana, a bare word (search), #42 (details), calendar [2026-12], digest, help,
revenue [2026-11 | 2026-01-01..2026-03-31].
Settings of a chat conversation: digest 07:30, digest off.
Actions: confirm 42, complete 42, cancel 42 [reason], noshow 42, refunded 42,
move 42 2026-12-08 15:00 (the business's local time).
Money: refunds (the refunds still owed, oldest first).
A list view may end in `page N`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, time

from core import periods
from core.folding import fold
from core.lifecycle import Move, Status
from core.periods import DaySpan

COMMAND_PREFIXES = ("/bookings", "bookings")
FIRST_YEAR, LAST_YEAR = 1900, 9998  # dates outside this range are refused, never overflowed

EXAMPLES = (
    "today · tomorrow · week · next 7 days · all · 2026-12-01 · 2026-12-01..2026-12-07 · "
    "pending · search ana · #42 · calendar 2026-12 · confirm 42 · complete 42 · "
    "cancel 42 customer asked · noshow 42 · refunded 42 · refunds · help"
)


@dataclass(frozen=True)
class ListDays:
    span: DaySpan
    page: int = 1


@dataclass(frozen=True)
class ListAll:
    page: int = 1


@dataclass(frozen=True)
class ListStatus:
    status: Status
    page: int = 1


@dataclass(frozen=True)
class Search:
    term: str
    page: int = 1
    bare: bool = False  # typed without `search`: may be a mistyped command


@dataclass(frozen=True)
class Details:
    booking_id: int


@dataclass(frozen=True)
class ShowCalendar:
    year: int
    month: int


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ShowRevenue:
    """What the business made in a span of its local days (this month by default)."""

    span: DaySpan


@dataclass(frozen=True)
class Act:
    move: Move
    booking_id: int
    reason: str | None = None


@dataclass(frozen=True)
class MarkRefunded:
    """The owner refunded a cancelled booking in the provider's dashboard."""

    booking_id: int


@dataclass(frozen=True)
class ListRefunds:
    """The refunds still owed, the longest owed first."""

    page: int = 1


@dataclass(frozen=True)
class ShowDigest:
    """Today's digest, now."""


@dataclass(frozen=True)
class SetDigest:
    """A conversation's morning digest time: "07:30", or "off"."""

    setting: str


@dataclass(frozen=True)
class Reschedule:
    """Move a booking to another start, given as a local date and time of the business."""

    booking_id: int
    day: date
    at: time


View = (
    ListDays
    | ListAll
    | ListStatus
    | Search
    | Details
    | ShowCalendar
    | Help
    | ShowRevenue
    | ListRefunds
    | ShowDigest
)
Command = View | Act | MarkRefunded | SetDigest | Reschedule


class CommandError(ValueError):
    """Input that is not a command; the message is already plain words for the owner."""


_STATUS_WORDS = {s.value: s for s in Status} | {
    "canceled": Status.CANCELLED,
    "no-show": Status.NO_SHOW,
    "no-shows": Status.NO_SHOW,
}
_MOVE_WORDS = {m.value: m for m in Move} | {
    "done": Move.COMPLETE,
    "noshow": Move.NO_SHOW,
    "no-show": Move.NO_SHOW,
}
_VIEW_WORDS = {
    "today": periods.today,
    "tomorrow": periods.tomorrow,
    "week": periods.this_week,
    "this week": periods.this_week,
    "next 7 days": periods.next_days,
    "next7": periods.next_days,
    "next 7": periods.next_days,
    "7 days": periods.next_days,
}
_REFUND_WORDS = ("refunded", "refund")
_RESCHEDULE_WORDS = ("move", "reschedule")
_OTHER_WORDS = (
    "all", "list", "search", "calendar", "help", "revenue", "refunds", "digest",
    *_REFUND_WORDS, *_RESCHEDULE_WORDS,
)  # fmt: skip
KEYWORDS = (*_VIEW_WORDS, *_STATUS_WORDS, *_MOVE_WORDS, *_OTHER_WORDS)
_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_RANGE = re.compile(rf"^({_DATE})\s*\.\.\s*({_DATE})$")
_BOOKING_REF = re.compile(r"^#?(\d{1,12})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RESCHEDULE = re.compile(r"^#?(\d{1,12})\s+(\d{4}-\d{1,2}-\d{1,2})\s+(\d{1,2}):(\d{2})$")
_PAGE = re.compile(r"^(.*?)\s*\bpage\s+(\d{1,6})$", re.IGNORECASE)


def parse(text: str, today: date) -> Command:
    """Parse one line typed by an owner.

    Args:
        text: what the owner typed, with or without a leading `/bookings`.
        today: the business's local date, for `today`, `week` and the calendar.

    Raises:
        CommandError: the text is not a command; its message says why and shows examples.
    """
    # Control characters (a NUL from Ctrl-Space, escape sequences) are never part of a command.
    words = " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())
    lowered = words.lower()
    for prefix in COMMAND_PREFIXES:
        if lowered == prefix or lowered.startswith(prefix + " "):
            words = words[len(prefix) :].strip()
            lowered = words.lower()
            break
    if not words:
        return ListDays(periods.today(today))

    page = 1
    paged = _PAGE.match(words)
    if (
        paged
        and paged.group(1)
        and paged.group(1).split()[0].lower() not in (*_MOVE_WORDS, *_RESCHEDULE_WORDS)
    ):
        words, page = paged.group(1), int(paged.group(2))
        if page < 1:
            raise CommandError("Pages start at 1, e.g. `all page 2`.")
        lowered = words.lower()

    head, _, rest = lowered.partition(" ")
    rest_original = words[len(head) :].strip()

    if lowered in ("help", "?", "start"):
        return Help()
    if lowered in _VIEW_WORDS:
        return ListDays(_VIEW_WORDS[lowered](today), page)
    if lowered in ("all", "list"):
        return ListAll(page)
    if lowered == "refunds":
        return ListRefunds(page)
    if lowered in _STATUS_WORDS:
        return ListStatus(_STATUS_WORDS[lowered], page)
    if head == "search":
        if not fold(rest):
            raise CommandError("Search for what? e.g. `search ana` or `search haircut`.")
        return Search(rest_original, page)
    if head == "calendar":
        return _calendar(rest, today)
    if head == "revenue":
        return _revenue(rest, today)
    if head == "digest":
        return _digest(rest)
    if head in _MOVE_WORDS:
        return _action(_MOVE_WORDS[head], rest_original)
    if head in _RESCHEDULE_WORDS:
        return _reschedule(rest)
    if head in _REFUND_WORDS:
        ref = _BOOKING_REF.match(rest)
        if not ref:
            raise CommandError("Which booking did you refund? e.g. `refunded 42`.")
        return MarkRefunded(int(ref.group(1)))
    if ref := _BOOKING_REF.match(lowered):
        return Details(int(ref.group(1)))
    if rng := _RANGE.match(lowered):
        return ListDays(_range(rng), page)
    if re.fullmatch(_DATE, lowered):
        return ListDays(periods.one_day(_date(lowered)), page)
    if lowered.startswith("#") or re.fullmatch(r"[\d.\-/]+", lowered):
        raise CommandError(
            f"I can't read “{words}”. Dates look like 2026-12-01, ranges like "
            "2026-12-01..2026-12-07, bookings like #42."
        )
    if not fold(words):
        raise CommandError(f"I can't read “{words}”. Type `help` for what I understand.")
    return Search(words, page, bare=True)


def suggestion(word: str) -> str | None:
    """The command a mistyped word most likely meant, if any ("tomorow" -> "tomorrow")."""
    close = difflib.get_close_matches(word.lower(), KEYWORDS, n=1, cutoff=0.75)
    return close[0] if close else None


def _date(text: str) -> date:
    try:
        year, month, day = (int(p) for p in text.split("-"))
        found = date(year, month, day)
    except ValueError:
        raise CommandError(
            f"{text} isn't a date on the calendar. Dates look like 2026-12-01."
        ) from None
    if not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise CommandError(f"Pick a date between {FIRST_YEAR} and {LAST_YEAR}.")
    return found


def _range(rng: re.Match[str]) -> DaySpan:
    first, last = _date(rng.group(1)), _date(rng.group(2))
    if last < first:
        raise CommandError(
            f"That range ends before it starts. Try `{last.isoformat()}..{first.isoformat()}`."
        )
    if (last - first).days > 366:
        raise CommandError("A range can span at most a year; try a shorter one.")
    return periods.day_range(first, last)


def read_date(text: str) -> date:
    """A date as the command language reads it (2026-12-01), for other surfaces' options.

    Raises:
        CommandError: not a date on the calendar, or out of range; the message says so.
    """
    if not re.fullmatch(_DATE, text.strip()):
        raise CommandError(f"“{text}” isn't a date. Dates look like 2026-12-01.")
    return _date(text.strip())


def _revenue(rest: str, today: date) -> ShowRevenue:
    """`revenue`: this month; `revenue 2026-11`, `revenue 2026-11-05`, or a range of days."""
    if not rest:
        return ShowRevenue(periods.month_span(today.year, today.month))
    if (m := _MONTH.match(rest)) and 1 <= int(m.group(2)) <= 12:
        if not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
            raise CommandError(f"Pick a date between {FIRST_YEAR} and {LAST_YEAR}.")
        return ShowRevenue(periods.month_span(int(m.group(1)), int(m.group(2))))
    if rng := _RANGE.match(rest):
        return ShowRevenue(_range(rng))
    if re.fullmatch(_DATE, rest):
        return ShowRevenue(periods.one_day(_date(rest)))
    raise CommandError(
        f"“{rest}” isn't a month or a range. Try `revenue`, `revenue 2026-11` or "
        "`revenue 2026-01-01..2026-03-31`."
    )


def _calendar(rest: str, today: date) -> ShowCalendar:
    if not rest:
        return ShowCalendar(today.year, today.month)
    m = _MONTH.match(rest)
    if not m or not 1 <= int(m.group(2)) <= 12 or not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        raise CommandError(f"“{rest}” isn't a month. Try `calendar` or `calendar 2026-12`.")
    return ShowCalendar(int(m.group(1)), int(m.group(2)))


_DIGEST_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]?([0-5]\d)$")
DIGEST_DEFAULT = "08:00"


def _digest(rest: str) -> ShowDigest | SetDigest:
    """`digest` shows today's; `digest 07:30`, `digest off`, `digest on` (08:00) set it."""
    if not rest:
        return ShowDigest()
    if rest in ("off", "on"):
        return SetDigest("off" if rest == "off" else DIGEST_DEFAULT)
    found = _DIGEST_TIME.match(rest)
    if not found:
        raise CommandError("Give the digest a time like `digest 07:30`, or `digest off`.")
    return SetDigest(f"{int(found.group(1)):02d}:{found.group(2)}")


def _reschedule(rest: str) -> Reschedule:
    found = _RESCHEDULE.match(rest.strip())
    if not found:
        raise CommandError(
            "Move which booking, to when? e.g. `move 42 2026-12-08 15:00` (your local time)."
        )
    day = _date(found.group(2))
    hour, minute = int(found.group(3)), int(found.group(4))
    if hour > 23 or minute > 59:
        raise CommandError(
            f"{found.group(3)}:{found.group(4)} isn't a time; times look like 15:00."
        )
    return Reschedule(int(found.group(1)), day, time(hour, minute))


def _action(move: Move, rest: str) -> Act:
    ref, _, reason = rest.partition(" ")
    m = _BOOKING_REF.match(ref)
    if not m:
        word = "noshow" if move is Move.NO_SHOW else move.value
        example = f"{word} 42" + (" customer asked" if move is Move.CANCEL else "")
        raise CommandError(f"Which booking? e.g. `{example}`.")
    if move is not Move.CANCEL and reason.strip():
        word = "noshow" if move is Move.NO_SHOW else move.value
        raise CommandError(f"Only cancel takes a reason; try `{word} {m.group(1)}`.")
    cleaned = reason.strip() or None
    if cleaned and len(cleaned) > 500:
        raise CommandError("Keep the reason under 500 characters.")
    return Act(move, int(m.group(1)), cleaned)
