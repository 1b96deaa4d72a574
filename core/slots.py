"""The start times a chat surface offers for a move made by tapping, not typing (Telegram's
keyboard of times): every half hour of a business day, 07:00 to 21:30 local time, only those
ahead of now, within the desk's reach, and that the clocks don't skip. Any other time can
still be typed (`move 42 2026-12-08 06:45`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import periods
from core.desk import MAX_AHEAD

EVERY = timedelta(minutes=30)
FIRST = time(7, 0)
LAST = time(21, 30)


def times(day: date, zone: ZoneInfo, now: datetime) -> list[time]:
    """The local start times offered on `day`."""
    found: list[time] = []
    at = datetime.combine(day, FIRST)
    while at.time() <= LAST and at.date() == day:
        start = periods.local_start(day, at.time(), zone)
        if start is not None and now < start <= now + MAX_AHEAD:
            found.append(at.time())
        at += EVERY
    return found


def first_day(zone: ZoneInfo, now: datetime) -> date:
    """The first local day a move can go to: today."""
    return now.astimezone(zone).date()


def last_day(zone: ZoneInfo, now: datetime) -> date:
    """The last local day a move can go to."""
    return (now + MAX_AHEAD).astimezone(zone).date()
