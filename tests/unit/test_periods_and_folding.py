"""Local days become UTC instants across daylight-saving changes; folding agrees everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from core import periods
from core.folding import fold, search_text

NEW_YORK = ZoneInfo("America/New_York")


def test_the_day_clocks_spring_forward_is_23_hours_long() -> None:
    start, end = periods.one_day(date(2026, 3, 8)).utc_bounds(NEW_YORK)
    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)


def test_the_day_clocks_fall_back_is_25_hours_long() -> None:
    start, end = periods.one_day(date(2026, 11, 1)).utc_bounds(NEW_YORK)
    assert (end - start).total_seconds() == 25 * 3600


def test_today_is_the_business_s_today_not_utc_s() -> None:
    late_evening_in_new_york = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
    assert periods.local_today(late_evening_in_new_york, NEW_YORK) == date(2026, 11, 25)
    auckland = ZoneInfo("Pacific/Auckland")
    assert periods.local_today(late_evening_in_new_york, auckland) == date(2026, 11, 26)


def test_a_week_runs_monday_to_sunday() -> None:
    span = periods.this_week(date(2026, 11, 29))  # a Sunday
    assert (span.first, span.last) == (date(2026, 11, 23), date(2026, 11, 29))


def test_folding_ignores_case_and_accents_in_every_alphabet() -> None:
    assert fold("ÉLODIE") == fold("élodie") == "elodie"
    assert fold("Zoë") == "zoe"
    assert fold("Straße") == "strasse"
    assert fold("ΣΟΦΊΑ") == fold("σοφία")
    assert fold("佐藤  花子") == "佐藤 花子"


def test_search_text_keeps_name_and_service_apart() -> None:
    assert search_text("Ana", "Haircut") == "ana\nhaircut"
