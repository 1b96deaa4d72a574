"""What the Telegram-only buttons carry in their callback data (64 bytes at most).

A card's own buttons carry the card action's value (`confirm:42:pending`, read by
core.cards.read_tap). Besides those, Telegram has buttons of its own: a list's pages and the
calendar (a line of the command language to show: only views, never an action), and the two
answers to Cancel's question. None of it is trusted: a view is parsed like a typed line and
refused unless it is a view; skip and keep go through the chat layer's checks like any tap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, time

from core import commands
from core.lifecycle import Status

DATA_LIMIT = 64  # bytes of callback data Telegram carries
NOTHING = "noop"  # a calendar's labels and blank cells
_VIEW, _NEW, _SKIP, _KEEP, _PROMPT = "v:", "n:", "cx:", "keep:", "p:"
# A move by tapping: a month of days, a day's times, a time (the move), or keep it as it is.
_MONTH, _DAY, _TIME, _STAY = "rm:", "rd:", "rt:", "rk:"
_REF = r"([0-9]{1,12}):([a-z_]{1,16})"
_STEPS = {
    _STAY: re.compile(_REF, re.ASCII),
    _MONTH: re.compile(_REF + r":([0-9]{4})-([0-9]{2})", re.ASCII),
    _DAY: re.compile(_REF + r":([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII),
    _TIME: re.compile(_REF + r":([0-9]{4})-([0-9]{2})-([0-9]{2}):([0-9]{2})([0-9]{2})", re.ASCII),
}
_ANSWER = re.compile(r"([0-9]{1,12}):([a-z_]{1,16})", re.ASCII)
_PAGE = re.compile(r"\s*\bpage\s+\d{1,6}$", re.IGNORECASE)


@dataclass(frozen=True)
class View:
    """Show a line of the command language: in place of the tapped message, or below it."""

    command: str
    in_place: bool


@dataclass(frozen=True)
class Answer:
    """Cancel's question answered from its buttons: skip the reason, or keep the booking."""

    booking_id: int
    drawn: Status
    cancel: bool


@dataclass(frozen=True)
class Prompted:
    """A close-out prompt's button: the card action's value, tapped on the prompt (which the
    chat layer redraws whole, so the message isn't redrawn in place)."""

    value: str


def prompted(value: str) -> str:
    return _PROMPT + value


@dataclass(frozen=True)
class Moving:
    """A step of moving a booking by tapping: show `month`'s days, or `day`'s times, or move
    it to `day` `at` (local time), or (all None) keep it where it is."""

    booking_id: int
    drawn: Status
    month: date | None = None  # the first of the month to show
    day: date | None = None
    at: time | None = None

    @property
    def data(self) -> str:
        ref = f"{self.booking_id}:{self.drawn.value}"
        if self.at is not None and self.day is not None:
            return f"{_TIME}{ref}:{self.day.isoformat()}:{self.at:%H%M}"
        if self.day is not None:
            return f"{_DAY}{ref}:{self.day.isoformat()}"
        if self.month is not None:
            return f"{_MONTH}{ref}:{self.month:%Y-%m}"
        return f"{_STAY}{ref}"


def view(command: str) -> str:
    """A page or a month, shown in place of the message; "" when it doesn't fit (the list
    says what to type instead)."""
    data = _VIEW + command
    return data if len(data.encode()) <= DATA_LIMIT else ""


def day(on: date) -> str:
    return _NEW + on.isoformat()


def skip(booking_id: int, drawn: Status) -> str:
    return f"{_SKIP}{booking_id}:{drawn.value}"


def keep(booking_id: int, drawn: Status) -> str:
    return f"{_KEEP}{booking_id}:{drawn.value}"


def without_page(command: str) -> str:
    """`search ana page 3` -> `search ana`."""
    return _PAGE.sub("", command.strip())


def read(data: str) -> View | Answer | Prompted | Moving | str | None:
    """What a tapped button asks: a view, an answer to Cancel's question, a card's payload
    (str, for the chat layer to read), or None for a button that shows nothing."""
    if data == NOTHING:
        return None
    if data.startswith(_PROMPT):
        return Prompted(data[len(_PROMPT) :])
    for prefix, in_place in ((_VIEW, True), (_NEW, False)):
        if data.startswith(prefix):
            command = data[len(prefix) :]
            return View(command, in_place) if _is_view(command) else data
    for prefix in (_MONTH, _DAY, _TIME, _STAY):
        if data.startswith(prefix):
            return _moving(prefix, data[len(prefix) :]) or data
    for prefix, cancel in ((_SKIP, True), (_KEEP, False)):
        if data.startswith(prefix) and (found := _ANSWER.fullmatch(data[len(prefix) :])):
            try:
                return Answer(int(found.group(1)), Status(found.group(2)), cancel)
            except ValueError:
                return data
    return data


def _is_view(command: str) -> bool:
    """Only views may ride on a button: an action must be typed or pressed on its card."""
    if not command or len(command.encode()) > DATA_LIMIT:
        return False
    try:
        parsed = commands.parse(command, date(2000, 1, 1))  # the date only fills `today`
    except commands.CommandError:
        return False
    return not isinstance(parsed, commands.Act | commands.MarkRefunded)


def _moving(prefix: str, rest: str) -> Moving | None:
    """A move step's data, read back and checked for its shape; None when malformed."""
    found = _STEPS[prefix].fullmatch(rest)
    if found is None:
        return None
    booking_id, drawn, *numbers = found.groups()
    try:
        status = Status(drawn)
        parts = [int(n) for n in numbers]
        month = date(parts[0], parts[1], 1) if len(parts) >= 2 else None
        day = date(parts[0], parts[1], parts[2]) if len(parts) >= 3 else None
        at = time(parts[3], parts[4]) if len(parts) == 5 else None
    except ValueError:
        return None
    if parts and not MINYEAR < parts[0] < MAXYEAR:  # forged: overflows in UTC
        return None
    return Moving(int(booking_id), status, month, day, at)
