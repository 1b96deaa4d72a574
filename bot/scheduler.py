"""Timed work under APScheduler: the mail dispatcher, the chat dispatcher, the reminder sweep,
and the owner's day planner (close-out prompts, nudges, the digest: every minute).

Reminders live in the database, not in the scheduler: one sweep job finds those that fell due,
so a restart loses none and start-up stays fast however many are planned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import logs
from bot.chat.dispatcher import ChatDispatcher
from bot.mail.dispatcher import Dispatcher
from bot.outages import Outage
from core.clock import Clock
from storage.database import outage
from storage.outbox import SqlReminders
from storage.owners_day import SqlOwnersDay

log = logs.get("bot.scheduler")


class Background:
    """Starts the recurring jobs and, on shutdown, lets the ones in flight finish."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        reminders: SqlReminders,
        clock: Clock,
        *,
        poll_seconds: float,
        sweep_seconds: float,
        chat: ChatDispatcher | None = None,
        chat_poll_seconds: float = 0.25,
        owners_day: SqlOwnersDay | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.reminders = reminders
        self.chat = chat
        self.owners_day = owners_day
        self.clock = clock
        self._poll = poll_seconds
        self._sweep = sweep_seconds
        self._chat_poll = chat_poll_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()
        self.outages: dict[str, Outage] = {}  # per job, by name

    async def sweep(self) -> None:
        """Queue the reminders that fell due."""
        queued, skipped = await self.reminders.queue_due(self.clock.now())
        if queued or skipped:
            log.info("reminders.swept", queued=queued, skipped=skipped)

    async def dispatch(self) -> None:
        """Send what the outbox holds."""
        await self.dispatcher.run_once()

    async def deliver_chat(self) -> None:
        """Start the chat deliveries that are due (each conversation runs on its own)."""
        if self.chat is not None:
            await self.chat.tick()

    async def plan_day(self) -> None:
        """Queue the owner's day notices that fell due (each once, whatever the instances)."""
        if self.owners_day is not None:
            planned = await self.owners_day.plan(self.clock.now())
            if planned.total:
                log.info(
                    "owners_day.planned",
                    closeouts=planned.closeouts,
                    nudges=planned.nudges,
                    digests=planned.digests,
                    refunds=planned.refunds,
                )

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        jobs = [(self.sweep, self._sweep), (self.dispatch, self._poll)]
        if self.chat is not None and self.chat.senders:
            jobs.append((self.deliver_chat, self._chat_poll))
        for job, seconds in jobs:
            scheduler.add_job(
                self._tracked(job),
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                # The scheduler paces itself by the wall clock; the jobs read the injected one.
                next_run_time=datetime.now(UTC),
                id=job.__name__,
            )
        if self.owners_day is not None and self.chat is not None and self.chat.senders:
            # At the start of every minute (and once now, to catch up after downtime).
            scheduler.add_job(
                self._tracked(self.plan_day),
                "cron",
                second=0,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
                id="plan_day",
            )
        scheduler.start()
        self._scheduler = scheduler

    def _tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """The job, run as the scheduler runs it: a database outage is one warning when it
        starts and one line when it ends (not a trace a second); anything else unexpected
        is one line with its type."""
        seen = self.outages.setdefault(job.__name__, Outage(job.__name__))

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job()
            except Exception as exc:
                reason = outage(exc)
                if reason is not None:
                    seen.failed(reason)
                    return
                first_line = (str(exc).splitlines() or [""])[0][:200]
                log.error(
                    "job.failed", job=job.__name__, error=type(exc).__name__, detail=first_line
                )
            else:
                seen.worked()
            finally:
                if task is not None:
                    self._running.discard(task)

        run.__name__ = job.__name__
        return run

    async def stop(self, grace_seconds: float = 8.0) -> None:
        """Stop scheduling and wait (bounded) for the jobs in flight to finish and mark."""
        self.dispatcher.stop()
        if self.chat is not None:
            self.chat.stop()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.pause()  # no new runs; shutting down now would cancel the ones in flight
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace_seconds)
        if self.chat is not None:
            await self.chat.wait(grace_seconds / 2)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await self.dispatcher.transport.close()
