"""What the desk answers, as data; each surface renders it its own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from core.cards import Card, CardAction
from core.lifecycle import Move, MoveOutcome
from core.model import Booking, Business, Page
from core.revenue import Revenue


@dataclass(frozen=True)
class BookingList:
    business: Business
    title: str
    page: Page
    multi_day: bool  # lists spanning several days show the date on each line
    empty_text: str
    more_command: str | None = None  # what to type for the next page
    command: str = ""  # what was typed, without its `page N`: any page is `command page N`

    def page_command(self, page: int) -> str:
        return self.command if page == 1 else f"{self.command} page {page}"


@dataclass(frozen=True)
class BookingCard:
    """Full details of one booking and the actions its status allows."""

    business: Business
    booking: Booking
    card: Card


@dataclass(frozen=True)
class CalendarMonth:
    business: Business
    year: int
    month: int
    counts: dict[date, int]
    today: date


@dataclass(frozen=True)
class MoveDone:
    business: Business
    booking: Booking  # as it is after the move
    move: Move
    outcome: MoveOutcome
    actions: tuple[CardAction, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RefundMarked:
    business: Business
    booking: Booking  # as it is after the note
    outcome: MoveOutcome  # ALREADY: it was marked before; nothing changed
    actions: tuple[CardAction, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportSection:
    """One currency's figures in a revenue report: a heading and labelled lines."""

    heading: str
    lines: tuple[tuple[str, str], ...]  # (label, value)


@dataclass(frozen=True)
class RevenueReport:
    """What the business made in a span, already in words (core.revenue has the numbers)."""

    business: Business
    revenue: Revenue
    title: str  # "Revenue · November 2026"
    sections: tuple[ReportSection, ...]  # one per currency; none when nothing was booked
    note: str  # which appointments, in which zone; or that there were none


@dataclass(frozen=True)
class Rescheduled:
    """A booking moved to another start (or already there: `outcome` ALREADY)."""

    business: Business
    booking: Booking  # as it is after the move
    moved_from: datetime  # the start before (UTC); the same as now when nothing changed
    outcome: MoveOutcome
    card: Card  # drawn after the move: its warnings are the overlaps at the new time


@dataclass(frozen=True)
class HelpText:
    text: str


@dataclass(frozen=True)
class Said:
    """Plain words and nothing more: a setting changed, the day's digest."""

    text: str


@dataclass(frozen=True)
class Problem:
    """Bad input or an impossible request, already in plain words."""

    text: str


Reply = (
    BookingList
    | BookingCard
    | CalendarMonth
    | MoveDone
    | RefundMarked
    | RevenueReport
    | Rescheduled
    | HelpText
    | Said
    | Problem
)
