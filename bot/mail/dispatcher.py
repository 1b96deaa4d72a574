"""Sends the outbox: claim, compose, send, mark — each email on its own, retried or reported.

A crash between the SMTP server's acceptance and the sent mark leaves the row claimed; when the
lease runs out (25 s by default) it is claimed and sent again, with the same Message-ID, so the
duplicate is recognisable. That window — one message per concurrent send, only on a crash — is
the price of never losing an email.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage

from bot import logs
from bot.mail.compose import compose
from bot.mail.transport import DeliveryError, MailTransport
from core.clock import Clock
from core.notifications import MailKind, QueuedMail, RetryPolicy, reminder_still_useful
from core.ports import BookingStore
from storage.outbox import SqlOutbox

log = logs.get("bot.mail")

REMINDERS = frozenset({MailKind.REMINDER_24H, MailKind.REMINDER_30M})


@dataclass(frozen=True)
class DispatchSettings:
    mail_from: str
    concurrency: int = 4
    batch: int = 64
    lease: timedelta = timedelta(seconds=25)
    policy: RetryPolicy = field(default_factory=RetryPolicy)


def message_id(mail: QueuedMail, mail_from: str) -> str:
    """Stable per outbox row, so a resend after a crash carries the same id."""
    domain = mail_from.rpartition("@")[2] or "juneplum.invalid"
    return f"<outbox-{mail.id}.booking-{mail.booking_id}@{domain}>"


class Dispatcher:
    """One sender; any number may run against PostgreSQL, one at a time on SQLite."""

    def __init__(
        self,
        outbox: SqlOutbox,
        store: BookingStore,
        transport: MailTransport,
        clock: Clock,
        settings: DispatchSettings,
        *,
        name: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.store = store
        self.transport = transport
        self.clock = clock
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def run_once(self) -> int:
        """Send every email due now, one claimed batch after another; returns how many."""
        handled = 0
        while True:
            batch = await self.outbox.claim(
                self.name, self.clock.now(), self.settings.lease, self.settings.batch
            )
            if not batch:
                return handled
            await asyncio.gather(*(self._handle(mail) for mail in batch))
            handled += len(batch)

    async def claim(self) -> list[QueuedMail]:
        return await self.outbox.claim(
            self.name, self.clock.now(), self.settings.lease, self.settings.batch
        )

    async def message_for(self, mail: QueuedMail) -> EmailMessage | None:
        """The composed email, or None when it is no longer wanted."""
        business = await self.store.get_business(mail.business_id)
        booking = await self.store.get_booking(mail.business_id, mail.booking_id)
        if business is None or booking is None:
            return None
        now = self.clock.now()
        if mail.kind in REMINDERS and not reminder_still_useful(
            mail.kind, booking.start_at, booking.status, now
        ):
            return None
        return compose(
            mail.kind,
            booking,
            business,
            message_id=message_id(mail, self.settings.mail_from),
            mail_from=self.settings.mail_from,
            failed_kind=mail.failed_kind,
            now=now,
        )

    async def deliver(self, mail: QueuedMail) -> bool:
        """Compose and send one claimed email without marking it; False if skipped."""
        message = await self.message_for(mail)
        if message is None:
            return False
        async with self._slots:
            await self.transport.send(message)
        return True

    async def _handle(self, mail: QueuedMail) -> None:
        try:
            sent = await self.deliver(mail)
        except DeliveryError as exc:
            await self._failed(mail, exc)
            return
        except ValueError as exc:  # e.g. a stored address that can't be written as a header
            await self._failed(mail, DeliveryError(f"can't compose: {exc}", permanent=True))
            return
        if not sent:
            await self.outbox.skip(mail.id, self.name, "no longer wanted")
            log.info("mail.skipped", id=mail.id, kind=mail.kind.value, booking=mail.booking_id)
            return
        await self.outbox.mark_sent(mail.id, self.name, self.clock.now())
        log.info("mail.sent", id=mail.id, kind=mail.kind.value, booking=mail.booking_id)

    async def _failed(self, mail: QueuedMail, exc: DeliveryError) -> None:
        now = self.clock.now()
        error = str(exc)
        if exc.permanent or now >= mail.retry_until:
            await self.outbox.mark_failed(mail, self.name, error, now)
            log.warning(
                "mail.failed", id=mail.id, kind=mail.kind.value, attempts=mail.attempts, error=error
            )
            return
        retry_at = now + self.settings.policy.delay(mail.attempts)
        await self.outbox.mark_retry(mail.id, self.name, retry_at, error)
        log.info(
            "mail.retry",
            id=mail.id,
            kind=mail.kind.value,
            attempts=mail.attempts,
            retry_at=retry_at.isoformat(),
            error=error,
        )
