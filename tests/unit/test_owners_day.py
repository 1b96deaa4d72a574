"""When the owner's day notices fall due: pure functions, fixed times, both clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.lifecycle import Status
from core.model import (
    NO_REFUND,
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    Customer,
    HistoryEntry,
    Payment,
    Provider,
    Refund,
    RefundState,
    Service,
)
from core.owners_day import (
    DigestSetting,
    daily_due,
    first_nudge_at,
    local_moment,
    nudge_due,
    prompt_for,
    refunds_overdue,
)

NEW_YORK = ZoneInfo("America/New_York")
SALON = Business(1, "Plum Salon", "America/New_York", "owner@plum.example")
OWNER = Actor(ActorKind.OWNER, Channel.SLACK, "Riley")


def booking(
    start: datetime,
    *,
    created: datetime,
    status: Status = Status.PENDING,
    history: tuple[HistoryEntry, ...] = (),
    booking_id: int = 42,
    refund: Refund | None = None,
) -> Booking:
    return Booking(
        id=booking_id,
        business_id=1,
        customer=Customer("Ana Silva", "ana@example.com"),
        service=Service("Haircut", 45, Decimal("45.00")),
        start_at=start,
        status=status,
        payment=Payment(Provider.PAYPAL, "TX", Decimal("45.00"), "USD"),
        created_at=created,
        history=history,
        refund=refund or NO_REFUND,
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("created", "start", "first"),
    [
        # Booked two days ahead: 2 hours after it arrived.
        ("2026-11-25T09:00-05:00", "2026-11-27T10:00-05:00", "2026-11-25T11:00-05:00"),
        # Booked 25 hours ahead: 24 hours before the start comes first.
        ("2026-11-25T09:00-05:00", "2026-11-26T10:00-05:00", "2026-11-25T10:00-05:00"),
        # Booked 3 hours ahead: 24 hours before was already past; its 2 hours.
        ("2026-11-25T09:00-05:00", "2026-11-25T12:00-05:00", "2026-11-25T11:00-05:00"),
    ],
)
def test_the_first_nudge_is_two_hours_after_booking_or_a_day_before_whichever_first(
    created: str, start: str, first: str
) -> None:
    assert first_nudge_at(at(created), at(start)) == at(first)


def test_nudges_come_once_then_two_hours_before_and_never_after_the_start_or_once_confirmed() -> (
    None
):
    b = booking(at("2026-11-27T10:00-05:00"), created=at("2026-11-25T09:00-05:00"))
    assert nudge_due(b, at("2026-11-25T10:59-05:00")) is None
    assert nudge_due(b, at("2026-11-25T11:00-05:00")) == 1
    assert nudge_due(b, at("2026-11-27T07:59-05:00")) == 1
    assert nudge_due(b, at("2026-11-27T08:00-05:00")) == 2  # after downtime: only the later
    assert nudge_due(b, at("2026-11-27T10:00-05:00")) is None
    confirmed = booking(b.start_at, created=b.created_at, status=Status.CONFIRMED)
    assert nudge_due(confirmed, at("2026-11-25T11:00-05:00")) is None


def test_a_booking_made_three_hours_ahead_gets_one_nudge() -> None:
    b = booking(at("2026-11-25T12:00-05:00"), created=at("2026-11-25T09:00-05:00"))
    assert nudge_due(b, at("2026-11-25T10:00-05:00")) is None  # the last-nudge time, first
    assert nudge_due(b, at("2026-11-25T11:00-05:00")) == 1


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(date(2027, 3, 14), 12), (date(2026, 11, 1), 13), (date(2026, 11, 25), 13)],
)
def test_eight_local_is_right_on_the_days_the_clocks_change(day: date, utc_hour: int) -> None:
    due = local_moment(day, time(8, 0), NEW_YORK)
    assert (due.date(), due.hour, due.minute) == (day, utc_hour, 0)
    assert daily_due(time(8, 0), NEW_YORK, due - timedelta(seconds=1)) is None
    assert daily_due(time(8, 0), NEW_YORK, due) == (day, due)
    assert daily_due(time(8, 0), NEW_YORK, due + timedelta(hours=1, minutes=59)) == (day, due)
    assert daily_due(time(8, 0), NEW_YORK, due + timedelta(hours=2)) is None  # stale


def test_a_late_evening_digest_is_still_due_after_midnight_for_its_own_day() -> None:
    due = local_moment(date(2026, 11, 25), time(23, 30), NEW_YORK)
    assert daily_due(time(23, 30), NEW_YORK, due + timedelta(minutes=45)) == (
        date(2026, 11, 25),
        due,
    )


def test_a_time_the_clocks_skip_falls_an_hour_later() -> None:
    due = local_moment(date(2027, 3, 14), time(2, 30), NEW_YORK)
    assert due.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:30 EDT"


def test_digest_settings_read_back_what_is_stored() -> None:
    assert DigestSetting.read(None).at == time(8, 0)
    assert DigestSetting.read("off").at is None
    assert DigestSetting.read("07:30").at == time(7, 30)
    assert DigestSetting(time(7, 5)).stored == "07:05"


def test_refunds_overdue_are_those_cancelled_over_three_days_ago_oldest_first() -> None:
    now = at("2026-11-30T08:00-05:00")

    def cancelled(days: float, booking_id: int) -> Booking:
        when = now - timedelta(days=days)
        entry = HistoryEntry(when, OWNER, Status.PENDING, Status.CANCELLED)
        start = now + timedelta(days=5)
        owed = Refund(RefundState.OWED, Decimal("45.00"), "USD")
        return booking(
            start,
            created=when,
            status=Status.CANCELLED,
            history=(entry,),
            booking_id=booking_id,
            refund=owed,
        )

    owed = [cancelled(3.5, 1), cancelled(2.9, 2), cancelled(6, 3)]
    assert [b.id for b in refunds_overdue(owed, now)] == [3, 1]


def test_a_prompt_offers_completed_and_no_show_only_while_open() -> None:
    start = at("2026-11-26T10:00-05:00")
    open_one = booking(start, created=start - timedelta(days=1), booking_id=1)
    closed = booking(start, created=start, status=Status.COMPLETED, booking_id=2)
    prompt = prompt_for([closed, open_one], SALON, start + timedelta(hours=1))
    assert prompt is not None
    assert prompt.question == "Did these happen? #1, #2"  # in the order they started
    assert [[a.label for a in i.actions] for i in prompt.items] == [["Completed", "No-show"], []]
    assert [a.value for a in prompt.items[0].actions] == ["complete:1:pending", "no-show:1:pending"]
    assert prompt_for([], SALON, start) is None


def test_a_prompt_offers_nothing_for_a_booking_moved_to_end_later() -> None:
    start = at("2026-11-26T10:00-05:00")
    moved = booking(start + timedelta(days=7), created=start - timedelta(days=1), booking_id=1)
    prompt = prompt_for([moved], SALON, start + timedelta(hours=1))
    assert prompt is not None and [i.actions for i in prompt.items] == [()]
