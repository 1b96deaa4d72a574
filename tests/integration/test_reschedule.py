"""Moving a booking to another start: the times, the history, the reminders planned again,
the customer's `rescheduled` email with its updated invitation (in a real SMTP server's
mailbox), and the refusals, typed through the desk as every surface types them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.app import Services
from bot.server import http_app
from core.clock import FixedClock
from core.errors import NotMovable
from core.lifecycle import Move, Status
from core.model import Business
from core.replies import Problem, Rescheduled
from storage import migrate
from storage.tables import booking_history, outbox, reminders
from tests.conftest import NOW, OTHER_OWNER, OWNER
from tests.integration.http_server import serving
from tests.integration.test_mail import book, build, tick
from tests.smtp_server import SmtpServer

START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Sat 28 Nov, 10:00 in New York
MOVED = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)  # Tue 8 Dec, 15:00 in New York


@pytest.fixture
async def mail(
    database_url: str, clock: FixedClock, tmp_path: Path, smtp: SmtpServer
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
        api_key="jp_test_move",
        at=NOW,
    )


def invitation(message: object) -> Calendar:
    """The invite.ics attachment of an email, parsed by icalendar."""
    for part in message.walk():  # type: ignore[attr-defined]
        if part.get_content_type() == "application/ics":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no invitation attached")


def field(event: Any, name: str) -> str:
    """A property of a parsed VEVENT as its text."""
    return str(event[name])


async def planned(mail: Services, booking_id: int) -> dict[str, tuple[datetime, str]]:
    query = select(reminders.c.kind, reminders.c.due_at, reminders.c.state).where(
        reminders.c.booking_id == booking_id
    )
    found = await mail.db.read(lambda conn: conn.execute(query).all())
    return {r.kind: (r.due_at, r.state) for r in found}


async def test_moving_a_confirmed_booking_mails_the_new_time_and_replans_its_reminders(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.act(shop, booking_id, Move.CONFIRM, OWNER)
    await tick(mail)
    await tick(mail)

    reply = await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OTHER_OWNER)

    assert isinstance(reply, Rescheduled), reply
    assert reply.booking.start_at == MOVED
    assert reply.moved_from == START
    assert reply.booking.status is Status.CONFIRMED
    booking = await mail.desk.booking(shop, booking_id)
    assert (booking.start_at, booking.end_at) == (MOVED, MOVED + timedelta(minutes=45))
    [move] = booking.reschedules
    assert (move.moved_from, move.moved_to) == (START, MOVED)
    card = await mail.desk.card(shop, booking_id)
    assert (
        "moved from Sat 28 Nov 10:00 to Tue 8 Dec 15:00 EST by Riley via Slack" in card.history[-1]
    )
    assert any(f.key == "moved" and "Sat 28 Nov 2026, 10:00 EST" in f.value for f in card.fields)
    assert await planned(mail, booking_id) == {
        "reminder-24h": (MOVED - timedelta(hours=24), "planned"),
        "reminder-30m": (MOVED - timedelta(minutes=30), "planned"),
    }

    await tick(mail)
    [moved_mail] = smtp.mailbox.of_kind("rescheduled")
    text = moved_mail.get_body(("plain",))
    assert text is not None
    assert "from Sat 28 Nov 2026, 10:00 EST to Tue 8 Dec 2026, 15:00 EST" in text.get_content()
    [event] = invitation(moved_mail).walk("VEVENT")
    [confirmed] = invitation(smtp.mailbox.of_kind("confirmed")[0]).walk("VEVENT")
    assert field(event, "UID") == field(confirmed, "UID") == f"booking-{booking_id}@plum.example"
    assert int(field(event, "SEQUENCE")) > int(field(confirmed, "SEQUENCE"))
    assert event.decoded("DTSTART") == MOVED
    assert event.decoded("DTEND") == MOVED + timedelta(minutes=45)
    assert field(event, "STATUS") == "CONFIRMED"

    # The old reminders' instants pass: nothing goes out. The new ones go out on time.
    for at in (START - timedelta(hours=24), START - timedelta(minutes=30), START):
        clock.set(at)
        await tick(mail)
    assert "reminder-24h" not in smtp.mailbox.kinds()
    assert "reminder-30m" not in smtp.mailbox.kinds()
    clock.set(MOVED - timedelta(hours=24))
    await tick(mail)
    [reminder] = smtp.mailbox.of_kind("reminder-24h")
    body = reminder.get_body(("plain",))
    assert body is not None and "15:00 EST" in body.get_content()


async def test_each_move_raises_the_invitations_sequence_and_mails_once(
    mail: Services, shop: Business, smtp: SmtpServer
) -> None:
    booking_id = await book(mail, shop)
    await tick(mail)
    first = await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OWNER)
    await tick(mail)
    second = await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-09 09:30", OWNER)
    again = await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-09 09:30", OWNER)
    await tick(mail)
    await tick(mail)

    assert isinstance(first, Rescheduled) and isinstance(second, Rescheduled)
    assert isinstance(again, Rescheduled) and again.outcome.value == "already"
    sequences = [
        int(field(invitation(m).walk("VEVENT")[0], "SEQUENCE"))
        for m in smtp.mailbox.of_kind("created") + smtp.mailbox.of_kind("rescheduled")
    ]
    assert sequences == sorted(set(sequences)) and len(sequences) == 3
    await mail.desk.act(shop, booking_id, Move.CONFIRM, OWNER)
    await tick(mail)
    [confirmed] = smtp.mailbox.of_kind("confirmed")
    assert int(field(invitation(confirmed).walk("VEVENT")[0], "SEQUENCE")) > sequences[-1]


async def test_a_reminder_queued_but_not_sent_is_skipped_when_the_booking_moves(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    booking_id = await book(mail, shop)
    await tick(mail)
    clock.set(START - timedelta(hours=24))
    await mail.reminders.queue_due(clock.now())  # queued, not yet sent

    await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OWNER)
    await tick(mail)

    assert "reminder-24h" not in smtp.mailbox.kinds()
    query = select(outbox.c.status).where(outbox.c.kind == "reminder-24h")
    assert await mail.db.read(lambda conn: list(conn.execute(query).scalars())) == ["skipped"]
    clock.set(MOVED - timedelta(hours=24))
    await tick(mail)
    assert smtp.mailbox.kinds().count("reminder-24h") == 1


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("move {id} 2026-11-25 08:00", "The start time is in the past."),
        ("move {id} 2031-01-01 10:00", "more than two years ahead"),
        ("move {id} 2026-12-08", "Move which booking, to when?"),
        ("move {id} 2026-12-08 25:00", "isn't a time"),
        ("move 999999 2026-12-08 15:00", "There is no booking #999999"),
    ],
)
async def test_a_move_to_an_impossible_time_is_refused_plainly(
    mail: Services, shop: Business, line: str, said: str
) -> None:
    booking_id = await book(mail, shop)

    reply = await mail.desk.handle(shop.id, line.format(id=booking_id), OWNER)

    assert isinstance(reply, Problem) and said in reply.text
    booking = await mail.desk.booking(shop, booking_id)
    assert booking.start_at == START and not booking.reschedules


async def test_a_final_booking_is_not_moved(
    mail: Services, shop: Business, smtp: SmtpServer
) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.act(shop, booking_id, Move.CANCEL, OWNER)

    reply = await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OWNER)

    assert isinstance(reply, Problem)
    assert reply.text == (
        f"#{booking_id} is cancelled; only a pending or confirmed booking can be moved."
    )
    query = select(booking_history.c.note).where(booking_history.c.booking_id == booking_id)
    assert None in await mail.db.read(lambda conn: list(conn.execute(query).scalars()))
    assert "rescheduled" not in await mail.db.read(lambda conn: list(conn.execute(query).scalars()))
    await tick(mail)
    assert "rescheduled" not in smtp.mailbox.kinds()


async def test_a_booking_changed_since_its_card_was_drawn_is_not_moved(
    mail: Services, shop: Business
) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.act(shop, booking_id, Move.CONFIRM, OTHER_OWNER)

    reply = await mail.desk.run(
        shop, mail.desk.parse(shop, f"move {booking_id} 2026-12-08 15:00"), OWNER
    )
    assert isinstance(reply, Rescheduled)  # typed: no card, so no status to expect
    with pytest.raises(NotMovable) as refused:
        await mail.desk.reschedule(shop, booking_id, START, OWNER, expected=Status.PENDING)
    assert refused.value.changed_by is not None
    assert refused.value.changed_by.actor == OTHER_OWNER
    booking = await mail.desk.booking(shop, booking_id)
    assert booking.start_at == MOVED


async def test_moves_across_a_clock_change_keep_local_times(
    mail: Services, shop: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    # New York's clocks go forward on 2027-03-14 at 02:00 and back on 2027-11-07 at 02:00.
    clock.set(datetime(2027, 3, 1, 15, 0, tzinfo=UTC))
    booking_id = await book(mail, shop, start=datetime(2027, 3, 13, 15, 0, tzinfo=UTC))

    skipped = await mail.desk.handle(shop.id, f"move {booking_id} 2027-03-14 02:30", OWNER)
    assert isinstance(skipped, Problem)
    assert skipped.text == (
        "02:30 doesn't exist on 2027-03-14 in America/New_York: the clocks skip that hour. "
        "Pick another time."
    )

    # Saturday 10:00 EST to Sunday 10:00 EDT: one local day later, 23 real hours.
    moved = await mail.desk.handle(shop.id, f"move {booking_id} 2027-03-14 10:00", OWNER)
    assert isinstance(moved, Rescheduled)
    assert moved.booking.start_at == datetime(2027, 3, 14, 14, 0, tzinfo=UTC)
    assert "Sun 14 Mar 2027, 10:00–10:45 EDT" in moved.card.summary
    due = (await planned(mail, booking_id))["reminder-24h"][0]
    assert due == datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # 24 real hours before

    # 01:30 happens twice on 2027-11-07: the first, still on summer time (EDT).
    twice = await mail.desk.handle(shop.id, f"move {booking_id} 2027-11-07 01:30", OWNER)
    assert isinstance(twice, Rescheduled)
    assert twice.booking.start_at == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    # It ends after the clocks went back: both zones are named.
    assert "Sun 7 Nov 2027, 01:30 EDT–01:15 EST" in twice.card.summary


async def test_the_api_shows_the_new_start(mail: Services, shop: Business) -> None:
    booking_id = await book(mail, shop)
    await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OWNER)
    api = http_app(mail)
    async with (
        serving(api) as url,
        httpx.AsyncClient(base_url=url, trust_env=False) as client,
    ):
        found = await client.get(
            f"/api/bookings/{booking_id}", headers={"Authorization": "Bearer jp_test_move"}
        )
    assert found.status_code == 200
    body = found.json()
    assert body["start"] == "2026-12-08T20:00:00Z"
    assert body["start_local"] == "2026-12-08T15:00:00-05:00"
    assert body["history"][-1]["note"] == "rescheduled"
    assert body["history"][-1]["moved_from"] == "2026-11-28T15:00:00Z"
    assert body["history"][-1]["moved_to"] == "2026-12-08T20:00:00Z"


async def test_rescheduled_emails_sent_late_each_tell_their_own_move(
    mail: Services, shop: Business, smtp: SmtpServer
) -> None:
    booking_id = await book(mail, shop)
    await tick(mail)
    await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OWNER)
    await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-09 09:30", OWNER)
    await tick(mail)  # both emails go out after both moves
    await tick(mail)

    first, second = smtp.mailbox.of_kind("rescheduled")
    told = [m.get_body(("plain",)).get_content() for m in (first, second)]  # type: ignore[union-attr]
    assert "from Sat 28 Nov 2026, 10:00 EST to Tue 8 Dec 2026, 15:00 EST" in told[0]
    assert "from Tue 8 Dec 2026, 15:00 EST to Wed 9 Dec 2026, 09:30 EST" in told[1]
    starts = [invitation(m).walk("VEVENT")[0].decoded("DTSTART") for m in (first, second)]
    assert starts == [MOVED, datetime(2026, 12, 9, 14, 30, tzinfo=UTC)]
    sequences = [int(field(invitation(m).walk("VEVENT")[0], "SEQUENCE")) for m in (first, second)]
    assert sequences[0] < sequences[1]


async def test_a_rescheduled_email_still_waiting_when_the_booking_is_cancelled_is_not_sent(
    mail: Services, shop: Business, smtp: SmtpServer
) -> None:
    booking_id = await book(mail, shop)
    await tick(mail)
    await mail.desk.handle(shop.id, f"move {booking_id} 2026-12-08 15:00", OWNER)
    await mail.desk.act(shop, booking_id, Move.CANCEL, OWNER)
    await tick(mail)
    await tick(mail)
    assert smtp.mailbox.of_kind("rescheduled") == []
    assert len(smtp.mailbox.of_kind("cancelled")) == 1
    status = await mail.db.read(
        lambda conn: conn.execute(
            select(outbox.c.status).where(outbox.c.kind == "rescheduled")
        ).scalar_one()
    )
    assert status == "skipped"
