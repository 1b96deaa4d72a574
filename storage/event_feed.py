"""The events stream, read in id order by mail, chat alerts and the console."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, func, insert, select

from core.events import Event
from storage import rows
from storage.database import Database
from storage.tables import events
from storage.writes import Rows, insert_rows

# What else an event causes (its emails), written in the event's own transaction.
EventHook = Callable[[Sequence[Event]], list[Rows]]


def event_rows(new_events: Sequence[Event], hooks: Sequence[EventHook]) -> list[Rows]:
    """What recording events inserts: the events, and what the hooks add (e.g. mail)."""
    written = [Rows(_INSERT_EVENT, [rows.event_values(e) for e in new_events])]
    for hook in hooks:
        written.extend(hook(new_events))
    return written


def record_events(
    conn: Connection, new_events: Sequence[Event], hooks: Sequence[EventHook]
) -> None:
    """Append events to the stream, with what the hooks add, in the caller's transaction."""
    insert_rows(conn, event_rows(new_events, hooks))


class SqlEventFeed:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def events_after(
        self, after_id: int, *, business_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        query = select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
        if business_id is not None:
            query = query.where(events.c.business_id == business_id)
        return await self._db.read(lambda conn: [rows.event(r) for r in conn.execute(query).all()])

    async def last_event_id(self) -> int:
        query = select(func.coalesce(func.max(events.c.id), 0))
        return await self._db.read(lambda conn: int(conn.execute(query).scalar_one()))


_INSERT_EVENT = insert(events)
