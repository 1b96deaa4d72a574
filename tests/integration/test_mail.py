"""Every email once, on time, never lost — asserted in a real SMTP server's mailbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Services, build_services
from bot.mail.dispatcher import Dispatcher, DispatchSettings
from bot.mail.transport import SmtpTransport
from bot.settings import Settings
from core.clock import FixedClock
from core.events import EventKind
from core.lifecycle import Move
from core.model import Booking, Business, Channel
from core.notifications import DeliveryStatus, QueuedMail
from storage import migrate
from storage.outbox import SqlOutbox
from storage.tables import reminders
from tests.conftest import NOW, OWNER, PAGE, new_booking
from tests.smtp_server import SmtpServer

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Sat 28 Nov, 10:00 in New York


class RunningClock:
    """A clock that starts at a given instant and then moves with real time."""

    def __init__(self, start: datetime) -> None:
        self._start, self._t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


def addr(header: object) -> str:
    """The bare address of a To or Reply-To header."""
    return str(header.addresses[0].addr_spec)  # type: ignore[attr-defined]


def build(database_url: str, clock: FixedClock, tmp_path: Path, port: int, name: str) -> Services:
    settings = Settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        mail_from="bookings@plum.example",
        mail_dir=tmp_path / "unused",
        _env_file=None,
    )
    transport = SmtpTransport(host="127.0.0.1", port=port, tls="none", timeout=5)
    return build_services(settings, clock=clock, transport=transport, dispatcher_name=name)


@pytest.fixture
async def mail(
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
    smtp: SmtpServer,
) -> AsyncIterator[Services]:
    built = build(database_url, clock, tmp_path, smtp.port, "dispatcher-1")
    await migrate.upgrade(built.db)
    yield built
    await built.aclose()


@pytest.fixture
async def shop(mail: Services) -> Business:
    return await mail.businesses.add(
        name="Plum & Pine",
        timezone="America/New_York",
        owner_email="owner@plum.example",
        currency="USD",
        api_key="jp_test_mail",
        at=NOW,
    )


async def book(mail: Services, shop: Business, start: datetime = START, txn: str = "TX-1") -> int:
    booking, _ = await mail.desk.intake(shop, new_booking(start=start, txn=txn), PAGE)
    return booking.id


async def tick(mail: Services) -> None:
    """What the scheduler does on each beat: sweep reminders, then send."""
    await mail.reminders.queue_due(mail.clock.now())
    await mail.dispatcher.run_once()


async def test_a_new_booking_mails_the_customer_and_the_owner_once(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
) -> None:
    booking_id = await book(mail, shop)
    await tick(mail)
    await tick(mail)
    assert sorted(smtp.mailbox.kinds()) == ["created", "owner-new-booking"]
    created = smtp.mailbox.of_kind("created")[0]
    assert addr(created["To"]) == "ana@example.com"
    assert addr(created["Reply-To"]) == "owner@plum.example"
    assert "Plum & Pine" in created["From"]
    assert "Haircut" in created["Subject"]
    body = created.get_body(("plain",))
    assert body is not None and "US$45.00" in body.get_content()
    assert f"#{booking_id}" in body.get_content() and "EST" in body.get_content()
    owner = smtp.mailbox.of_kind("owner-new-booking")[0]
    assert (
        addr(owner["To"]) == "owner@plum.example" and addr(owner["Reply-To"]) == "ana@example.com"
    )
    statuses = {m.status for m in await mail.outbox.listing(list(DeliveryStatus))}
    assert statuses == {DeliveryStatus.SENT}


async def test_confirm_and_cancel_each_send_one_email_with_the_calendar_update(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.act(shop, booking_id, Move.CONFIRM, OWNER)
    await mail.desk.act(shop, booking_id, Move.CONFIRM, OWNER)  # a double tap
    await mail.desk.act(shop, booking_id, Move.CANCEL, OWNER, "Stylist is ill")
    await tick(mail)
    assert sorted(smtp.mailbox.kinds()) == [
        "cancelled",
        "confirmed",
        "created",
        "owner-new-booking",
    ]
    cancelled = smtp.mailbox.of_kind("cancelled")[0]
    text = cancelled.get_body(("plain",))
    assert text is not None and "Stylist is ill" in text.get_content()
    assert "METHOD:CANCEL" in cancelled.as_string()
    assert "METHOD:REQUEST" in smtp.mailbox.of_kind("confirmed")[0].as_string()


async def test_reminders_go_out_at_their_instants_and_not_before(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    await book(mail, shop)
    await tick(mail)
    clock.set(START - timedelta(hours=24, seconds=1))
    await tick(mail)
    assert "reminder-24h" not in smtp.mailbox.kinds()
    clock.set(START - timedelta(hours=24))
    await tick(mail)
    assert smtp.mailbox.kinds().count("reminder-24h") == 1
    clock.set(START - timedelta(minutes=30, seconds=1))
    await tick(mail)
    assert "reminder-30m" not in smtp.mailbox.kinds()
    clock.set(START - timedelta(minutes=30))
    await tick(mail)
    await tick(mail)
    assert smtp.mailbox.kinds().count("reminder-30m") == 1
    assert smtp.mailbox.kinds().count("reminder-24h") == 1


@pytest.mark.parametrize(
    ("local_start", "due_24h", "zone_word"),
    [
        (
            datetime(2027, 3, 14, 10, 0, tzinfo=NEW_YORK),
            datetime(2027, 3, 13, 14, 0, tzinfo=UTC),
            "EDT",
        ),
        (
            datetime(2027, 11, 7, 10, 0, tzinfo=NEW_YORK),
            datetime(2027, 11, 6, 15, 0, tzinfo=UTC),
            "EST",
        ),
    ],
)
async def test_24_hours_means_real_hours_across_a_clock_change(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
    local_start: datetime,
    due_24h: datetime,
    zone_word: str,
) -> None:
    # 2027-03-14 and 2027-11-07 are the days New York's clocks change.
    start = local_start.astimezone(UTC)
    await book(mail, shop, start=start)
    await tick(mail)
    query = select(reminders.c.kind, reminders.c.due_at)
    planned = await mail.db.read(lambda conn: conn.execute(query).all())
    assert dict((k, d) for k, d in planned)["reminder-24h"] == due_24h
    clock.set(due_24h)
    await tick(mail)
    reminder = smtp.mailbox.of_kind("reminder-24h")
    assert len(reminder) == 1
    text = reminder[0].get_body(("plain",))
    assert text is not None and f"10:00 {zone_word}" in text.get_content()


async def test_a_cancelled_booking_gets_no_reminders(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.act(shop, booking_id, Move.CANCEL, OWNER)
    for at in (START - timedelta(hours=24), START - timedelta(minutes=30)):
        clock.set(at)
        await tick(mail)
    assert "reminder-24h" not in smtp.mailbox.kinds()
    assert "reminder-30m" not in smtp.mailbox.kinds()


async def test_a_booking_made_less_than_a_day_ahead_gets_only_the_30_minute_reminder(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    soon = NOW + timedelta(hours=5)
    await book(mail, shop, start=soon)
    clock.set(soon - timedelta(minutes=30))
    await tick(mail)
    assert smtp.mailbox.kinds().count("reminder-30m") == 1
    assert "reminder-24h" not in smtp.mailbox.kinds()


@pytest.mark.parametrize(
    ("back_at", "expected"),
    [
        (START - timedelta(hours=3), ["reminder-24h"]),  # missed the 24h one: send it late
        (START - timedelta(minutes=10), ["reminder-30m"]),  # both due: only the later one
        (START + timedelta(minutes=1), []),  # after the start: none
    ],
)
async def test_after_downtime_a_missed_reminder_goes_out_only_if_still_useful(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
    back_at: datetime,
    expected: list[str],
) -> None:
    await book(mail, shop)
    await tick(mail)
    clock.set(back_at)  # the service was down until now
    await tick(mail)
    assert [k for k in smtp.mailbox.kinds() if k.startswith("reminder")] == expected


async def test_smtp_down_then_up_sends_once_after_recovery(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    smtp.stop()
    await book(mail, shop)
    await tick(mail)
    pending = await mail.outbox.listing([DeliveryStatus.PENDING])
    assert len(pending) == 2
    assert all(m.attempts == 1 and m.last_error for m in pending)
    smtp.start()
    clock.advance(seconds=5)  # the first retry comes within 5 s
    await tick(mail)
    await tick(mail)
    assert sorted(smtp.mailbox.kinds()) == ["created", "owner-new-booking"]


async def test_a_421_is_retried_and_then_delivered_once(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    smtp.mailbox.data_replies = ["421 Try again later"]
    await book(mail, shop)
    await tick(mail)
    assert len(smtp.mailbox.messages) == 1
    [waiting] = await mail.outbox.listing([DeliveryStatus.PENDING])
    assert waiting.last_error is not None and waiting.last_error.startswith("421")
    clock.advance(seconds=5)
    await tick(mail)
    assert sorted(smtp.mailbox.kinds()) == ["created", "owner-new-booking"]


async def test_a_550_fails_for_good_and_the_owner_is_told_once(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    smtp.mailbox.refuse_recipients["ana@example.com"] = "550 No such user"
    booking_id = await book(mail, shop)
    await tick(mail)
    await tick(mail)
    [failed] = await mail.outbox.listing([DeliveryStatus.FAILED])
    assert (failed.kind.value, failed.attempts) == ("created", 1)
    assert failed.last_error is not None and failed.last_error.startswith("550")
    notice = smtp.mailbox.of_kind("delivery-failed")
    assert len(notice) == 1
    assert (
        addr(notice[0]["To"]) == "owner@plum.example"
        and addr(notice[0]["Reply-To"]) == "ana@example.com"
    )
    assert f"#{booking_id}" in str(notice[0]["Subject"])
    clock.advance(hours=1)
    await tick(mail)
    assert len(smtp.mailbox.of_kind("delivery-failed")) == 1  # not retried forever
    assert [e.kind for e in await mail.feed.events_after(0)][-1] is EventKind.MAIL_FAILED


async def test_a_failed_email_can_be_retried_by_the_operator(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
) -> None:
    smtp.mailbox.refuse_recipients["ana@example.com"] = "550 Mailbox full"
    await book(mail, shop)
    await tick(mail)
    [failed] = await mail.outbox.listing([DeliveryStatus.FAILED])
    smtp.mailbox.refuse_recipients.clear()
    assert await mail.outbox.retry(failed.id, mail.clock.now())
    assert not await mail.outbox.retry(failed.id, mail.clock.now())  # only failed ones
    await tick(mail)
    assert smtp.mailbox.kinds().count("created") == 1


async def test_transient_failures_give_up_after_the_retry_window(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
) -> None:
    smtp.stop()
    await book(mail, shop)
    await tick(mail)
    clock.advance(hours=24, seconds=1)
    await tick(mail)
    assert {m.kind.value for m in await mail.outbox.listing([DeliveryStatus.FAILED])} == {
        "created",
        "owner-new-booking",
    }


async def test_a_crash_after_sending_but_before_marking_resends_with_the_same_message_id(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    await book(mail, shop)
    claimed = await mail.dispatcher.claim()
    for m in claimed:
        await mail.dispatcher.deliver(m)  # accepted by the server... and then the process dies
    assert len(smtp.mailbox.messages) == 2
    survivor = build(database_url, clock, tmp_path, smtp.port, "dispatcher-2")
    try:
        await survivor.dispatcher.run_once()
        assert len(smtp.mailbox.messages) == 2  # the dead process's lease still holds
        clock.advance(seconds=30)  # a dead claim is free again within 30 seconds
        await survivor.dispatcher.run_once()
    finally:
        await survivor.aclose()
    ids = [str(m["Message-ID"]) for m in smtp.mailbox.messages]
    assert len(ids) == 4 and len(set(ids)) == 2  # resent once each, recognisably
    assert {m.status for m in await mail.outbox.listing(list(DeliveryStatus))} == {
        DeliveryStatus.SENT
    }


async def test_a_customer_can_cancel_and_is_told_who_cancelled(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.customer_cancel(shop, booking_id, "Car broke down", Channel.API)
    await tick(mail)
    [cancelled] = smtp.mailbox.of_kind("cancelled")
    text = cancelled.get_body(("plain",))
    assert text is not None and "Car broke down" in text.get_content()


async def test_the_running_service_sends_a_new_email_within_seconds(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
) -> None:
    mail.background.start()
    try:
        await book(mail, shop)
        for _ in range(50):
            if len(smtp.mailbox.messages) == 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await mail.background.stop(grace_seconds=5)
    assert sorted(smtp.mailbox.kinds()) == ["created", "owner-new-booking"]


async def test_the_sender_logs_in_without_tls_and_reuses_its_connections(
    database_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    server = SmtpServer(credentials=("relay-user", "relay-pass"))
    server.start()
    try:
        transport = SmtpTransport(
            host="127.0.0.1",
            port=server.port,
            tls="none",
            username="relay-user",
            password="relay-pass",
        )
        settings = Settings(database_url=database_url, _env_file=None)
        services = build_services(settings, clock=clock, transport=transport)
        await migrate.upgrade(services.db)
        business = await services.businesses.add(
            name="Auth", timezone="UTC", owner_email="o@x.example", currency="USD",
            api_key="k-auth", at=NOW,
        )  # fmt: skip
        for n in range(6):
            await services.desk.intake(business, new_booking(start=START, txn=f"T{n}"), PAGE)
        await services.dispatcher.run_once()
        await services.aclose()
    finally:
        server.stop()
    assert len(server.mailbox.messages) == 12
    assert set(server.logins) == {"relay-user"}
    assert len(server.logins) <= services.settings.mail_concurrency  # one login per connection


async def test_two_dispatchers_deliver_a_thousand_queued_emails_exactly_once(
    mail: Services,
    shop: Business,
    smtp: SmtpServer,
    clock: FixedClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    for n in range(500):  # each booking queues two emails: the customer's and the owner's
        await mail.desk.intake(shop, new_booking(start=START, txn=f"BULK-{n}"), PAGE)
    second = build(database_url, clock, tmp_path, smtp.port, "dispatcher-2")
    try:
        sent = await asyncio.gather(mail.dispatcher.run_once(), second.dispatcher.run_once())
    finally:
        await second.aclose()
    ids = [str(m["Message-ID"]) for m in smtp.mailbox.messages]
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    assert sum(sent) == 1000
    assert await mail.outbox.listing([DeliveryStatus.PENDING, DeliveryStatus.FAILED]) == []


async def test_stopping_finishes_and_marks_the_email_in_flight(
    mail: Services, shop: Business, smtp: SmtpServer
) -> None:
    smtp.mailbox.data_delay = 1.5  # a slow server: the stop arrives mid-send
    mail.background.start()
    await book(mail, shop)
    for _ in range(100):
        if smtp.mailbox.receiving.is_set():
            break
        await asyncio.sleep(0.05)
    assert smtp.mailbox.receiving.is_set()
    started = asyncio.get_running_loop().time()
    await mail.background.stop(grace_seconds=8)
    assert asyncio.get_running_loop().time() - started < 10
    sent = await mail.outbox.listing([DeliveryStatus.SENT])
    assert len(sent) == len(smtp.mailbox.messages) >= 1
    assert await mail.outbox.listing([DeliveryStatus.FAILED]) == []


async def test_smtp_faults_are_logged_one_line_each_without_secrets(
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
    smtp: SmtpServer,
    process_logs: Callable[[], None],
    capfd: pytest.CaptureFixture[str],
) -> None:
    process_logs()
    smtp.mailbox.refuse_recipients["ana@example.com"] = "550 No such user"
    settings = Settings(database_url=database_url, _env_file=None)
    transport = SmtpTransport(
        host="127.0.0.1", port=smtp.port, tls="none", username="u", password="hunter2-secret"
    )
    services = build_services(settings, clock=clock, transport=transport)
    await migrate.upgrade(services.db)
    business = await services.businesses.add(
        name="Logs", timezone="UTC", owner_email="o@x.example", currency="USD",
        api_key="k-logs", at=NOW,
    )  # fmt: skip
    await services.desk.intake(business, new_booking(start=START), PAGE)
    await services.dispatcher.run_once()  # AUTH isn't offered: retried, logged
    smtp.stop()
    clock.advance(minutes=1)
    await services.dispatcher.run_once()  # the server is down: retried, logged
    await services.aclose()
    err = capfd.readouterr().err
    assert "mail.retry" in err
    assert "Traceback" not in err
    assert "hunter2-secret" not in err
    assert "Haircut" not in err  # no message bodies or subjects in the logs
    assert all(len(line) < 400 for line in err.splitlines())


async def test_a_retried_email_that_fails_again_is_reported_again_and_stops(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    smtp.mailbox.refuse_recipients["ana@example.com"] = "550 No such user"
    await book(mail, shop)
    await tick(mail)
    [failed] = await mail.outbox.listing([DeliveryStatus.FAILED])
    assert await mail.outbox.retry(failed.id, clock.now())
    await tick(mail)
    clock.advance(minutes=5)
    await tick(mail)
    [again] = await mail.outbox.listing([DeliveryStatus.FAILED])
    assert (again.id, again.attempts) == (failed.id, 1)
    assert len(smtp.mailbox.of_kind("delivery-failed")) == 2
    assert await mail.outbox.listing([DeliveryStatus.PENDING]) == []


async def test_slow_sending_never_outlives_a_claim_so_two_dispatchers_never_double_send(
    mail: Services, shop: Business, smtp: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    for n in range(5):
        await mail.desk.intake(shop, new_booking(start=START, txn=f"SLOW-{n}"), PAGE)
    smtp.mailbox.data_delay = 0.3
    tight = DispatchSettings(
        mail_from="bookings@plum.example",
        concurrency=1,
        lease=timedelta(seconds=3.5),  # sends may start until 0.5 s after the claim
        send_timeout=timedelta(seconds=1),
    )
    second = build(database_url, FixedClock(NOW), tmp_path, smtp.port, "unused")
    running = RunningClock(NOW)  # real seconds pass, so leases really run out

    async def keep_sending(name: str, services: Services) -> None:
        transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none", timeout=5)
        sender = Dispatcher(services.outbox, transport, running, tight, name=name)
        try:
            for _ in range(100):
                await sender.run_once()
                if not await services.outbox.listing([DeliveryStatus.PENDING]):
                    return
                await asyncio.sleep(0.05)
        finally:
            await transport.close()

    try:
        await asyncio.gather(keep_sending("a", mail), keep_sending("b", second))
    finally:
        await second.aclose()
    ids = [str(m["Message-ID"]) for m in smtp.mailbox.messages]
    assert len(ids) == 10
    assert len(set(ids)) == 10


async def test_a_stopped_dispatcher_claims_nothing_new(
    mail: Services, shop: Business, smtp: SmtpServer
) -> None:
    await book(mail, shop)
    mail.dispatcher.stop()
    assert await mail.dispatcher.run_once() == 0
    assert smtp.mailbox.messages == []
    assert len(await mail.outbox.listing([DeliveryStatus.PENDING])) == 2


async def test_a_connection_the_server_dropped_is_replaced_without_a_failed_attempt(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    await book(mail, shop, txn="A")
    await tick(mail)
    smtp.stop()
    smtp.start()  # the idle pooled connections are now dead
    await book(mail, shop, txn="B")
    await tick(mail)
    assert len(smtp.mailbox.messages) == 4
    assert all(m.attempts == 1 for m in await mail.outbox.listing([DeliveryStatus.SENT]))


class FlakyOutbox(SqlOutbox):
    """The real outbox, whose next few reads or marks fail as a dropped connection would."""

    def __init__(self, real: SqlOutbox, *, marks: int = 0, reads: int = 0) -> None:
        self.__dict__.update(real.__dict__)
        self.failing_marks, self.failing_reads = marks, reads

    async def mark_sent_many(self, mail_ids: Sequence[int], owner: str, now: datetime) -> set[int]:
        if self.failing_marks:
            self.failing_marks -= 1
            raise OSError("connection dropped")
        return await super().mark_sent_many(mail_ids, owner, now)

    async def bookings_for(
        self, mails: Sequence[QueuedMail]
    ) -> tuple[dict[int, Booking], dict[int, Business]]:
        if self.failing_reads:
            self.failing_reads -= 1
            raise OSError("connection dropped")
        return await super().bookings_for(mails)


async def test_a_mark_that_keeps_failing_is_written_later_and_the_email_never_resent(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    await book(mail, shop)
    flaky = FlakyOutbox(mail.outbox, marks=100)  # every mark, and each retry of it, fails
    mail.dispatcher.outbox = flaky
    with pytest.raises(OSError, match="connection dropped"):  # the job's outage, said once
        await mail.dispatcher.run_once()  # sent; the process keeps the fact
    assert len(smtp.mailbox.messages) == 2
    clock.advance(seconds=30)  # the claims' lease is over: still nothing sent again
    with pytest.raises(OSError, match="connection dropped"):
        await mail.dispatcher.run_once()
    flaky.failing_marks = 0
    await mail.dispatcher.run_once()
    assert len(smtp.mailbox.messages) == 2
    assert {m.status for m in await mail.outbox.listing(list(DeliveryStatus))} == {
        DeliveryStatus.SENT
    }


async def test_a_failed_read_of_the_batch_retries_its_emails_soon(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    await book(mail, shop)
    mail.dispatcher.outbox = FlakyOutbox(mail.outbox, reads=1)
    await mail.dispatcher.run_once()
    waiting = await mail.outbox.listing([DeliveryStatus.PENDING])
    assert len(waiting) == 2
    assert all((m.last_error or "").startswith("can't read the bookings") for m in waiting)
    clock.advance(seconds=5)
    await mail.dispatcher.run_once()
    assert sorted(smtp.mailbox.kinds()) == ["created", "owner-new-booking"]


async def test_the_transport_sends_the_envelope_and_keeps_bcc_off_the_message(
    smtp: SmtpServer,
) -> None:
    # The transport writes messages out itself (compose's policy); the envelope is read from
    # the headers as aiosmtplib's send_message reads it, and Bcc never travels in the message.
    message = Message()
    message["From"] = "Plum Salon <bookings@plum.example>"
    message["To"] = "Ana <ana@example.com>"
    message["Bcc"] = "audit@plum.example"
    message["Subject"] = "Hello"
    message.set_payload("Hi.\n")
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none", timeout=5)
    try:
        await transport.send(message)
    finally:
        await transport.close()
    assert smtp.mailbox.recipients == [["ana@example.com", "audit@plum.example"]]
    [received] = smtp.mailbox.messages
    assert received["Bcc"] is None
    assert (received["Subject"], received.get_content().strip()) == ("Hello", "Hi.")
    assert message["Bcc"] == "audit@plum.example"  # the caller's message is left as it was


async def test_the_transport_refuses_a_message_it_could_not_send_as_written(
    smtp: SmtpServer,
) -> None:
    # No sender, or 8-bit content (it goes out without BODY=8BITMIME): our bug, not the
    # recipient's, so a plain error (the dispatcher retries it), and nothing is sent.
    unsigned = Message()
    unsigned["To"] = "ana@example.com"
    eight_bit = Message()
    eight_bit["From"], eight_bit["To"] = "b@plum.example", "ana@example.com"
    eight_bit["Content-Type"] = "text/plain; charset=utf-8"
    eight_bit["Content-Transfer-Encoding"] = "8bit"
    eight_bit.set_payload("Zoë".encode().decode("ascii", "surrogateescape"))  # raw UTF-8
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none", timeout=5)
    try:
        for message, why in ((unsigned, "no From"), (eight_bit, "7-bit")):
            with pytest.raises(ValueError, match=why):
                await transport.send(message)
    finally:
        await transport.close()
    assert smtp.mailbox.messages == []
