"""The command language, parsed once for every surface."""

from __future__ import annotations

from datetime import date

import pytest

from core.commands import (
    Act,
    CommandError,
    Details,
    Help,
    ListAll,
    ListDays,
    ListStatus,
    Search,
    ShowCalendar,
    parse,
    suggestion,
)
from core.lifecycle import Move, Status

TODAY = date(2026, 11, 25)  # a Wednesday


def days(text: str) -> tuple[date, date]:
    command = parse(text, TODAY)
    assert isinstance(command, ListDays)
    return command.span.first, command.span.last


def test_day_views_read_the_local_calendar() -> None:
    assert days("today") == (TODAY, TODAY)
    assert days("/bookings tomorrow") == (date(2026, 11, 26), date(2026, 11, 26))
    assert days("week") == (date(2026, 11, 23), date(2026, 11, 29))
    assert days("next 7 days") == (TODAY, date(2026, 12, 1))
    assert days("2026-12-01") == (date(2026, 12, 1), date(2026, 12, 1))
    assert days("2026-12-01..2026-12-07") == (date(2026, 12, 1), date(2026, 12, 7))
    assert days("2026-12-01 .. 2026-12-07") == (date(2026, 12, 1), date(2026, 12, 7))


def test_a_bare_slash_command_means_today() -> None:
    assert days("/bookings") == (TODAY, TODAY)
    assert days("") == (TODAY, TODAY)


def test_statuses_search_details_calendar_and_help() -> None:
    assert parse("pending", TODAY) == ListStatus(Status.PENDING)
    assert parse("Cancelled page 2", TODAY) == ListStatus(Status.CANCELLED, page=2)
    assert parse("search Élodie", TODAY) == Search("Élodie")
    assert parse("ana", TODAY) == Search("ana", bare=True)
    assert parse("#42", TODAY) == Details(42)
    assert parse("calendar", TODAY) == ShowCalendar(2026, 11)
    assert parse("calendar 2026-12", TODAY) == ShowCalendar(2026, 12)
    assert parse("help", TODAY) == Help()
    assert parse("all page 3", TODAY) == ListAll(page=3)


def test_actions_take_a_booking_and_cancel_takes_a_reason() -> None:
    assert parse("confirm 42", TODAY) == Act(Move.CONFIRM, 42)
    assert parse("complete #42", TODAY) == Act(Move.COMPLETE, 42)
    assert parse("cancel 42 customer has the flu", TODAY) == Act(
        Move.CANCEL, 42, "customer has the flu"
    )
    assert parse("/bookings cancel 7", TODAY) == Act(Move.CANCEL, 7, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-02-30", "isn't a date"),
        ("2026-12-07..2026-12-01", "ends before it starts"),
        ("confirm", "Which booking?"),
        ("confirm ana", "Which booking?"),
        ("confirm 42 now", "Only cancel takes a reason"),
        ("calendar 2026-13", "isn't a month"),
        ("search", "Search for what?"),
        ("#abc", "can't read"),
        ("12/01/2026", "can't read"),
    ],
)
def test_bad_input_gets_a_short_message_with_examples(text: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        parse(text, TODAY)


def test_a_mistyped_command_is_recognised() -> None:
    assert suggestion("tomorow") == "tomorrow"
    assert suggestion("ana") is None
