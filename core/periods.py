"""Date filters, read in the business's own time zone and turned into UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DaySpan:
    """An inclusive run of local calendar days, e.g. this week or 2026-12-01..2026-12-07."""

    first: date
    last: date
    label: str

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Half-open [start, end) in UTC covering every local day, DST changes included."""
        return local_midnight(self.first, zone), local_midnight(self.last + timedelta(days=1), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which a local day starts."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def today(on: date) -> DaySpan:
    return DaySpan(on, on, "Today")


def tomorrow(on: date) -> DaySpan:
    d = on + timedelta(days=1)
    return DaySpan(d, d, "Tomorrow")


def this_week(on: date) -> DaySpan:
    """Monday to Sunday of the week holding `on`."""
    monday = on - timedelta(days=on.weekday())
    return DaySpan(monday, monday + timedelta(days=6), "This week")


def next_days(on: date, n: int = 7) -> DaySpan:
    return DaySpan(on, on + timedelta(days=n - 1), f"Next {n} days")


def one_day(d: date) -> DaySpan:
    return DaySpan(d, d, d.isoformat())


def day_range(first: date, last: date) -> DaySpan:
    if last < first:
        raise ValueError("range ends before it starts")
    return DaySpan(first, last, f"{first.isoformat()}..{last.isoformat()}")


def month_span(year: int, month: int) -> DaySpan:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return DaySpan(first, nxt - timedelta(days=1), first.strftime("%B %Y"))


def local_start(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None when the clocks skip it (the hour
    they spring forward). A time that happens twice (the hour they fall back) is its first
    occurrence, still on summer time: the earlier of the two, as people mean it."""
    wall = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first occurrence
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        return None
    return instant
