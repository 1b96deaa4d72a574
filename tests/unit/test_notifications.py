"""Reminder timing and retry delays are pure functions, tested with fixed instants."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.events import EventKind
from core.lifecycle import Status
from core.notifications import (
    MailKind,
    RetryPolicy,
    mail_for,
    plan_reminders,
    reminder_still_useful,
)

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("local_start", "due"),
    [
        # The day clocks spring forward, and the day they fall back (the examples).
        (datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK), datetime(2026, 3, 7, 14, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK), datetime(2026, 10, 31, 15, 0, tzinfo=UTC)),
    ],
)
def test_the_24_hour_reminder_is_24_real_hours_before(local_start: datetime, due: datetime) -> None:
    booked = datetime(2026, 1, 1, tzinfo=UTC)
    planned = {p.kind: p.due_at for p in plan_reminders(local_start.astimezone(UTC), booked)}
    assert planned[MailKind.REMINDER_24H] == due
    assert planned[MailKind.REMINDER_30M] == local_start.astimezone(UTC) - timedelta(minutes=30)


def test_a_booking_made_late_gets_fewer_reminders() -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert [p.kind for p in plan_reminders(start, start - timedelta(hours=5))] == [
        MailKind.REMINDER_30M
    ]
    assert plan_reminders(start, start - timedelta(minutes=20)) == []


@pytest.mark.parametrize(
    ("kind", "before_start", "status", "useful"),
    [
        (MailKind.REMINDER_24H, timedelta(hours=24), Status.PENDING, True),
        (MailKind.REMINDER_24H, timedelta(hours=2), Status.CONFIRMED, True),
        (MailKind.REMINDER_24H, timedelta(minutes=30), Status.CONFIRMED, False),  # 30m is due
        (MailKind.REMINDER_30M, timedelta(minutes=5), Status.CONFIRMED, True),
        (MailKind.REMINDER_30M, timedelta(0), Status.CONFIRMED, False),  # it has started
        (MailKind.REMINDER_30M, timedelta(minutes=30), Status.CANCELLED, False),
        (MailKind.REMINDER_30M, timedelta(minutes=30), Status.COMPLETED, False),
    ],
)
def test_a_late_reminder_goes_out_only_while_useful(
    kind: MailKind, before_start: timedelta, status: Status, useful: bool
) -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert reminder_still_useful(kind, start, status, start - before_start) is useful


def test_each_event_causes_its_emails() -> None:
    assert mail_for(EventKind.CREATED) == (MailKind.CREATED, MailKind.OWNER_NEW_BOOKING)
    assert mail_for(EventKind.COMPLETED) == ()
    assert mail_for(EventKind.MAIL_FAILED) == (MailKind.DELIVERY_FAILED,)


def test_retries_start_within_5_seconds_double_and_stay_under_a_minute() -> None:
    policy, rng = RetryPolicy(), random.Random(1)
    delays = [policy.delay(n, rng).total_seconds() for n in range(1, 12)]
    assert delays[0] <= 5
    assert all(d <= 60 for d in delays)
    assert max(delays) > 30  # it does back off
    assert policy.delay(10_000, rng) <= timedelta(seconds=60)
