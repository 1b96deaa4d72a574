"""Reschedule from a card, through the real surfaces: Slack's modal (date and time pickers)
and Telegram's month-then-times keyboards. Every card of the booking is redrawn, the old
reminders are gone (rows, and nothing sent when the clock passes them) and the customer's
`rescheduled` email, with its updated invitation, is in a real SMTP server's mailbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select
from structlog.testing import capture_logs

from bot.app import Services, build_services
from bot.mail.transport import SmtpTransport
from bot.server import http_app
from bot.settings import Settings
from core.clock import FixedClock
from core.lifecycle import Move, Status
from core.model import Business
from storage import migrate
from storage.tables import reminders
from tests.adapters.test_slack import START, Desk, blocks_text, buttons
from tests.adapters.test_telegram import OWNER_CHAT, SAM, card_in
from tests.conftest import NOW, OTHER_OWNER, _plum_salon
from tests.integration.http_server import serving
from tests.slack_api import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackApi,
    reschedule_submission_body,
)
from tests.smtp_server import SmtpServer
from tests.telegram_api import FakeBotApi, Served, served, tap

GROUP = -1002


async def tick(services: Services) -> None:
    """What the scheduler does on each beat: sweep reminders, then send mail."""
    await services.reminders.queue_due(services.clock.now())
    await services.dispatcher.run_once()


def invitation(message: Any) -> Any:
    """The invite.ics attachment's VEVENT, parsed by icalendar."""
    for part in message.walk():
        if part.get_content_type() == "application/ics":
            return Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
    raise AssertionError("no invitation attached")


async def planned(services: Services, booking_id: int) -> dict[str, datetime]:
    query = select(reminders.c.kind, reminders.c.due_at).where(
        reminders.c.booking_id == booking_id, reminders.c.state == "planned"
    )
    found = await services.db.read(lambda conn: conn.execute(query).all())
    return {r.kind: r.due_at for r in found}


async def the_old_reminders_never_go_out(
    services: Services, smtp: SmtpServer, clock: FixedClock, old: datetime, new: datetime
) -> None:
    for at in (old - timedelta(hours=24), old - timedelta(minutes=30), old):
        clock.set(at)
        await tick(services)
    assert "reminder-24h" not in smtp.mailbox.kinds()
    assert "reminder-30m" not in smtp.mailbox.kinds()
    clock.set(new - timedelta(minutes=30))
    await tick(services)
    assert smtp.mailbox.kinds().count("reminder-30m") == 1


def the_invitation_was_updated(smtp: SmtpServer, booking_id: int, new: datetime) -> None:
    [moved] = smtp.mailbox.of_kind("rescheduled")
    [created] = smtp.mailbox.of_kind("created")
    event, first = invitation(moved), invitation(created)
    assert str(event["UID"]) == str(first["UID"]) == f"booking-{booking_id}@plum.example"
    assert int(str(event["SEQUENCE"])) > int(str(first["SEQUENCE"]))
    assert event.decoded("DTSTART") == new


# Slack


@pytest.fixture
async def slack_desk(
    database_url: str, clock: FixedClock, tmp_path: Path, smtp: SmtpServer
) -> AsyncIterator[Desk]:
    slack = SlackApi(members={"C1": ["U1", "U2"], "C2": ["U1", "U2"]})
    async with serving(slack.app()) as slack_url:
        settings = Settings(
            database_url=database_url,
            mail_dir=tmp_path / "mail",
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=f"{slack_url}/api/",
            mail_from="bookings@plum.example",
            _env_file=None,
        )
        transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none", timeout=5)
        services = build_services(settings, clock=clock, transport=transport)
        await migrate.upgrade(services.db)
        business = await _plum_salon(services)
        api = http_app(services)
        async with serving(api) as url, httpx.AsyncClient(timeout=10) as http:
            d = Desk(services, business, slack, url, http)
            d._slack_url = slack_url
            yield d
        await services.aclose()
    assert slack.refused == []  # nothing we sent would Slack have refused


async def test_reschedule_from_slack_opens_pickers_and_moves_the_booking_everywhere(
    slack_desk: Desk, smtp: SmtpServer, clock: FixedClock
) -> None:
    desk = slack_desk
    await desk.link("C1")
    await desk.link("C2")
    booking_id = await desk.book()  # Thu 26 Nov, 11:00 EST
    old = START + timedelta(hours=1)
    await desk.services.chat_dispatcher.drain()
    posts = {p["channel"]: f"1700000000.{i:06d}" for i, p in
             enumerate(desk.slack.of("chat.postMessage"), start=1)}  # fmt: skip
    first = next(p for p in desk.slack.of("chat.postMessage") if p["channel"] == "C1")
    await tick(desk.services)

    await desk.press(
        buttons(first["blocks"])["Reschedule"], "jp_reschedule", message_ts=posts["C1"]
    )
    (opened,) = await desk.slack.wait_for("views.open")
    view = opened["view"]
    assert view["callback_id"] == "jp_reschedule"
    assert json.loads(view["private_metadata"])["tap"] == f"reschedule:{booking_id}:pending"
    pickers = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert pickers["day"] == {
        "type": "datepicker",
        "action_id": "day",
        "initial_date": "2026-11-26",
    }
    assert pickers["time"]["type"] == "timepicker" and pickers["time"]["initial_time"] == "11:00"
    meta = view["private_metadata"]

    past = await desk.send(reschedule_submission_body(meta, "2026-11-25", "08:00"))
    assert past.json() == {
        "response_action": "errors",
        "errors": {"time": "The start time is in the past."},
    }
    skipped = await desk.send(reschedule_submission_body(meta, "2027-03-14", "02:30"))
    assert "the clocks skip that hour" in skipped.json()["errors"]["time"]
    empty = await desk.send(reschedule_submission_body(meta, None, "15:00"))
    assert empty.json()["errors"] == {"time": "Pick a date and a time."}
    assert (await desk.services.desk.booking(desk.business, booking_id)).start_at == old

    done = await desk.send(reschedule_submission_body(meta, "2026-12-08", "15:00"))
    assert done.status_code == 200 and done.text == ""
    new = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)
    (update,) = await desk.slack.wait_for("chat.update")
    assert (update["channel"], update["ts"]) == ("C1", posts["C1"])
    shown = blocks_text(update["blocks"])
    assert "Tue 8 Dec 2026, 15:00–15:45 EST" in shown
    assert "from Thu 26 Nov 2026, 11:00 EST by riley via Slack" in shown
    await desk.services.chat_dispatcher.drain()
    redrawn = {(u["channel"], u["ts"]) for u in desk.slack.of("chat.update")}
    assert redrawn == {("C1", posts["C1"]), ("C2", posts["C2"])}
    assert all(
        "Tue 8 Dec 2026, 15:00–15:45 EST" in blocks_text(u["blocks"])
        for u in desk.slack.of("chat.update")
    )

    booking = await desk.services.desk.booking(desk.business, booking_id)
    assert booking.start_at == new and booking.status is Status.PENDING
    assert await planned(desk.services, booking_id) == {
        "reminder-24h": new - timedelta(hours=24),
        "reminder-30m": new - timedelta(minutes=30),
    }
    await tick(desk.services)
    the_invitation_was_updated(smtp, booking_id, new)
    await the_old_reminders_never_go_out(desk.services, smtp, clock, old, new)


async def test_slack_shows_an_overlap_at_the_new_time(slack_desk: Desk) -> None:
    desk = slack_desk
    await desk.link("C1")
    moving = await desk.book(1)  # 11:00
    await desk.book(3, name="Bea Costa")  # 13:00
    await desk.services.chat_dispatcher.drain()
    await desk.press(f"reschedule:{moving}:pending", "jp_reschedule")
    (opened,) = await desk.slack.wait_for("views.open")
    meta = opened["view"]["private_metadata"]
    await desk.send(reschedule_submission_body(meta, "2026-11-26", "12:30"))
    await desk.services.chat_dispatcher.drain()
    updates = await desk.slack.wait_for("chat.update")
    assert "Overlaps with #2 (Bea Costa, 13:00–13:45 EST, pending)" in blocks_text(
        updates[-1]["blocks"]
    )


async def test_slack_refuses_to_reschedule_from_a_card_drawn_before_a_change(
    slack_desk: Desk,
) -> None:
    desk = slack_desk
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.services.chat_dispatcher.drain()
    await desk.press(f"reschedule:{booking_id}:pending", "jp_reschedule")
    (opened,) = await desk.slack.wait_for("views.open")
    meta = opened["view"]["private_metadata"]
    await desk.services.desk.act(desk.business, booking_id, Move.CONFIRM, OTHER_OWNER)

    done = await desk.send(reschedule_submission_body(meta, "2026-12-08", "15:00"))
    assert done.status_code == 200
    (told,) = await desk.slack.wait_for("chat.postEphemeral")
    assert told["text"].startswith(f"#{booking_id} was confirmed a moment ago by Riley via Slack")
    booking = await desk.services.desk.booking(desk.business, booking_id)
    assert booking.start_at == START + timedelta(hours=1) and not booking.reschedules

    # A stale card's Reschedule opens nothing.
    await desk.press(f"reschedule:{booking_id}:pending", "jp_reschedule")
    responses = await desk.slack.wait_responses(2)
    assert "was confirmed a moment ago" in responses[-1]["text"]
    assert len(desk.slack.of("views.open")) == 1


# Telegram


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    async with serving(fake.app) as url:
        fake.url = url
        yield fake
        await fake.close()


@pytest.fixture
async def bot(
    database_url: str, clock: FixedClock, tmp_path: Path, api: FakeBotApi, smtp: SmtpServer
) -> AsyncIterator[Served]:
    async with served(database_url, clock, tmp_path, api, smtp_port=smtp.port) as running:
        yield running


@pytest.fixture
async def salon(bot: Served) -> Business:
    return await _plum_salon(bot.services)


async def test_reschedule_from_telegram_by_month_day_and_time(
    bot: Served, salon: Business, smtp: SmtpServer, clock: FixedClock
) -> None:
    await bot.link(salon, GROUP)
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, GROUP, salon)
    owner_card = max(k[1] for k in bot.api.messages if k[0] == OWNER_CHAT)
    old = (await bot.services.desk.booking(salon, booking_id)).start_at
    await tick(bot.services)

    await bot.send(tap(GROUP, card, f"reschedule:{booking_id}:pending", sender=SAM))
    (days,) = bot.api.called("editMessageReplyMarkup", GROUP)
    assert days.params["message_id"] == card
    assert days.labels[0] == f"Move #{booking_id} to which day?"
    assert "Nov 2026" in days.labels and "Don't move it" in days.labels
    assert days.data_of("›") == f"rm:{booking_id}:pending:2026-12"
    assert "24" not in days.labels  # gone by: not offered
    assert days.data_of("25") == f"rd:{booking_id}:pending:2026-11-25"  # today
    await bot.send(tap(GROUP, card, days.data_of("›"), sender=SAM))
    december = bot.api.called("editMessageReplyMarkup", GROUP)[-1]
    assert "Dec 2026" in december.labels
    await bot.send(tap(GROUP, card, december.data_of("8"), sender=SAM))
    times = bot.api.called("editMessageReplyMarkup", GROUP)[-1]
    assert times.labels[0] == f"Move #{booking_id} to Tue 8 Dec at what time? (America/New_York)"
    assert times.labels[1:5] == ["07:00", "07:30", "08:00", "08:30"]
    assert "21:30" in times.labels and "22:00" not in times.labels
    every = [d for c in bot.api.calls for row in c.buttons for _, d in row]
    assert every and all(len(d.encode()) <= 64 for d in every)

    await bot.send(tap(GROUP, card, times.data_of("15:00"), sender=SAM))

    new = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)
    toast = bot.api.called("answerCallbackQuery")[-1]
    assert toast.params["text"].startswith(f"#{booking_id} moved from Thu 26 Nov 2026, 11:00 EST")
    edit = bot.api.called("editMessageText", GROUP)[-1]
    assert edit.params["message_id"] == card
    assert "Tue 8 Dec 2026, 15:00–15:45 EST" in edit.text
    assert "from Thu 26 Nov 2026, 11:00 EST by Sam Lee via Telegram" in edit.text
    assert "Reschedule" in edit.labels
    await bot.deliver()
    owner_edit = bot.api.called("editMessageText", OWNER_CHAT)[-1]
    assert owner_edit.params["message_id"] == owner_card
    assert "Tue 8 Dec 2026, 15:00–15:45 EST" in owner_edit.text

    assert await planned(bot.services, booking_id) == {
        "reminder-24h": new - timedelta(hours=24),
        "reminder-30m": new - timedelta(minutes=30),
    }
    await tick(bot.services)
    the_invitation_was_updated(smtp, booking_id, new)
    await the_old_reminders_never_go_out(bot.services, smtp, clock, old, new)


async def test_telegram_dont_move_it_and_a_stale_time_change_nothing(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, GROUP)
    booking_id, card = await card_in(bot, GROUP, salon)
    old = (await bot.services.desk.booking(salon, booking_id)).start_at
    await bot.send(tap(GROUP, card, f"reschedule:{booking_id}:pending"))
    days = bot.api.called("editMessageReplyMarkup", GROUP)[-1]
    await bot.send(tap(GROUP, card, days.data_of("Don't move it")))
    assert bot.api.called("answerCallbackQuery")[-1].params["text"] == (
        "Not moved. Here is the booking as it is."
    )
    assert "Reschedule" in bot.api.called("editMessageText", GROUP)[-1].labels

    # A time tapped on keyboards drawn before the booking was confirmed elsewhere.
    await bot.services.desk.act(salon, booking_id, Move.CONFIRM, OTHER_OWNER)
    await bot.send(tap(GROUP, card, f"rt:{booking_id}:pending:2026-12-08:1500"))
    said = bot.api.called("answerCallbackQuery")[-1].params["text"]
    assert said.startswith(f"#{booking_id} was confirmed a moment ago by Riley via Slack")
    # A time gone by: the keyboard stays, nothing changes.
    await bot.send(tap(GROUP, card, f"rt:{booking_id}:confirmed:2026-11-25:0800"))
    assert bot.api.called("answerCallbackQuery")[-1].params["text"] == (
        "The start time is in the past."
    )
    # Forged or cut data is a stale button, never an action.
    await bot.send(tap(GROUP, card, f"rt:{booking_id}:confirmed:2026-02-30:1500"))
    assert "doesn't work any more" in bot.api.called("answerCallbackQuery")[-1].params["text"]
    assert (await bot.services.desk.booking(salon, booking_id)).start_at == old


async def test_telegram_answers_forged_years_plainly_and_logs_no_failure(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, GROUP)
    booking_id, card = await card_in(bot, GROUP, salon)
    old = (await bot.services.desk.booking(salon, booking_id)).start_at
    forged = [
        f"rm:{booking_id}:pending:0001-01",
        f"rm:{booking_id}:pending:9999-12",
        f"rd:{booking_id}:pending:9999-12-31",
        f"rd:{booking_id}:pending:0001-01-01",
        f"rt:{booking_id}:pending:9999-12-31:1500",
        f"rt:{booking_id}:pending:0001-01-01:0000",
    ]
    with capture_logs() as logged:
        for data in forged:
            before = len(bot.api.called("answerCallbackQuery"))
            await bot.send(tap(GROUP, card, data))
            answers = bot.api.called("answerCallbackQuery")
            assert len(answers) == before + 1, data
            assert "doesn't work any more" in answers[-1].params["text"], data
    assert not [e for e in logged if e["event"] == "telegram.handler_failed"]
    assert (await bot.services.desk.booking(salon, booking_id)).start_at == old


async def test_slack_answers_a_date_at_the_calendars_edge_inline(slack_desk: Desk) -> None:
    desk = slack_desk
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.services.chat_dispatcher.drain()
    await desk.press(f"reschedule:{booking_id}:pending", "jp_reschedule")
    (opened,) = await desk.slack.wait_for("views.open")
    meta = opened["view"]["private_metadata"]
    late = await desk.send(reschedule_submission_body(meta, "9999-12-31", "23:30"))
    assert late.json()["errors"] == {"time": "The start time is more than two years ahead."}
    early = await desk.send(reschedule_submission_body(meta, "0001-01-01", "00:00"))
    assert early.json()["errors"] == {"time": "The start time is in the past."}


async def test_slack_tells_why_when_the_time_passed_between_the_ack_and_the_move(
    slack_desk: Desk, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = slack_desk
    await desk.link("C1")
    booking_id = await desk.book()
    await desk.services.chat_dispatcher.drain()
    await desk.press(f"reschedule:{booking_id}:pending", "jp_reschedule")
    (opened,) = await desk.slack.wait_for("views.open")
    meta = opened["view"]["private_metadata"]
    # The ack reads the clock at 09:00 EST, the move after it at 09:02: 09:01 has passed.
    readings = iter([NOW])
    monkeypatch.setattr(clock, "now", lambda: next(readings, NOW + timedelta(minutes=2)))
    done = await desk.send(reschedule_submission_body(meta, "2026-11-25", "09:01"))
    assert done.status_code == 200 and done.text == ""  # the modal closed
    (told,) = await desk.slack.wait_for("chat.postEphemeral")
    assert (told["channel"], told["user"], told["text"]) == (
        "C1",
        "U1",
        "The start time is in the past.",
    )
    booking = await desk.services.desk.booking(desk.business, booking_id)
    assert booking.start_at == START + timedelta(hours=1)
