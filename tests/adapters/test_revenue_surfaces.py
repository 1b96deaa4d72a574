"""The revenue report as the owner sees it: typed in the console, asked in Telegram."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from bot.app import Services
from core.lifecycle import Move
from core.model import Business, Payment, Provider
from tests.adapters.test_console import Dialog, dialog
from tests.adapters.test_telegram import OWNER_CHAT, api, bot, salon
from tests.conftest import OWNER, PAGE, new_booking
from tests.integration.test_revenue import paid
from tests.telegram_api import Served, message

__all__ = ["api", "bot", "dialog", "salon"]  # fixtures, shared with those tests


async def _two_currencies(services: Services, business: Business) -> None:
    """A completed USD booking, a cancelled-and-refunded JMD one, a pending USD one."""
    start = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    done, _ = await services.desk.intake(business, new_booking(start=start, txn="U1"), PAGE)
    for move in (Move.CONFIRM, Move.COMPLETE):
        await services.desk.act(business, done.id, move, OWNER)
    jmd = paid(start.replace(hour=17), "Massage", "4575.25", "JMD", "J1")
    called_off, _ = await services.desk.intake(business, jmd, PAGE)
    await services.desk.act(business, called_off.id, Move.CANCEL, OWNER)
    await services.desk.refund_issued(business, called_off.id, OWNER)
    later = new_booking(start=start.replace(hour=19), txn="U2")
    more = Payment(Provider.PAYPAL, "U2", Decimal("1045.50"), "USD")
    await services.desk.intake(business, replace(later, payment=more), PAGE)


async def test_the_console_shows_each_currency_s_figures(
    services: Services, business: Business, dialog: Dialog
) -> None:
    await _two_currencies(services, business)
    shown = await dialog.say("revenue")
    assert "Revenue · November 2026 — Plum Salon" in shown
    usd, jmd = shown.split("USD", 1)[1].split("JMD", 1)
    assert "Completed" in usd and "US$45.00 · 1 booking" in usd
    assert "To come: pending" in usd and "US$1,045.50 · 1 booking" in usd
    assert "Refunds issued" in jmd and "J$4,575.25 · 1 booking" in jmd
    assert "Cancelled" in jmd and "Haircut US$1,090.50 (2)" in usd
    assert "Appointments from 1 Nov 2026 to 30 Nov 2026 (America/New_York)" in shown
    refused = await dialog.say("revenue 2026-13")
    assert "isn't a month or a range" in refused


async def test_telegram_sends_the_report_as_one_message(bot: Served, salon: Business) -> None:
    await bot.link(salon, OWNER_CHAT)
    await _two_currencies(bot.services, salon)
    await bot.send(message(OWNER_CHAT, "/revenue 2026-11"))
    sent = bot.api.called("sendMessage", OWNER_CHAT)[-1].text
    assert "<b>Revenue · November 2026 — Plum Salon</b>" in sent
    usd, jmd = sent.split("<b>USD</b>\n", 1)[1].split("<b>JMD</b>\n", 1)
    assert "Completed: US$45.00 · 1 booking\n" in usd
    assert "To come: pending: US$1,045.50 · 1 booking\n" in usd
    assert "Refunds issued: J$4,575.25 · 1 booking" in jmd
    assert "Top services" not in jmd  # a cancelled booking earns nothing
    assert "Top services: Haircut US$1,090.50 (2)" in html.unescape(usd)
