"""The cursor over the events stream shows late-committing events, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.events import Event, EventKind
from core.feed import EventCursor
from core.model import Actor, ActorKind, Channel

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SYSTEM = Actor(ActorKind.SYSTEM, Channel.API)


def event(n: int) -> Event:
    return Event(EventKind.CREATED, 1, n, T0, SYSTEM, id=n)


def test_an_event_that_commits_after_a_later_one_is_still_shown_once() -> None:
    cursor = EventCursor(after=6)
    assert [e.id for e in cursor.take([event(8)], T0)] == [8]
    assert cursor.floor == 6  # 7 is missing: keep reading from below it
    assert [e.id for e in cursor.take([event(7), event(8)], T0 + timedelta(seconds=1))] == [7]
    assert cursor.floor == 8
    assert cursor.take([event(8)], T0 + timedelta(seconds=2)) == []


def test_a_missing_id_is_given_up_after_the_grace_period() -> None:
    cursor = EventCursor(after=0)
    cursor.take([event(2)], T0)
    assert cursor.floor == 0
    cursor.take([event(2)], T0 + timedelta(seconds=61))
    assert cursor.floor == 2


def test_events_arrive_in_id_order_and_never_twice() -> None:
    cursor = EventCursor(after=0)
    assert [e.id for e in cursor.take([event(3), event(1), event(2)], T0)] == [1, 2, 3]
    assert cursor.take([event(1), event(2), event(3)], T0) == []
