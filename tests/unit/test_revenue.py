"""`revenue` as typed, and the report as Slack lays it out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.slack.blocks import reply_blocks
from core import commands, periods, wording
from core.clock import FixedClock
from core.commands import CommandError, ShowRevenue
from core.desk import Desk
from core.lifecycle import Move
from core.model import Payment, Provider
from core.replies import RevenueReport
from tests.conftest import NOW, OWNER, PAGE, new_booking
from tests.fakes import InMemoryBookingStore

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("typed", "span"),
    [
        ("revenue", periods.month_span(2026, 11)),
        ("/bookings revenue 2026-2", periods.month_span(2026, 2)),
        ("revenue 2026-01-01..2026-03-31", periods.day_range(date(2026, 1, 1), date(2026, 3, 31))),
        ("Revenue 2026-12-24", periods.one_day(date(2026, 12, 24))),
    ],
)
def test_revenue_takes_a_month_a_day_or_a_range(typed: str, span: periods.DaySpan) -> None:
    assert commands.parse(typed, TODAY) == ShowRevenue(span)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("revenue 2026-13", "isn't a month or a range"),
        ("revenue 2026-02-30", "isn't a date on the calendar"),
        ("revenue 2026-03-31..2026-01-01", "ends before it starts"),
        ("revenue 2024-01-01..2026-01-01", "at most a year"),
        ("revenue last month", "isn't a month or a range"),
    ],
)
def test_a_bad_span_is_answered_in_plain_words(typed: str, said: str) -> None:
    with pytest.raises(CommandError, match=said):
        commands.parse(typed, TODAY)


async def test_slack_shows_each_currency_as_a_section_with_customer_text_escaped() -> None:
    store = InMemoryBookingStore()
    salon = store.add_business("Plum <Salon>", "America/New_York")
    desk = Desk(store, FixedClock(NOW))
    booking, _ = await desk.intake(salon, new_booking(service="Cut & <b>dry</b>"), PAGE)
    for move in (Move.CONFIRM, Move.COMPLETE):
        await desk.act(salon, booking.id, move, OWNER)
    jmd = Payment(Provider.INKRESS, "J1", Decimal("500"), "JMD")
    await desk.intake(salon, replace(new_booking(txn="J1"), payment=jmd), PAGE)
    report = await desk.handle(salon.id, "revenue", OWNER)
    assert isinstance(report, RevenueReport)
    text, blocks = reply_blocks(report)
    assert text == "Revenue · November 2026 — Plum &lt;Salon&gt;"
    usd, jmd_block = blocks[1]["text"]["text"], blocks[2]["text"]["text"]
    assert usd.startswith("*USD*\n*Completed*: US$45.00 · 1 booking\n")
    assert "*Top services*: Cut &amp; &lt;b&gt;dry&lt;/b&gt; US$45.00 (1)" in usd
    assert "*To come: pending*: J$500.00 · 1 booking" in jmd_block
    assert blocks[-1]["type"] == "context"


def test_the_note_names_the_days_counted_and_the_zone() -> None:
    zone = ZoneInfo("America/Jamaica")
    one = wording.revenue_note(periods.one_day(date(2026, 12, 24)), zone, empty=True)
    assert one == "No bookings on 24 Dec 2026 (America/Jamaica)."
    month = wording.revenue_note(periods.month_span(2026, 12), zone, empty=False)
    assert month.startswith("Appointments from 1 Dec 2026 to 31 Dec 2026 (America/Jamaica).")
