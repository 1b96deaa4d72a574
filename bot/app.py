"""The composition root: the one place that builds engines, stores and the desk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import SecretStr

from bot.calendar_feed import CalendarFeed
from bot.chat.dispatcher import ChatDispatcher
from bot.chat.sending import ChatSender
from bot.chat.surface import Surface
from bot.currencies import CldrMoney
from bot.mail.dispatcher import Dispatcher, DispatchSettings
from bot.mail.transport import FileTransport, MailTransport, SmtpTransport
from bot.payments.paypal import PayPal, paypal_client
from bot.scheduler import Background
from bot.settings import Settings
from core import money
from core.chat import ChatDesk, Platform
from core.clock import Clock, SystemClock
from core.desk import Desk
from core.payments import Payments
from storage.bookings import SqlBookingStore
from storage.businesses import SqlBusinesses
from storage.calendar_feeds import SqlCalendarFeeds
from storage.chat_queue import ChatQueue
from storage.conversations import SqlConversations
from storage.database import Database, open_database
from storage.event_feed import EventHook, SqlEventFeed
from storage.outbox import MailQueue, SqlOutbox, SqlReminders
from storage.owners_day import SqlOwnersDay
from storage.payments import SqlPaymentLedger


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
    payments: Payments
    outbox: SqlOutbox
    reminders: SqlReminders
    dispatcher: Dispatcher
    conversations: SqlConversations
    chat: ChatDesk
    chat_dispatcher: ChatDispatcher
    owners_day: SqlOwnersDay
    background: Background
    calendar: CalendarFeed  # the owners' calendar feeds (GET /calendar/<token>.ics)
    surfaces: list[Surface] = field(default_factory=list)  # the chat platforms configured
    paypal: PayPal | None = None  # PayPal's API, when PAYPAL_CLIENT_ID and the rest are set

    async def aclose(self) -> None:
        await self.dispatcher.transport.close()
        if self.paypal is not None:
            await self.paypal.aclose()
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
    senders: Mapping[Platform, ChatSender] | None = None,
    surfaces: Sequence[Surface] | None = None,
) -> Services:
    """Wire the parts; tests pass their own clock, mail transport, chat senders and
    surfaces (by default, the chat platforms whose tokens are set)."""
    clock = clock or SystemClock()
    money.use(CldrMoney())  # every amount shown, written by the CLDR's rule
    db = open_database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    queue = MailQueue(retry_window=timedelta(hours=settings.mail_retry_hours))
    chat_queue = ChatQueue()
    hooks: list[EventHook] = [queue, chat_queue]  # every event's emails and chat deliveries
    store = SqlBookingStore(db, event_hooks=hooks)
    outbox = SqlOutbox(db, queue, event_hooks=hooks)
    reminders = SqlReminders(db, queue)
    conversations = SqlConversations(db, chat_queue, queue)
    desk = Desk(store, clock)
    payments = Payments(desk, SqlPaymentLedger(db, event_hooks=hooks), clock)
    chat = ChatDesk(desk, conversations, clock)
    owners_day = SqlOwnersDay(db, store)
    found = list(surfaces) if surfaces is not None else chat_surfaces(settings, chat)
    every_sender = {s.platform: s.sender for s in found} | dict(senders or {})
    chat_dispatcher = ChatDispatcher(
        outbox, conversations, chat, every_sender, clock, name=dispatcher_name
    )
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
        desk=desk,
        payments=payments,
        outbox=outbox,
        reminders=reminders,
        dispatcher=dispatcher,
        conversations=conversations,
        chat=chat,
        chat_dispatcher=chat_dispatcher,
        owners_day=owners_day,
        background=Background(
            dispatcher,
            reminders,
            clock,
            poll_seconds=settings.mail_poll_seconds,
            sweep_seconds=settings.reminder_sweep_seconds,
            chat=chat_dispatcher,
            chat_poll_seconds=settings.chat_poll_seconds,
            owners_day=owners_day,
        ),
        calendar=CalendarFeed(
            SqlCalendarFeeds(db), desk, clock, domain=settings.mail_from.rpartition("@")[2]
        ),
        surfaces=found,
        paypal=paypal_client(settings),
    )


def chat_surfaces(settings: Settings, chat: ChatDesk) -> list[Surface]:
    """The chat platforms whose tokens are set (none: the console is the only surface)."""
    found: list[Surface] = []
    if settings.slack_bot_token is not None:
        from bot.slack.surface import SlackSurface  # Bolt only when Slack is configured

        found.append(
            SlackSurface(
                chat,
                bot_token=settings.slack_bot_token.get_secret_value(),
                signing_secret=_secret(settings.slack_signing_secret),
                api_url=settings.slack_api_url,
                app_token=_secret(settings.slack_app_token) or None,
            )
        )
    if settings.telegram_bot_token is not None:
        from bot.telegram.surface import TelegramSurface  # PTB only when Telegram is set

        found.append(TelegramSurface.from_settings(settings, chat))
    return found


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
