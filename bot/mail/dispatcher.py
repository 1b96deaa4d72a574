"""Sends the outbox: claim, compose, send, mark — each email on its own, retried or reported.

Each claimed batch is read in one go, and sent emails are marked by a group commit: marks that
arrive while a commit is running join the next one, so an accepted email waits about one
transaction for its mark. A crash between the SMTP server's acceptance and that mark leaves the
row claimed; when the lease runs out (25 s by default) it is claimed and sent again, with the
same Message-ID, so the duplicate is recognisable. That window — the emails accepted during one
commit, only on a crash — is the price of never losing an email. A mark the database can't
take (a full disk, an outage) is no crash: the process keeps the fact and writes the mark
before it claims anything again, so it never sends that email twice itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from enum import StrEnum

from bot import logs
from bot.mail.compose import compose, compose_for_business
from bot.mail.transport import DeliveryError, MailTransport
from core.clock import Clock
from core.model import Booking, Business
from core.notifications import (
    MailKind,
    QueuedMail,
    RetryPolicy,
    as_rescheduled,
    reminder_still_useful,
)
from storage.database import outage
from storage.outbox import SqlOutbox

log = logs.get("bot.mail")

REMINDERS = frozenset({MailKind.REMINDER_24H, MailKind.REMINDER_30M})
MARK_TIME = timedelta(seconds=2)  # room for the sent mark's commit inside the lease
MARK_ATTEMPTS = 3


@dataclass(frozen=True)
class DispatchSettings:
    mail_from: str
    concurrency: int = 4
    batch: int = 64
    lease: timedelta = timedelta(seconds=25)  # a dead process's claims are free within 30 s
    send_timeout: timedelta = timedelta(seconds=12)  # a whole send; well inside the lease
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.lease <= self.send_timeout + MARK_TIME:
            raise ValueError("the lease must outlast a whole send and its mark")


def message_id(mail: QueuedMail, mail_from: str) -> str:
    """Stable per outbox row, so a resend after a crash carries the same id."""
    domain = mail_from.rpartition("@")[2] or "juneplum.invalid"
    about = f"booking-{mail.booking_id}" if mail.booking_id is not None else "business"
    return f"<outbox-{mail.id}.{about}@{domain}>"


class Delivery(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # no longer wanted, e.g. a reminder for a cancelled booking
    LATE = "late"  # the claim's lease is nearly over: left for the next claim


class Dispatcher:
    """One sender; any number may run against PostgreSQL, one at a time on SQLite."""

    def __init__(
        self,
        outbox: SqlOutbox,
        transport: MailTransport,
        clock: Clock,
        settings: DispatchSettings,
        *,
        name: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.clock = clock
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._stopping = False
        self.configuration_error: str | None = None  # said once, at error level, until fixed
        self._sent_unmarked: set[int] = set()  # accepted by the SMTP server, not yet marked

    def stop(self) -> None:
        """Take no new work; what is claimed already is finished and marked."""
        self._stopping = True

    async def run_once(self) -> int:
        """Send every email due now, one claimed batch after another; returns how many.

        Sent emails whose marks couldn't be written (a full disk, a database gone) are
        marked first: until then nothing new is claimed (see `_mark_what_was_sent`).
        """
        handled = 0
        await self._mark_what_was_sent()
        marks = _GroupMarks(self.outbox, self.name, self.clock)
        while not self._stopping:
            claimed_at = self.clock.now()
            batch = await self.claim()
            if not batch:
                break
            # Nothing is sent after this instant, so nothing is sent once the lease is over
            # (and another instance may have claimed the row): a late one is released.
            deadline = claimed_at + self.settings.lease - self.settings.send_timeout - MARK_TIME
            try:
                about = await self.outbox.bookings_for(batch)
            except Exception as exc:  # the batch is retried within its window, not left claimed
                error = DeliveryError(
                    f"can't read the bookings: {type(exc).__name__}", permanent=False
                )
                await asyncio.gather(*(self._failed(m, error) for m in batch))
                continue
            await asyncio.gather(*(self._handle(m, about, deadline, marks) for m in batch))
            handled += len(batch)
            if self._sent_unmarked:
                break
        await self._mark_what_was_sent()  # raises while the database can't take them
        return handled

    async def _mark_what_was_sent(self) -> None:
        """Write the marks of emails the SMTP server accepted but the database couldn't mark.

        The process keeps the fact (`_sent_unmarked`) and writes it the moment the database
        takes writes again, before it claims anything: so it never sends those emails again
        itself, and their claims, still ours, go to nobody else unless another instance's
        claim reaches the database first once their lease (25 s) is over. Raises what the
        database raised meanwhile.
        """
        if not self._sent_unmarked:
            return
        waiting = sorted(self._sent_unmarked)
        marked = await self.outbox.mark_sent_many(waiting, self.name, self.clock.now())
        self._sent_unmarked.difference_update(waiting)
        log.warning("mail.marked_late", marked=len(marked), claims_lost=len(waiting) - len(marked))

    async def claim(self) -> list[QueuedMail]:
        return await self.outbox.claim(
            self.name, self.clock.now(), self.settings.lease, self.settings.batch
        )

    def message_for(self, mail: QueuedMail, about: _About) -> Message | None:
        """The composed email, or None when it is no longer wanted."""
        found, firms = about
        business = firms.get(mail.business_id)
        now = self.clock.now()
        if business is not None and mail.booking_id is None:  # about the business itself
            return compose_for_business(
                mail.kind,
                business,
                mail.data or {},
                message_id=message_id(mail, self.settings.mail_from),
                mail_from=self.settings.mail_from,
                now=now,
            )
        booking = found.get(mail.booking_id) if mail.booking_id is not None else None
        if business is None or booking is None:
            return None
        if mail.kind in REMINDERS and not reminder_still_useful(
            mail.kind, booking.start_at, booking.status, now
        ):
            return None
        if mail.kind is MailKind.RESCHEDULED:
            moved = as_rescheduled(booking, mail.data)
            if moved is None:
                return None
            booking = moved
        return compose(
            mail.kind,
            booking,
            business,
            message_id=message_id(mail, self.settings.mail_from),
            mail_from=self.settings.mail_from,
            failed_kind=mail.failed_kind,
            now=now,
        )

    async def deliver(
        self, mail: QueuedMail, about: _About | None = None, deadline: datetime | None = None
    ) -> Delivery:
        """Compose and send one claimed email without marking it."""
        message = self.message_for(mail, about or await self.outbox.bookings_for([mail]))
        if message is None:
            return Delivery.SKIPPED
        async with self._slots:
            if deadline is not None and self.clock.now() >= deadline:
                return Delivery.LATE
            try:
                async with asyncio.timeout(self.settings.send_timeout.total_seconds()):
                    await self.transport.send(message)
            except TimeoutError:
                raise DeliveryError("timed out", permanent=False) from None
        return Delivery.SENT

    async def _handle(
        self, mail: QueuedMail, about: _About, deadline: datetime, marks: _GroupMarks
    ) -> None:
        try:
            outcome = await self.deliver(mail, about, deadline)
        except DeliveryError as exc:
            if exc.configuration and self.configuration_error is None:
                self.configuration_error = str(exc)
                log.error("mail.configuration_error", error=str(exc))
            await self._failed(mail, exc)
            return
        except Exception as exc:  # e.g. an address that can't be written as a header
            # Unexpected, so not trusted to be permanent: retried until the window closes.
            error = f"{type(exc).__name__}: {str(exc)[:150]}"
            await self._failed(mail, DeliveryError(error, permanent=False))
            return
        if outcome is Delivery.LATE:
            await self.outbox.mark_retry(mail.id, self.name, self.clock.now(), "lease ran out")
            return
        if outcome is Delivery.SENT and self.configuration_error is not None:
            log.warning("mail.configuration_fixed", was=self.configuration_error)
            self.configuration_error = None
        if outcome is Delivery.SKIPPED:
            await self.outbox.skip(mail.id, self.name, "no longer wanted")
            log.info("mail.skipped", id=mail.id, kind=mail.kind.value, booking=mail.booking_id)
            return
        try:
            marked = await marks.mark(mail.id)
        except Exception as exc:  # sent: kept here, and marked as soon as the database can
            if not self._sent_unmarked:
                log.warning("mail.unmarked", error=type(exc).__name__, reason=outage(exc))
            self._sent_unmarked.add(mail.id)
            return
        if marked:
            log.info("mail.sent", id=mail.id, kind=mail.kind.value, booking=mail.booking_id)
        else:
            log.warning("mail.lease_lost", id=mail.id, kind=mail.kind.value)

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


_About = tuple[dict[int, Booking], dict[int, Business]]


class _GroupMarks:
    """Marks sent emails with one UPDATE per commit; marks that arrive while a commit runs
    join the next one."""

    def __init__(self, outbox: SqlOutbox, owner: str, clock: Clock) -> None:
        self._outbox, self._owner, self._clock = outbox, owner, clock
        self._waiting: list[tuple[int, asyncio.Future[bool]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def mark(self, mail_id: int) -> bool:
        """True once the mark is committed; False if our claim was lost meanwhile."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((mail_id, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._waiting:
                chunk, self._waiting = self._waiting, []
                try:
                    marked = await self._commit([i for i, _ in chunk])
                except Exception as exc:
                    for _, done in chunk:
                        if not done.done():  # a waiter cancelled at shutdown has gone
                            done.set_exception(exc)
                    continue
                for mail_id, done in chunk:
                    if not done.done():
                        done.set_result(mail_id in marked)
        finally:
            self._flushing = None

    async def _commit(self, mail_ids: list[int]) -> set[int]:
        """The marks, retried briefly: a failed mark means a resend once the lease is over."""
        for attempt in range(MARK_ATTEMPTS):
            try:
                return await self._outbox.mark_sent_many(mail_ids, self._owner, self._clock.now())
            except Exception:
                if attempt == MARK_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover
