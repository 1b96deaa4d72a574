"""Reschedule's pure parts: the command, local times across clock changes, the SEQUENCE, the
times a keyboard offers, and Telegram's callback data for each step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.telegram import buttons
from core import calendar, commands, periods, slots
from core.lifecycle import Status
from core.model import Actor, ActorKind, Booking, Channel, HistoryEntry, Note
from tests.unit.test_cards import booking

NEW_YORK = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 25)
RILEY = Actor(ActorKind.OWNER, Channel.SLACK, "Riley")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("move 42 2026-12-08 15:00", commands.Reschedule(42, date(2026, 12, 8), time(15, 0))),
        (
            "/bookings move #42 2026-12-8 9:05",
            commands.Reschedule(42, date(2026, 12, 8), time(9, 5)),
        ),
        ("reschedule 7 2027-01-02 00:00", commands.Reschedule(7, date(2027, 1, 2), time(0, 0))),
    ],
)
def test_move_reads_a_booking_a_local_date_and_a_time(line: str, parsed: object) -> None:
    assert commands.parse(line, TODAY) == parsed


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("move", "Move which booking, to when?"),
        ("move 42", "Move which booking, to when?"),
        ("move 42 tomorrow 15:00", "Move which booking, to when?"),
        ("move 42 2026-02-30 15:00", "isn't a date on the calendar"),
        ("move 42 2026-12-08 24:00", "isn't a time"),
        ("move 42 2026-12-08 15:60", "isn't a time"),
    ],
)
def test_a_move_that_cant_be_read_says_how_to_write_it(line: str, said: str) -> None:
    with pytest.raises(commands.CommandError, match=said):
        commands.parse(line, TODAY)


def test_local_times_across_the_clock_changes() -> None:
    # 2027-03-14: 02:00-03:00 doesn't exist in New York; 2027-11-07: 01:00-02:00 happens twice.
    assert periods.local_start(date(2027, 3, 14), time(2, 30), NEW_YORK) is None
    assert periods.local_start(date(2027, 3, 14), time(3, 0), NEW_YORK) == datetime(
        2027, 3, 14, 7, 0, tzinfo=UTC
    )
    first = periods.local_start(date(2027, 11, 7), time(1, 30), NEW_YORK)
    assert first == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # EDT, the first of the two
    assert periods.local_start(date(2027, 11, 7), time(2, 30), NEW_YORK) == datetime(
        2027, 11, 7, 7, 30, tzinfo=UTC
    )


def moved(b: Booking, n: int, status: Status = Status.PENDING) -> Booking:
    """`b` moved `n` times, now in `status`."""
    entry = HistoryEntry(
        at=datetime(2026, 11, 25, tzinfo=UTC), actor=RILEY, from_status=status, to_status=status,
        note=Note.RESCHEDULED, moved_from=datetime(2026, 11, 26, tzinfo=UTC),
        moved_to=datetime(2026, 11, 27, tzinfo=UTC),
    )  # fmt: skip
    return replace(b, status=status, history=(*b.history, *[entry] * n))


def test_the_sequence_grows_with_every_change_in_any_order() -> None:
    b = booking(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    steps = [
        calendar.sequence(b),  # created
        calendar.sequence(moved(b, 1)),
        calendar.sequence(moved(b, 1, Status.CONFIRMED)),
        calendar.sequence(moved(b, 2, Status.CONFIRMED)),
        calendar.sequence(moved(b, 2, Status.CANCELLED)),
    ]
    assert steps == [0, 2, 3, 5, 6]


def test_the_keyboard_offers_half_hours_ahead_that_exist() -> None:
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 09:00 in New York
    today = slots.times(date(2026, 11, 25), NEW_YORK, now)
    assert today[0] == time(9, 30) and today[-1] == time(21, 30)
    spring = slots.times(date(2027, 3, 14), NEW_YORK, now)
    assert len(spring) == 30 and spring[0] == time(7, 0)
    assert slots.times(date(2026, 11, 24), NEW_YORK, now) == []
    assert slots.last_day(NEW_YORK, now) == date(2028, 11, 26)


@pytest.mark.parametrize(
    "step",
    [
        buttons.Moving(42, Status.PENDING),
        buttons.Moving(42, Status.CONFIRMED, month=date(2026, 12, 1)),
        buttons.Moving(42, Status.PENDING, date(2026, 12, 1), date(2026, 12, 8)),
        buttons.Moving(
            10**12 - 1, Status.CONFIRMED, date(2026, 12, 1), date(2026, 12, 8), time(15, 30)
        ),
    ],
)
def test_each_move_step_fits_telegrams_64_bytes_and_reads_back(step: buttons.Moving) -> None:
    assert len(step.data.encode()) <= buttons.DATA_LIMIT
    assert buttons.read(step.data) == step


@pytest.mark.parametrize(
    "data",
    ["rt:42:pending:2026-02-30:1500", "rt:42:pending:2026-12-08:2500", "rm:42:bogus:2026-12",
     "rd:42:pending:2026-12", "rk:x:pending", "rt:42:pending:2026-12-08"],
)  # fmt: skip
def test_a_malformed_move_step_is_a_stale_button(data: str) -> None:
    assert buttons.read(data) == data  # the chat layer answers it as a button that's gone
