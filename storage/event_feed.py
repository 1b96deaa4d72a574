"""The events stream, read in id order by mail, chat alerts and the console."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.events import Event
from storage import rows
from storage.engine import READ_ONLY
from storage.tables import events


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
