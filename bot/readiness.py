"""`juneplum status`: what an operator needs to know before trusting the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.app import Services
from storage import migrate
from storage.readiness import Backlog, backlog


@dataclass(frozen=True)
class Readiness:
    now: datetime
    revision: str | None
    head: str
    backlog: Backlog
    mail_limit: timedelta
    reminder_limit: timedelta

    @property
    def schema_current(self) -> bool:
        return self.revision == self.head

    @property
    def oldest_mail_wait(self) -> timedelta | None:
        oldest = self.backlog.oldest_due_mail
        return None if oldest is None else self.now - oldest

    @property
    def oldest_reminder_wait(self) -> timedelta | None:
        oldest = self.backlog.oldest_unqueued_reminder
        return None if oldest is None else self.now - oldest

    @property
    def mail_keeping_up(self) -> bool:
        wait = self.oldest_mail_wait
        return wait is None or wait <= self.mail_limit

    @property
    def reminders_keeping_up(self) -> bool:
        wait = self.oldest_reminder_wait
        return wait is None or wait <= self.reminder_limit

    @property
    def ready(self) -> bool:
        return self.schema_current and self.mail_keeping_up and self.reminders_keeping_up

    def lines(self) -> list[tuple[str, str]]:
        schema = (
            f"ok (schema {self.revision})"
            if self.schema_current
            else f"schema {self.revision or 'missing'}, this version needs {self.head}: "
            "run `juneplum migrate`"
        )
        if not self.schema_current:
            unknown = "unknown until the schema is current"
            return [("database", schema), ("mail", unknown), ("chat", unknown)]
        due = self.backlog.due_mail
        mail = f"{due} due" + (f", the oldest for {_ago(self.oldest_mail_wait)}" if due else "")
        if due and self.backlog.last_error:
            mail += f" (last error: {self.backlog.last_error})"
        failed = self.backlog.failed_mail
        mail += f"; {failed} failed (see `juneplum outbox`)" if failed else "; none failed"
        not_running = " — is `juneplum serve` running?"
        sender = (
            "keeping up"
            if self.mail_keeping_up
            else f"behind: an email has waited {_ago(self.oldest_mail_wait)}{not_running}"
        )
        sweep = (
            "keeping up"
            if self.reminders_keeping_up
            else f"behind: a reminder has waited {_ago(self.oldest_reminder_wait)} to be "
            f"queued{not_running}"
        )
        chat = f"{self.backlog.due_chat} due; {self.backlog.failed_chat} failed"
        return [
            ("database", schema),
            ("mail", mail),
            ("sender", sender),
            ("reminders", sweep),
            ("chat", chat),
        ]

    def as_dict(self) -> dict[str, Any]:
        mail_wait, reminder_wait = self.oldest_mail_wait, self.oldest_reminder_wait
        return {
            "ready": self.ready,
            "schema": {"current": self.schema_current, "at": self.revision, "head": self.head},
            "mail": {
                "due": self.backlog.due_mail,
                "oldest_due_seconds": None if mail_wait is None else mail_wait.total_seconds(),
                "failed": self.backlog.failed_mail,
                "last_error": self.backlog.last_error,
            },
            "chat": {"due": self.backlog.due_chat, "failed": self.backlog.failed_chat},
            "jobs": {
                "sender": {"keeping_up": self.mail_keeping_up},
                "reminders": {
                    "keeping_up": self.reminders_keeping_up,
                    "oldest_unqueued_seconds": None
                    if reminder_wait is None
                    else reminder_wait.total_seconds(),
                },
            },
        }


async def readiness(
    services: Services, mail_limit: timedelta, reminder_limit: timedelta
) -> Readiness:
    """Read what `juneplum status` shows."""
    now = services.clock.now()
    revision, head = await migrate.current(services.db), migrate.head()
    # The tables are read only as this version knows them: behind, they may lack a column.
    waiting = await backlog(services.db, now) if revision == head else UNKNOWN
    return Readiness(
        now=now,
        revision=revision,
        head=head,
        backlog=waiting,
        mail_limit=mail_limit,
        reminder_limit=reminder_limit,
    )


UNKNOWN = Backlog(0, None, 0, None, None)


def _ago(wait: timedelta | None) -> str:
    seconds = int((wait or timedelta()).total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
