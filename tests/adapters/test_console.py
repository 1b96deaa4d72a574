"""Whole console conversations, asserted in a few lines (errbot's Text backend, in spirit)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from bot.app import Services
from bot.console.chat import ConsoleChat
from bot.mail.dispatcher import Dispatcher, DispatchSettings
from bot.mail.transport import SmtpTransport
from core.model import Actor, ActorKind, Business, Channel, Payment, Provider
from tests.conftest import PAGE, new_booking
from tests.smtp_server import SmtpServer

ME = Actor(ActorKind.OWNER, Channel.CONSOLE, "owner")


class Dialog:
    """Type lines into the console and read back what it printed since the last line."""

    def __init__(self, services: Services, business: Business) -> None:
        self.screen = io.StringIO()
        out = Console(file=self.screen, width=120, color_system=None, emoji=False)
        self.chat = ConsoleChat(services.chat, services.feed, business, out, ME)

    def _take(self) -> str:
        text = self.screen.getvalue()
        self.screen.seek(0)
        self.screen.truncate()
        return text

    async def say(self, line: str) -> str:
        assert await self.chat.say(line)
        return self._take()

    async def alerts(self) -> str:
        await self.chat.check_alerts()
        return self._take()


@pytest.fixture
async def dialog(services: Services, business: Business) -> Dialog:
    d = Dialog(services, business)
    await d.chat.start_watching()
    return d


async def book(
    services: Services, business: Business, name: str = "Ana Silva", txn: str = "T1"
) -> int:
    start = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 15:00 in New York, today
    booking, _ = await services.desk.intake(
        business, new_booking(name=name, start=start, txn=txn), PAGE
    )
    return booking.id


async def test_a_new_booking_arrives_as_an_alert_with_its_actions(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    alert = await dialog.alerts()
    assert f"New booking #{booking_id}" in alert
    assert "Ana Silva · Haircut · Wed 25 Nov 2026, 15:00–15:45 EST" in alert
    assert f"[confirm {booking_id}]  [cancel {booking_id}]" in alert
    assert await dialog.alerts() == ""  # each event is shown once


async def test_the_owner_lists_opens_confirms_and_completes_a_booking(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    today = await dialog.say("/bookings today")
    assert f"#{booking_id}" in today and "15:00" in today and "pending" in today
    card = await dialog.say(f"#{booking_id}")
    assert "ana@example.com" in card and "US$45.00 paid via PayPal (transaction T1)" in card
    assert f"[confirm {booking_id}]  [cancel {booking_id}]" in card
    assert f"#{booking_id} confirmed: Ana Silva" in await dialog.say(f"confirm {booking_id}")
    assert "already confirmed" in await dialog.say(f"confirm {booking_id}")
    done = await dialog.say(f"complete {booking_id}")
    assert f"#{booking_id} completed" in done and "no further actions" in done
    # The owner's own moves are answered inline, not alerted again; the new booking's card is
    # drawn as the booking is now.
    alerts = await dialog.alerts()
    assert alerts.count("New booking") == 1 and "Completed by owner via console" in alerts
    assert f"#{booking_id} confirmed by" not in alerts
    assert f"#{booking_id} completed by" not in alerts


async def test_cancel_asks_for_a_reason_and_leads_to_the_refund(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    asked = " ".join((await dialog.say(f"cancel {booking_id}")).split())
    assert f"Cancel #{booking_id} (Ana Silva · Haircut · Wed 25 Nov 2026" in asked
    assert "optional, up to 500 characters" in asked
    done = await dialog.say("customer moved away")
    assert f"#{booking_id} cancelled" in done
    assert "Cancelling does not refund. To refund US$45.00, open transaction T1" in done
    assert "https://www.paypal.com/activity/payment/T1" in done
    assert f"[refunded {booking_id}]" in done
    card = await dialog.say(f"#{booking_id}")
    assert "“customer moved away”" in card and "pending → cancelled by owner via console" in card


async def test_a_customer_cancellation_elsewhere_is_alerted(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    await dialog.alerts()
    await services.desk.customer_cancel(business, booking_id, "sick", Channel.API)
    alert = await dialog.alerts()
    assert f"#{booking_id} cancelled by Ana Silva (customer) via the booking page" in alert
    assert "“sick”" in alert and "Cancelling does not refund" in alert


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("2026-02-30", "2026-02-30 isn't a date on the calendar"),
        ("2026-12-07..2026-12-01", "That range ends before it starts"),
        ("#999", "There is no booking #999"),
        ("confirm 999", "There is no booking #999"),
        ("tommorow", "Did you mean `tomorrow`?"),
        ("confirm", "Which booking? e.g. `confirm 42`"),
    ],
)
async def test_bad_input_gets_a_plain_answer(dialog: Dialog, line: str, answer: str) -> None:
    reply = await dialog.say(line)
    assert answer in reply
    assert "Traceback" not in reply


async def test_a_final_booking_offers_no_actions_and_refuses_moves(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    await dialog.say(f"cancel {booking_id} double booked")
    assert f"#{booking_id} is cancelled; it can't be confirmed." in await dialog.say(
        f"confirm {booking_id}"
    )


async def test_the_calendar_and_help_render(
    services: Services, business: Business, dialog: Dialog
) -> None:
    await book(services, business)
    month = await dialog.say("calendar")
    assert "November 2026" in month and "25 ·1" in month
    assert "confirm 42 · complete 42 · cancel 42 [reason]" in await dialog.say("help")


async def test_quit_ends_the_conversation(dialog: Dialog) -> None:
    assert await dialog.chat.say("quit") is False


async def test_lists_over_several_days_show_each_booking_s_date(
    services: Services, business: Business, dialog: Dialog
) -> None:
    start = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    await services.desk.intake(business, new_booking(name="Zoë", start=start, txn="Z"), PAGE)
    assert "Thu 3 Dec 2026 10:00" in await dialog.say("2026-12-01..2026-12-07")
    single_day = await dialog.say("2026-12-03")
    assert "10:00" in single_day and "Thu 3 Dec" not in single_day
    assert "No bookings in next 7 days." in await dialog.say("next 7 days")


async def test_customer_text_that_looks_like_markup_is_shown_as_typed(
    services: Services, business: Business, dialog: Dialog
) -> None:
    start = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    booking, _ = await services.desk.intake(
        business, new_booking(name="[/bold] [red]Zoë[/red] <b>", start=start, txn="[x]"), PAGE
    )
    assert "[/bold] [red]Zoë[/red] <b>" in await dialog.alerts()
    assert "[/bold] [red]Zoë[/red] <b>" in await dialog.say("today")
    card = await dialog.say(f"#{booking.id}")
    assert "[/bold] [red]Zoë[/red] <b>" in card and "transaction [x]" in card


async def test_an_email_that_failed_for_good_is_alerted_to_the_owner(
    services: Services, business: Business, dialog: Dialog, smtp: SmtpServer
) -> None:
    booking_id = await book(services, business)
    await dialog.alerts()
    smtp.mailbox.refuse_recipients["ana@example.com"] = "550 No such user"
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none")
    sender = Dispatcher(
        services.outbox, transport, services.clock,
        DispatchSettings(mail_from="bookings@plum.example"),
    )  # fmt: skip
    await sender.run_once()
    await transport.close()
    alert = await dialog.alerts()
    assert f"Email to Ana Silva failed (#{booking_id}, booking received)" in alert
    assert "550" in alert and "ana@example.com" in alert


@pytest.mark.parametrize(
    "line", ["9999-12-31", "0001-01-01", "9998-12-25..9999-01-02", "calendar 0001-01"]
)
async def test_dates_at_the_ends_of_the_calendar_get_a_plain_answer(
    dialog: Dialog, line: str
) -> None:
    reply = await dialog.say(line)
    assert "Pick a date between 1900 and 9998" in reply or "isn't a month" in reply


async def test_two_consoles_see_each_other_s_moves(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    other = Dialog(services, business)
    other.chat.actor = Actor(ActorKind.OWNER, Channel.CONSOLE, "riley (console 2)")
    await other.chat.start_watching()
    await dialog.alerts()
    await other.say(f"confirm {booking_id}")
    assert f"#{booking_id} confirmed by riley (console 2) via console" in await dialog.alerts()


async def test_terminal_control_sequences_in_customer_text_are_never_printed(
    services: Services, business: Business, dialog: Dialog
) -> None:
    start = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    await services.desk.intake(
        business, new_booking(name="Ana \x1b]0;owned\x07\x1b[2J", start=start, txn="E"), PAGE
    )
    shown = await dialog.alerts() + await dialog.say("today")
    assert "\x1b" not in shown and "Ana" in shown


async def test_control_characters_typed_into_a_search_are_ignored(
    services: Services, business: Business, dialog: Dialog
) -> None:
    await book(services, business, name="Anabel")
    assert "Anabel" in await dialog.say("search ana\x00bel")


async def test_a_payment_to_review_and_the_refunds_owed_are_shown(
    services: Services, business: Business, dialog: Dialog
) -> None:
    start = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    short = replace(new_booking(start=start, txn="T9"), payment=Payment(
        Provider.PAYPAL, "T9", Decimal("40.00"), "USD"
    ))  # fmt: skip
    booking, _ = await services.payments.take(business, short, PAGE)
    card = await dialog.say(f"#{booking.id}")
    assert "Check the payment: Paid US$40.00, but the service's price is US$45.00." in card
    assert "No refunds owed." in await dialog.say("refunds")
    await dialog.say(f"cancel {booking.id} moved away")
    owed = await dialog.say("refunds")
    assert "Refunds owed, oldest first" in owed and f"#{booking.id}" in owed


async def test_the_day_s_digest_and_a_no_show_from_the_console(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)  # today 15:00 EST, pending
    digest = await dialog.say("digest")
    assert "Good morning — Plum Salon, Wed 25 Nov 2026" in digest
    assert f"15:00 #{booking_id} Ana Silva · Haircut · pending" in digest
    assert "set per chat conversation" in await dialog.say("digest 07:30")
    assert "hasn't started yet" in await dialog.say(f"noshow {booking_id}")
    assert services.clock.now() < datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    services.clock.advance(hours=6)  # type: ignore[attr-defined]
    card = await dialog.say(f"#{booking_id}")
    assert f"[noshow {booking_id}]" in card and f"[complete {booking_id}]" in card
    assert f"#{booking_id} marked a no-show" in await dialog.say(f"noshow {booking_id}")


async def test_the_owner_moves_a_booking_and_sees_where_it_went(
    services: Services, business: Business, dialog: Dialog
) -> None:
    booking_id = await book(services, business)
    card = await dialog.say(f"#{booking_id}")
    assert f"[move {booking_id} YYYY-MM-DD HH:MM]" in card
    moved = " ".join((await dialog.say(f"move {booking_id} 2026-12-08 15:00")).split())
    assert (
        f"#{booking_id} moved from Wed 25 Nov 2026, 15:00 EST to Tue 8 Dec 2026, 15:00 EST" in moved
    )
    assert "Tue 8 Dec 2026, 15:00–15:45 EST" in moved
    refused = await dialog.say(f"move {booking_id} 2026-11-01 10:00")
    assert "The start time is in the past." in refused
    history = " ".join((await dialog.say(f"#{booking_id}")).split())
    assert "moved from Wed 25 Nov 15:00 to Tue 8 Dec 15:00 EST by" in history
