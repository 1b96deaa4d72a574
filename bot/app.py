"""The composition root: the one place that builds engines, stores and the desk."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from core.clock import Clock, SystemClock
from core.desk import Desk
from storage.bookings import SqlBookingStore
from storage.businesses import SqlBusinesses
from storage.engine import create_engine
from storage.event_feed import SqlEventFeed


@dataclass
class Services:
    """Everything the surfaces share, built once per process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    store: SqlBookingStore
    businesses: SqlBusinesses
    feed: SqlEventFeed
    desk: Desk

    async def aclose(self) -> None:
        await self.engine.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    """Wire the parts; tests pass their own clock."""
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    store = SqlBookingStore(engine)
    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        store=store,
        businesses=SqlBusinesses(engine),
        feed=SqlEventFeed(engine),
        desk=Desk(store, clock),
    )
