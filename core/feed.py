"""Following the events stream without missing an event that commits late."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.events import Event

GAP_GRACE = timedelta(seconds=60)
MAX_TRACKED_GAPS = 10_000


class EventCursor:
    """Shows each event once, even when ids commit out of order.

    Ids are handed out at insert but become visible at commit, so on PostgreSQL a reader can
    see id 8 before id 7. The cursor keeps reading from below the oldest id it hasn't seen,
    for `grace`, after which a missing id is taken to be another business's or rolled back.
    """

    def __init__(self, after: int, grace: timedelta = GAP_GRACE) -> None:
        self.floor = after  # read ids above this
        self._grace = grace
        self._seen: set[int] = set()
        self._gaps: dict[int, datetime] = {}  # id not seen yet -> when we first missed it

    def take(self, events: list[Event], now: datetime) -> list[Event]:
        """The events not shown before, in id order."""
        fresh = sorted(
            (e for e in events if e.id and e.id > self.floor and e.id not in self._seen),
            key=lambda e: e.id or 0,
        )
        for event in fresh:
            self._seen.add(event.id or 0)
            self._gaps.pop(event.id or 0, None)
        top = max(self._seen, default=self.floor)
        if top - self.floor <= MAX_TRACKED_GAPS:
            for missing in range(self.floor + 1, top):
                if missing not in self._seen:
                    self._gaps.setdefault(missing, now)
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < self._grace and i < top}
        self.floor = min(self._gaps) - 1 if self._gaps else max(top, self.floor)
        self._seen = {i for i in self._seen if i > self.floor}
        return fresh
