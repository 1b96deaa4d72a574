"""What an operator asks of a running desk: is mail going out, are reminders being queued?

Read from the tables, so any process can tell (`juneplum status`), and the answer holds for
every instance sharing a PostgreSQL database: a job that runs leaves nothing due behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from core.notifications import DeliveryStatus
from storage.database import Database
from storage.tables import outbox, reminders


@dataclass(frozen=True)
class Backlog:
    due_mail: int  # pending and due now (or overdue)
    oldest_due_mail: datetime | None  # when the longest-waiting one fell due
    failed_mail: int
    oldest_unqueued_reminder: datetime | None  # a reminder due but not yet queued
    last_error: str | None  # of the longest-waiting due email: why it is waiting, say
    due_chat: int = 0  # chat deliveries due now
    failed_chat: int = 0


async def backlog(db: Database, now: datetime) -> Backlog:
    """How much work is waiting, and since when (a few indexed reads)."""

    def work(conn: Connection) -> Backlog:
        due = conn.execute(
            select(func.count(), func.min(outbox.c.next_attempt_at)).where(
                outbox.c.channel == "mail",
                outbox.c.status == DeliveryStatus.PENDING.value,
                outbox.c.next_attempt_at <= now,
            )
        ).one()
        failed = conn.execute(
            select(func.count()).where(
                outbox.c.channel == "mail", outbox.c.status == DeliveryStatus.FAILED.value
            )
        ).scalar_one()
        chat = conn.execute(
            select(outbox.c.status, func.count())
            .where(
                outbox.c.channel == "chat",
                outbox.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value]),
                outbox.c.next_attempt_at <= now,
            )
            .group_by(outbox.c.status)
        ).all()
        chat_counts = {str(status): int(n) for status, n in chat}
        reminder = conn.execute(
            select(func.min(reminders.c.due_at)).where(
                reminders.c.state == "planned", reminders.c.due_at <= now
            )
        ).scalar_one()
        last_error = conn.execute(
            select(outbox.c.last_error)
            .where(
                outbox.c.channel == "mail",
                outbox.c.status == DeliveryStatus.PENDING.value,
                outbox.c.next_attempt_at <= now,
            )
            .order_by(outbox.c.next_attempt_at)
            .limit(1)
        ).scalar()
        return Backlog(
            int(due[0]),
            due[1],
            int(failed),
            reminder,
            last_error,
            due_chat=chat_counts.get(DeliveryStatus.PENDING.value, 0),
            failed_chat=chat_counts.get(DeliveryStatus.FAILED.value, 0),
        )

    return await db.read(work)
