"""The Telegram adapter through its webhook: real-shaped updates posted over HTTP to the served
app, the bot's requests answered and recorded by a local Bot API (tests.telegram_api), the
outcome read from those calls and from the database. What the owner did; what Telegram was
sent."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.chat import Content, Person
from core.clock import FixedClock
from core.lifecycle import Status
from core.model import Business
from storage.tables import booking_history, conversations, outbox
from tests.conftest import _kiwi_tutors, _plum_salon
from tests.integration.http_server import serving
from tests.telegram_api import (
    BOT_USERNAME,
    NOT_MODIFIED,
    SLACK_KEY,
    FakeBotApi,
    Served,
    message,
    removed,
    served,
    tap,
    user,
)

OWNER_CHAT = 501  # Riley's private chat with the bot
GROUP = -1001  # the salon's front-desk group
SAM = user(222, "Sam", "Lee")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    async with serving(fake.app) as url:
        fake.url = url
        yield fake
        await fake.close()


@pytest.fixture
async def bot(
    database_url: str, clock: FixedClock, tmp_path: Path, api: FakeBotApi
) -> AsyncIterator[Served]:
    async with served(database_url, clock, tmp_path, api) as running:
        yield running


@pytest.fixture
async def salon(bot: Served) -> Business:
    return await _plum_salon(bot.services)


async def card_in(bot: Served, chat_id: int, business: Business, n: int = 1) -> tuple[int, int]:
    """A new booking, delivered to a linked chat: (booking id, the card's message id)."""
    booking_id = await bot.book(business, n)
    await bot.deliver()
    posted = [c for c in bot.api.called("sendMessage", chat_id) if f"#{booking_id}" in c.text]
    assert posted, bot.api.methods()
    return booking_id, max(k[1] for k in bot.api.messages if k[0] == chat_id)


async def count(bot: Served, table: object, *where: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    if where:
        query = query.where(*where)  # type: ignore[arg-type]
    return int(await bot.services.db.read(lambda conn: conn.execute(query).scalar_one()))


# Set-up


async def test_serve_registers_the_commands_and_its_webhook_with_the_secret(bot: Served) -> None:
    (commands,) = bot.api.called("setMyCommands")
    names = [c["command"] for c in commands.params["commands"]]
    assert {"bookings", "today", "pending", "search", "calendar"} <= set(names)
    assert all(c["description"] for c in commands.params["commands"])
    (webhook,) = bot.api.called("setWebhook")
    assert webhook.params["url"] == f"{bot.url}/telegram/webhook"
    assert webhook.params["secret_token"] == "webhook-secret-for-tests-0123456789"
    assert bot.api.methods()[0] == "getMe"


async def test_a_request_without_the_right_secret_gets_403_and_is_not_read(
    bot: Served, salon: Business
) -> None:
    code = await bot.services.chat.issue_link_code(salon.id)
    update = message(OWNER_CHAT, f"/start {code}")
    for secret in (None, "", "wrong-secret-0123456789", "webhook-secret-for-tests-012345678"):
        assert (await bot.post(update, secret=secret)).status_code == 403
    await bot.settled()
    assert bot.api.called("sendMessage") == []
    assert await count(bot, conversations) == 0
    assert (await bot.post({"not": "an update"})).status_code == 400
    assert (await bot.post(update)).status_code == 200  # the genuine one still links


# Linking and alerts


async def test_start_with_a_code_links_the_chat_and_each_new_booking_arrives_as_a_card(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    (linked,) = bot.api.called("sendMessage", OWNER_CHAT)
    assert "now linked to “Plum Salon”" in linked.text
    booking_id = await bot.book(salon, name="<b>Ana</b> & Co")
    await bot.deliver()
    (_, card) = bot.api.called("sendMessage", OWNER_CHAT)
    assert card.params["parse_mode"] == "HTML"
    assert f"<b>New booking #{booking_id}</b>" in card.text
    assert (
        "&lt;b&gt;Ana&lt;/b&gt; &amp; Co · Haircut · Thu 26 Nov 2026, 11:00–11:45 EST" in card.text
    )
    assert "US$45.00 paid via PayPal (transaction T1)" in card.text
    assert "Pending — waiting for your confirmation" in card.text
    assert card.buttons == [
        [("Confirm", f"confirm:{booking_id}:pending"), ("Cancel", f"cancel:{booking_id}:pending")],
        [
            ("Reschedule", f"reschedule:{booking_id}:pending"),
            ("View details", f"details:{booking_id}:pending"),
        ],
    ]
    assert all(len(data.encode()) <= 64 for row in card.buttons for _, data in row)


async def test_a_deep_link_with_a_used_code_is_refused_and_unlink_stops_the_alerts(
    bot: Served, salon: Business
) -> None:
    code = await bot.services.chat.issue_link_code(salon.id)
    await bot.send(message(OWNER_CHAT, f"/start {code}"), message(GROUP, f"/start {code}"))
    assert "That code doesn't work" in bot.api.called("sendMessage", GROUP)[-1].text
    await bot.send(message(OWNER_CHAT, "/unlink"))
    assert "no longer linked to “Plum Salon”" in bot.api.called("sendMessage", OWNER_CHAT)[-1].text
    await bot.book(salon)
    await bot.deliver()
    assert len(bot.api.called("sendMessage", OWNER_CHAT)) == 2  # linked, unlinked: no card


# Buttons


async def test_confirm_answers_with_a_toast_and_redraws_the_card_recording_who(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, GROUP)
    booking_id, card = await card_in(bot, GROUP, salon)
    await bot.send(tap(GROUP, card, f"confirm:{booking_id}:pending", sender=SAM))
    (toast,) = bot.api.called("answerCallbackQuery")
    assert toast.params["text"].startswith(f"#{booking_id} confirmed: Ana Silva · Haircut")
    (edit,) = bot.api.called("editMessageText", GROUP)
    assert edit.params["message_id"] == card
    assert "Confirmed by Sam Lee via Telegram" in edit.text
    assert edit.labels == ["Mark as completed", "Cancel", "Reschedule", "View details"]
    history = await bot.services.db.read(
        lambda conn: conn.execute(
            select(booking_history.c.actor_name, booking_history.c.actor_id).where(
                booking_history.c.to_status == "confirmed"
            )
        ).all()
    )
    assert [tuple(r) for r in history] == [("Sam Lee", "222")]
    await bot.deliver()  # the chat layer redraws the same message: "not modified" is no error
    assert await count(bot, outbox, outbox.c.status == "failed") == 0


async def test_cancel_asks_for_a_reason_then_shows_the_refund_and_refund_issued_is_recorded(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    await bot.send(tap(OWNER_CHAT, card, f"cancel:{booking_id}:pending"))
    (asked,) = bot.api.called("answerCallbackQuery")
    assert "Reply with a reason" in asked.params["text"]
    (skip_or_keep,) = bot.api.called("editMessageReplyMarkup", OWNER_CHAT)
    assert skip_or_keep.labels == ["Cancel without a reason", "Don't cancel"]
    question = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert question.params["reply_markup"]["force_reply"] is True
    assert f"Cancel #{booking_id} (Ana Silva · Haircut" in question.text
    question_id = max(k[1] for k in bot.api.messages if k[0] == OWNER_CHAT)

    await bot.send(message(OWNER_CHAT, "ill", reply_to=question_id + 100))  # not our question
    assert "That question has expired" in bot.api.called("sendMessage", OWNER_CHAT)[-1].text
    await bot.send(message(OWNER_CHAT, "x" * 501, reply_to=question_id))
    assert "under 500 characters" in bot.api.called("sendMessage", OWNER_CHAT)[-1].text
    assert (await bot.services.desk.booking(salon, booking_id)).status is Status.PENDING
    await bot.send(message(OWNER_CHAT, "Stylist is ill <sorry>", reply_to=question_id))
    done = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert f"#{booking_id} cancelled" in done.text
    assert "https://www.paypal.com/activity/payment/T1" in done.text
    (redrawn,) = bot.api.called("editMessageText", OWNER_CHAT)
    assert redrawn.params["message_id"] == card
    assert "Cancelled by Riley Park via Telegram" in redrawn.text
    assert "“Stylist is ill &lt;sorry&gt;”" in redrawn.text
    assert "Cancelling does not refund" in redrawn.text
    assert redrawn.labels == ["Refund issued", "View details"]

    await bot.send(tap(OWNER_CHAT, card, redrawn.data_of("Refund issued")))
    assert "refund marked issued" in bot.api.called("answerCallbackQuery")[-1].params["text"]
    assert "Refund marked issued by Riley Park via Telegram" in (
        bot.api.called("editMessageText", OWNER_CHAT)[-1].text
    )
    booking = await bot.services.desk.booking(salon, booking_id)
    assert booking.cancellation is not None and booking.cancellation.reason == (
        "Stylist is ill <sorry>"
    )
    assert booking.payment.status.value == "refunded"
    await bot.send(message(OWNER_CHAT, f"/bookings #{booking_id}"))
    assert ": refund marked issued by Riley Park via Telegram" in (
        bot.api.called("sendMessage", OWNER_CHAT)[-1].text
    )


async def test_cancel_without_a_reason_and_dont_cancel(bot: Served, salon: Business) -> None:
    await bot.link(salon, OWNER_CHAT)
    first, first_card = await card_in(bot, OWNER_CHAT, salon, 1)
    second, second_card = await card_in(bot, OWNER_CHAT, salon, 2)
    await bot.send(tap(OWNER_CHAT, first_card, f"cancel:{first}:pending"))
    skip = bot.api.called("editMessageReplyMarkup")[-1].data_of("Cancel without a reason")
    await bot.send(tap(OWNER_CHAT, first_card, skip))
    assert (await bot.services.desk.booking(salon, first)).status is Status.CANCELLED
    assert "Refund issued" in bot.api.called("editMessageText", OWNER_CHAT)[-1].labels

    await bot.send(tap(OWNER_CHAT, second_card, f"cancel:{second}:pending"))
    keep = bot.api.called("editMessageReplyMarkup")[-1].data_of("Don't cancel")
    await bot.send(tap(OWNER_CHAT, second_card, keep))
    assert bot.api.called("answerCallbackQuery")[-1].params["text"].startswith("Not cancelled")
    restored = bot.api.called("editMessageText", OWNER_CHAT)[-1]
    assert restored.labels == ["Confirm", "Cancel", "Reschedule", "View details"]
    assert (await bot.services.desk.booking(salon, second)).status is Status.PENDING


async def test_a_double_tap_changes_nothing_the_second_time_and_says_so(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    value = f"confirm:{booking_id}:pending"
    await bot.send(tap(OWNER_CHAT, card, value), tap(OWNER_CHAT, card, value))
    toasts = [c.params["text"] for c in bot.api.called("answerCallbackQuery")]
    assert len(toasts) == 2
    assert sum("already confirmed. Nothing changed." in t for t in toasts) == 1
    assert len(bot.api.called("editMessageText", OWNER_CHAT)) == 2  # both show it as it is
    assert await count(bot, booking_history, booking_history.c.to_status == "confirmed") == 1


async def test_an_update_delivered_twice_is_handled_once(bot: Served, salon: Business) -> None:
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    update = tap(OWNER_CHAT, card, f"confirm:{booking_id}:pending")
    assert (await bot.post(update)).status_code == 200
    assert (await bot.post(update)).status_code == 200  # Telegram retried: still a 2xx
    await bot.settled()
    assert len(bot.api.called("answerCallbackQuery")) == 1
    assert await count(bot, booking_history, booking_history.c.to_status == "confirmed") == 1


async def test_forged_oversized_and_malformed_buttons_are_answered_and_change_nothing(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    theirs = await _kiwi_tutors(bot.services)
    other_id = await bot.book(theirs, 5)
    forged = [
        f"confirm:{other_id}:pending",  # another business's booking
        "confirm:999999:pending",  # no such booking
        "confirm:" + "9" * 80 + ":pending",  # over 64 bytes
        "x" * 300,
        "confirm:1:nonsense",
        "cx:abc",
        "v:confirm 1",  # an action disguised as a view
        "v:" + "today " * 20,
        "",
    ]
    taps = [tap(OWNER_CHAT, card, data) for data in forged]
    await bot.send(*taps)
    assert len(bot.api.called("answerCallbackQuery")) == len(forged)  # every one answered
    toasts = [bot.api.answer_to(t) for t in taps]
    assert all(t for t in toasts[:-1])  # with words (a blank button: a blank answer)
    assert toasts[0].replace(str(other_id), "N") == toasts[1].replace("999999", "N")
    assert bot.api.called("editMessageText") == []
    assert (await bot.services.desk.booking(salon, booking_id)).status is Status.PENDING
    assert (await bot.services.desk.booking(theirs, other_id)).status is Status.PENDING


async def test_a_stranger_gets_one_polite_refusal_whatever_it_asks(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    stranger = 9009
    asks = [
        message(stranger, f"/bookings #{booking_id}"),
        message(stranger, "/bookings #999999"),
        message(stranger, "/today"),
        message(stranger, "/unlink"),
        message(stranger, "/start"),
        message(stranger, "/whatever"),
        message(stranger, f"confirm {booking_id}"),
    ]
    await bot.send(*asks)
    said = [c.text for c in bot.api.called("sendMessage", stranger)]
    assert len(said) == len(asks) and len(set(said)) == 1
    assert "isn't linked to a business yet" in said[0] and "/start" in said[0]
    await bot.send(tap(stranger, card, f"confirm:{booking_id}:pending"))
    refusal = html.unescape(said[0].replace("<code>", "").replace("</code>", ""))
    assert bot.api.called("answerCallbackQuery")[-1].params["text"] == refusal
    assert (await bot.services.desk.booking(salon, booking_id)).status is Status.PENDING
    assert bot.api.called("editMessageText") == []


async def test_a_race_with_slack_has_one_winner_and_each_side_sees_the_other(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    code = await bot.services.chat.issue_link_code(salon.id)
    assert (await bot.services.chat.link(SLACK_KEY, Person("U1", "Jo"), code)).ok
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    (slack_card,) = bot.slack.posted_to("C-salon")
    assert slack_card.content.card is not None
    # Jo confirms in Slack while Riley's Telegram card still shows the booking pending.
    won = await bot.services.chat.tap(
        SLACK_KEY, Person("U1", "Jo"), f"confirm:{booking_id}:pending"
    )
    assert getattr(won, "ok", False)
    await bot.send(tap(OWNER_CHAT, card, f"cancel:{booking_id}:pending"))
    toast = bot.api.called("answerCallbackQuery")[-1].params["text"]
    assert f"#{booking_id} was confirmed a moment ago by Jo via Slack" in toast
    assert "Confirmed by Jo via Slack" in bot.api.called("editMessageText", OWNER_CHAT)[-1].text
    assert (await bot.services.desk.booking(salon, booking_id)).status is Status.CONFIRMED
    # And a change made in Telegram redraws the Slack copy.
    await bot.send(tap(OWNER_CHAT, card, f"complete:{booking_id}:confirmed"))
    await bot.deliver()
    assert "Completed by Riley Park via Telegram" in bot.slack.edited_in("C-salon")[-1].text


# Commands


async def test_commands_list_bookings_compactly_with_pages(bot: Served, salon: Business) -> None:
    await bot.link(salon, OWNER_CHAT)
    for n in range(1, 24):
        await bot.book(salon, n, name=f"Guest {n} <vip>")
    await bot.send(message(OWNER_CHAT, "/pending"))
    listed = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert "<b>Pending bookings — Plum Salon</b>" in listed.text
    assert "<b>#1</b>" in listed.text and "Guest 1 &lt;vip&gt;" in listed.text
    assert "Showing 1–20 of 23" in listed.text
    assert listed.buttons == [[("Next ›", "v:pending page 2")]]
    page_two = max(k[1] for k in bot.api.messages if k[0] == OWNER_CHAT)
    await bot.send(tap(OWNER_CHAT, page_two, "v:pending page 2"))
    shown = bot.api.called("editMessageText", OWNER_CHAT)[-1]
    assert "Showing 21–23 of 23" in shown.text
    assert shown.buttons == [[("‹ Previous", "v:pending page 1")]]
    for typed in (
        f"/search@{BOT_USERNAME} guest 7",
        "/bookings 2026-11-26..2026-11-27",
        "/bookings tommorow",
        "/help",
    ):
        await bot.send(message(OWNER_CHAT, typed))
    search, days, typo, helped = [c.text for c in bot.api.called("sendMessage", OWNER_CHAT)[-4:]]
    assert "Search “guest 7”" in search and "Guest 7" in search
    assert "Showing 1–20 of 23" in days
    assert "Did you mean <code>tomorrow</code>?" in typo
    assert "/today" in helped and "<pre>" in helped
    await bot.send(message(OWNER_CHAT, "#3"))  # in a private chat, the words alone
    details = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert "<b>#3 — Plum Salon</b>" in details.text and "ana@example.com" in details.text


async def test_the_calendar_counts_each_day_and_a_tap_lists_that_day(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    for n in (1, 2, 30):  # 26 Nov 11:00, 12:00 EST; 27 Nov 16:00 EST
        await bot.book(salon, n)
    await bot.send(message(OWNER_CHAT, "/calendar"))
    grid = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert "November 2026 — bookings per day" in grid.text and "3 active bookings" in grid.text
    labels = grid.labels
    assert "26·2" in labels and "27·1" in labels and "[25]" in labels
    assert grid.data_of("26·2") == "n:2026-11-26"
    assert grid.buttons[0][2] == ("›", "v:calendar 2026-12")
    calendar_message = max(k[1] for k in bot.api.messages if k[0] == OWNER_CHAT)
    await bot.send(tap(OWNER_CHAT, calendar_message, "n:2026-11-26"))
    day = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert "<b>2026-11-26 — Plum Salon</b>" in day.text and day.text.count("Ana Silva") == 2
    await bot.send(tap(OWNER_CHAT, calendar_message, "v:calendar 2026-12"))
    moved = bot.api.called("editMessageText", OWNER_CHAT)[-1]
    assert "December 2026" in moved.text and moved.params["message_id"] == calendar_message
    await bot.send(tap(OWNER_CHAT, calendar_message, "noop"))
    assert len(bot.api.called("answerCallbackQuery")) == 3


# Sending


async def test_a_blocked_bot_marks_the_chat_unreachable_and_the_owner_is_told(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    await bot.link(salon, GROUP)
    bot.api.fail_next(
        "sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=OWNER_CHAT
    )
    await bot.book(salon)
    await bot.deliver()
    assert await count(bot, conversations, conversations.c.unreachable_at.is_not(None)) == 1
    mails = await count(bot, outbox, outbox.c.kind == "chat-unreachable")
    assert mails == 1
    assert any("can no longer post to" in c.text for c in bot.api.called("sendMessage", GROUP))
    await bot.book(salon, 2)
    await bot.deliver()
    assert len(bot.api.called("sendMessage", OWNER_CHAT)) == 2  # linked; the refused card


async def test_being_removed_from_a_group_marks_it_unreachable(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    await bot.link(salon, GROUP)
    await bot.send(removed(GROUP))
    assert await count(bot, conversations, conversations.c.unreachable_at.is_not(None)) == 1
    assert await count(bot, outbox, outbox.c.kind == "chat-unreachable") == 1
    await bot.deliver()
    notice = bot.api.called("sendMessage", OWNER_CHAT)[-1]
    assert "the bot was removed from the chat" in notice.text
    assert bot.api.called("sendMessage", GROUP)[-1].text.startswith("This conversation is now")


async def test_an_edit_that_changes_nothing_is_not_an_error(bot: Served, salon: Business) -> None:
    await bot.link(salon, OWNER_CHAT)
    booking_id, card = await card_in(bot, OWNER_CHAT, salon)
    bot.api.fail_next("editMessageText", 400, NOT_MODIFIED)
    await bot.send(tap(OWNER_CHAT, card, f"confirm:{booking_id}:pending"))
    assert "confirmed" in bot.api.called("answerCallbackQuery")[-1].params["text"]
    bot.api.fail_next("editMessageText", 400, NOT_MODIFIED)
    await bot.deliver()
    chat_rows = outbox.c.channel == "chat"
    assert await count(bot, outbox, chat_rows, outbox.c.status != "sent") == 0


async def test_a_burst_under_rate_limits_gives_every_booking_one_card_in_each_chat_in_order(
    bot: Served, salon: Business, clock: FixedClock
) -> None:
    await bot.link(salon, OWNER_CHAT)
    await bot.link(salon, GROUP)
    for chat in (OWNER_CHAT, GROUP):
        bot.api.fail_next(
            "sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3, chat_id=chat
        )
    ids = [await bot.book(salon, n, name=f"Guest {n}") for n in range(1, 26)]
    await bot.deliver()
    for _ in range(3):
        clock.advance(seconds=3)
        await bot.deliver()
    for chat in (OWNER_CHAT, GROUP):
        cards = [re.search(r"New booking #(\d+)", c.text) for c in bot.api.delivered(chat)]
        assert [int(found.group(1)) for found in cards if found] == ids
    assert len(bot.api.called("sendMessage")) == 2 + 2 * 25 + 2  # links, cards, two refused
    assert await count(bot, outbox, outbox.c.channel == "chat", outbox.c.status != "sent") == 0


async def test_the_whole_bot_sends_at_most_thirty_messages_a_second(
    bot: Served, salon: Business
) -> None:
    await bot.link(salon, OWNER_CHAT)
    (conversation,) = await bot.services.conversations.linked(salon.id)
    content = Content(notice="ping")
    began = time.monotonic()
    await asyncio.gather(*(bot.surface.sender.post(conversation, content) for _ in range(31)))
    assert time.monotonic() - began >= 1.0  # 31 sends: 30 gaps of 1/30 s
    assert len(bot.api.delivered(OWNER_CHAT)) == 32


# The owner's day


async def test_a_close_out_prompt_has_buttons_per_booking_and_a_no_show_redraws_it(
    bot: Served, salon: Business, clock: FixedClock
) -> None:
    await bot.link(salon, GROUP)
    first, _ = await card_in(bot, GROUP, salon, 1)  # Thu 11:00-11:45 EST
    later = await bot.book(salon, 2, name="Bo Chen")  # 12:00-12:45 EST
    await bot.deliver()
    clock.advance(hours=27, minutes=50)  # Thu 12:50 EST: both ended, the first 65 min ago
    await bot.services.owners_day.plan(clock.now())
    await bot.deliver()
    (prompt,) = [c for c in bot.api.called("sendMessage", GROUP) if "happen?" in c.text]
    assert f"Did these happen? #{first}, #{later}" in prompt.text
    assert prompt.labels == [
        f"#{first} Completed",
        f"#{first} No-show",
        f"#{later} Completed",
        f"#{later} No-show",
    ]
    message_id = max(k[1] for k in bot.api.messages if k[0] == GROUP)
    await bot.send(tap(GROUP, message_id, prompt.data_of(f"#{first} No-show"), sender=SAM))
    (toast,) = bot.api.called("answerCallbackQuery")
    assert toast.params["text"].startswith(f"#{first} marked a no-show")
    assert (await bot.services.desk.booking(salon, first)).status is Status.NO_SHOW
    await bot.deliver()  # the chat layer redraws the whole prompt
    (edit,) = [c for c in bot.api.called("editMessageText", GROUP) if "happen?" in c.text]
    assert edit.params["message_id"] == message_id
    assert "No-show by Sam Lee via Telegram" in edit.text
    assert edit.labels == [f"#{later} Completed", f"#{later} No-show"]
