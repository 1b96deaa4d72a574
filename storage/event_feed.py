"""The events stream, read in id order by mail, chat alerts and the console."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.events import Event
from storage import rows
from storage.engine import READ_ONLY
from storage.tables import events

EventHook = Callable[[AsyncConnection, Sequence[Event]], Awaitable[None]]


async def record_events(
    conn: AsyncConnection, new_events: Sequence[Event], hooks: Sequence[EventHook]
) -> None:
    """Append events to the stream and run the hooks (e.g. queue mail) in the same transaction."""
    await conn.execute(insert(events), [rows.event_values(e) for e in new_events])
    for hook in hooks:
        await hook(conn, new_events)


class SqlEventFeed:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine.execution_options(**{READ_ONLY: True})

    async def events_after(
        self, after_id: int, *, business_id: int | None = None, limit: int = 100
    ) -> list[Event]:
        query = select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
        if business_id is not None:
            query = query.where(events.c.business_id == business_id)
        async with self._reader.connect() as conn:
            return [rows.event(r) for r in (await conn.execute(query)).all()]

    async def last_event_id(self) -> int:
        async with self._reader.connect() as conn:
            return int(
                (await conn.execute(select(func.coalesce(func.max(events.c.id), 0)))).scalar_one()
            )
