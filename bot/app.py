"""The composition root: the one place that builds engines, stores and the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.mail.dispatcher import Dispatcher, DispatchSettings
from bot.mail.transport import FileTransport, MailTransport, SmtpTransport
from bot.scheduler import Background
from bot.settings import Settings
from core.clock import Clock, SystemClock
from core.desk import Desk
from storage.bookings import SqlBookingStore
from storage.businesses import SqlBusinesses
from storage.database import Database, open_database
from storage.event_feed import SqlEventFeed
from storage.outbox import MailQueue, SqlOutbox, SqlReminders


@dataclass
class Services:
    """Everything the surfaces share, built once per process."""

    settings: Settings
    clock: Clock
    db: Database
    store: SqlBookingStore
    businesses: SqlBusinesses
    feed: SqlEventFeed
    desk: Desk
    outbox: SqlOutbox
    reminders: SqlReminders
    dispatcher: Dispatcher
    background: Background

    async def aclose(self) -> None:
        await self.dispatcher.transport.close()
        await self.db.dispose()


def mail_transport(settings: Settings) -> MailTransport:
    """SMTP when SMTP_HOST is set; otherwise .eml files under MAIL_DIR."""
    if settings.smtp_host is None:
        return FileTransport(settings.mail_dir)
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_seconds,
    )


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: MailTransport | None = None,
    dispatcher_name: str | None = None,
) -> Services:
    """Wire the parts; tests pass their own clock and transport."""
    clock = clock or SystemClock()
    db = open_database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    queue = MailQueue(retry_window=timedelta(hours=settings.mail_retry_hours))
    store = SqlBookingStore(db, event_hooks=[queue])
    outbox = SqlOutbox(db, queue)
    reminders = SqlReminders(db, queue)
    dispatcher = Dispatcher(
        outbox,
        transport or mail_transport(settings),
        clock,
        DispatchSettings(
            mail_from=settings.mail_from,
            concurrency=settings.mail_concurrency,
        ),
        name=dispatcher_name,
    )
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        store=store,
        businesses=SqlBusinesses(db),
        feed=SqlEventFeed(db),
        desk=Desk(store, clock),
        outbox=outbox,
        reminders=reminders,
        dispatcher=dispatcher,
        background=Background(
            dispatcher,
            reminders,
            clock,
            poll_seconds=settings.mail_poll_seconds,
            sweep_seconds=settings.reminder_sweep_seconds,
        ),
    )
