"""The chat layer end to end, through the real database and an in-process platform: linking,
alerts in every linked conversation, actions from cards, every copy redrawn, races, bursts,
retries, restarts and conversations that are gone."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.app import Services, build_services
from bot.chat.dispatcher import ChatDispatcher, ChatSettings
from bot.chat.sending import SendFailed
from bot.mail.dispatcher import Dispatcher, DispatchSettings
from bot.mail.transport import SmtpTransport
from bot.settings import Settings
from core.cards import ActionId, Card
from core.chat import Acted, Content, Conversation, ConversationKey, Person, Platform, ReasonPrompt
from core.clock import FixedClock
from core.lifecycle import MoveOutcome, Status
from core.model import Business, Channel
from core.notifications import DeliveryStatus, MailKind
from core.replies import BookingCard, Problem, RefundMarked
from storage import migrate
from storage.tables import booking_history, chat_messages, conversation_log, outbox
from tests.chat_platform import FakePlatform
from tests.conftest import PAGE, _migrated, _plum_salon, _truncate, new_booking
from tests.integration.test_outages import fill, small_disk
from tests.smtp_server import SmtpServer

SALON = ConversationKey(Platform.SLACK, "T1", "C-salon")
FRONT_DESK = ConversationKey(Platform.SLACK, "T1", "C-front")
RILEY = Person("U1", "Riley")
SAM = Person("U2", "Sam")
START = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 10:00 in New York


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


@pytest.fixture
def dispatcher(services: Services, platform: FakePlatform) -> ChatDispatcher:
    return ChatDispatcher(
        services.outbox,
        services.conversations,
        services.chat,
        {Platform.SLACK: platform},
        services.clock,
    )


async def link(services: Services, business: Business, key: ConversationKey) -> None:
    code = await services.chat.issue_link_code(business.id)
    linked = await services.chat.link(key, RILEY, code, title=f"#{key.chat_id}")
    assert linked.ok, linked.text


async def book(services: Services, business: Business, n: int = 1, name: str = "Ana Silva") -> int:
    booking, _ = await services.desk.intake(
        business, new_booking(name=name, start=START + timedelta(hours=n), txn=f"T{n}"), PAGE
    )
    return booking.id


def tap(card: Card, action: ActionId) -> str:
    (found,) = [a for a in card.actions if a.id is action]
    return found.value


async def count(services: Services, table: object, *where: object) -> int:
    query = select(func.count()).select_from(table)  # type: ignore[arg-type]
    if where:
        query = query.where(*where)  # type: ignore[arg-type]
    return int(await services.db.read(lambda conn: conn.execute(query).scalar_one()))


# Linking


async def test_a_code_links_one_conversation_once(services: Services, business: Business) -> None:
    code = await services.chat.issue_link_code(business.id)
    assert len(code) >= 16 and set(code) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    )
    linked = await services.chat.link(SALON, RILEY, code)
    assert linked.ok and "now linked to “Plum Salon”" in linked.text
    used = await services.chat.link(FRONT_DESK, SAM, code)
    assert not used.ok and "That code doesn't work" in used.text
    assert await services.chat.business_of(FRONT_DESK) is None
    logged = await services.db.read(
        lambda conn: conn.execute(
            select(conversation_log.c.action, conversation_log.c.actor_id)
        ).all()
    )
    assert [tuple(r) for r in logged] == [("linked", "U1")]


async def test_unknown_expired_and_malformed_codes_get_one_answer(
    services: Services, business: Business
) -> None:
    expired = await services.chat.issue_link_code(business.id)
    services.clock.advance(hours=24, seconds=1)  # type: ignore[attr-defined]
    answers = {
        (await services.chat.link(SALON, RILEY, code)).text
        for code in (expired, "A" * 24, "not a code!", "", "x" * 65)
    }
    assert len(answers) == 1 and "That code doesn't work" in answers.pop()
    assert await services.chat.business_of(SALON) is None


async def test_a_conversation_belongs_to_one_business_until_unlinked(
    services: Services, business: Business, other_business: Business
) -> None:
    await link(services, business, SALON)
    code = await services.chat.issue_link_code(other_business.id)
    refused = await services.chat.link(SALON, SAM, code)
    assert not refused.ok and "already linked to “Plum Salon”" in refused.text
    assert "/bookings disconnect" in refused.text
    unlinked = await services.chat.unlink(SALON, SAM)
    assert unlinked.ok and "no longer linked to “Plum Salon”" in unlinked.text
    relinked = await services.chat.link(SALON, SAM, code)  # the refused code was not spent
    assert relinked.ok and "Kiwi Tutors" in relinked.text


async def test_an_unlinked_conversation_is_told_how_to_link_whatever_it_asks(
    services: Services, business: Business
) -> None:
    booking_id = await book(services, business)
    for reply in (
        await services.chat.command(SALON, SAM, "today"),
        await services.chat.tap(SALON, SAM, f"confirm:{booking_id}:pending"),
    ):
        assert isinstance(reply, Problem) and "isn't linked to a business" in reply.text
    assert (await services.desk.booking(business, booking_id)).status is Status.PENDING


# Alerts and actions


async def test_a_new_booking_is_posted_once_in_every_linked_conversation(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    booking_id = await book(services, business)
    await dispatcher.drain()
    await dispatcher.drain()
    for chat in ("C-salon", "C-front"):
        (post,) = platform.posted_to(chat)
        assert post.content.headline == f"New booking #{booking_id}"
        assert "Ana Silva · Haircut · Thu 26 Nov 2026, 11:00–11:45 EST" in post.text
        assert "US$45.00 paid via PayPal (transaction T1)" in post.text
        card = post.content.card
        assert card is not None
        assert [a.id for a in card.actions] == [
            ActionId.CONFIRM,
            ActionId.CANCEL,
            ActionId.RESCHEDULE,
            ActionId.DETAILS,
        ]
    assert await count(services, chat_messages) == 2


async def test_an_action_from_a_card_redraws_every_copy(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    await book(services, business)
    await dispatcher.drain()
    card = platform.posted_to("C-salon")[0].content.card
    assert card is not None
    acted = await services.chat.tap(SALON, RILEY, tap(card, ActionId.CONFIRM))
    assert isinstance(acted, Acted) and acted.ok and acted.card is not None
    assert acted.card.status is Status.CONFIRMED
    assert [a.id for a in acted.card.actions][:2] == [ActionId.COMPLETE, ActionId.CANCEL]
    await dispatcher.drain()
    for chat in ("C-salon", "C-front"):
        (edit,) = platform.edited_in(chat)
        assert edit.ref == platform.posted_to(chat)[0].ref
        assert "Confirmed by Riley via Slack · Wed 25 Nov 2026, 09:00 EST" in edit.text
    history = await services.db.read(
        lambda conn: conn.execute(
            select(
                booking_history.c.actor_name, booking_history.c.actor_id, booking_history.c.channel
            ).where(booking_history.c.to_status == "confirmed")
        ).all()
    )
    assert [tuple(r) for r in history] == [("Riley", "U1", "slack")]


async def test_a_double_tap_changes_nothing_the_second_time(
    services: Services, business: Business
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business)
    value = f"confirm:{booking_id}:pending"
    first = await services.chat.tap(SALON, RILEY, value)
    second = await services.chat.tap(SALON, RILEY, value)
    assert isinstance(first, Acted) and isinstance(second, Acted)
    assert "already confirmed. Nothing changed." in second.text
    assert await count(services, booking_history, booking_history.c.to_status == "confirmed") == 1


async def test_a_race_between_two_conversations_has_one_winner_and_the_other_is_told(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    booking_id = await book(services, business)
    await dispatcher.drain()
    # Riley confirms while Sam finishes a cancel, both on the pending card, at once.
    confirmed, cancelled = await asyncio.gather(
        services.chat.tap(SALON, RILEY, f"confirm:{booking_id}:pending"),
        services.chat.cancel(FRONT_DESK, SAM, booking_id, Status.PENDING, "no"),
    )
    assert isinstance(confirmed, Acted) and isinstance(cancelled, Acted)
    assert [confirmed.ok, cancelled.ok].count(True) == 1
    winner, loser = (confirmed, cancelled) if confirmed.ok else (cancelled, confirmed)
    final = (await services.desk.booking(business, booking_id)).status
    assert winner.card is not None and winner.card.status is final
    assert loser.card is not None and loser.card.status is final
    assert f"was {final.value} a moment ago by" in loser.text
    assert await count(services, booking_history, booking_history.c.from_status == "pending") == 1
    # A tap on the pending card once it has moved on changes nothing either.
    late = await services.chat.tap(FRONT_DESK, SAM, f"cancel:{booking_id}:pending")
    assert isinstance(late, Acted) and not late.ok
    assert (await services.desk.booking(business, booking_id)).status is final


async def test_cancel_asks_for_a_reason_then_leads_to_the_refund_and_records_it(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business)
    asked = await services.chat.tap(SALON, RILEY, f"cancel:{booking_id}:pending")
    assert isinstance(asked, ReasonPrompt) and asked.limit == 500
    assert f"Cancel #{booking_id} (Ana Silva · Haircut" in asked.question
    too_long = await services.chat.cancel(SALON, RILEY, booking_id, asked.drawn, "x" * 501)
    assert isinstance(too_long, Problem) and "under 500 characters" in too_long.text
    assert (await services.desk.booking(business, booking_id)).status is Status.PENDING
    done = await services.chat.cancel(SALON, RILEY, booking_id, asked.drawn, "  ill  ")
    assert isinstance(done, Acted) and done.ok and done.card is not None
    assert "https://www.paypal.com/activity/payment/T1" in done.text
    assert done.card.refund is not None and "Cancelling does not refund" in done.card.refund
    assert [a.id for a in done.card.actions] == [ActionId.REFUND_ISSUED, ActionId.DETAILS]
    await dispatcher.drain()
    platform.posts.clear()

    marked = await services.chat.tap(SALON, SAM, tap(done.card, ActionId.REFUND_ISSUED))
    again = await services.chat.tap(SALON, SAM, tap(done.card, ActionId.REFUND_ISSUED))
    assert isinstance(marked, Acted) and marked.ok and marked.card is not None
    assert (
        marked.card.refund is not None
        and "Refund marked issued by Sam via Slack" in marked.card.refund
    )
    assert [a.id for a in marked.card.actions] == [ActionId.DETAILS]
    assert isinstance(again, Acted) and "already marked refunded" in again.text
    booking = await services.desk.booking(business, booking_id)
    assert booking.status is Status.CANCELLED and booking.payment.status.value == "refunded"
    assert booking.cancellation is not None and booking.cancellation.reason == "ill"
    await dispatcher.drain()
    (notice,) = platform.posts
    assert notice.content.notice is not None
    assert f"#{booking_id} refund marked issued by Sam via Slack" in notice.content.notice
    (edit,) = platform.edits[-1:]
    assert "Refund marked issued by Sam via Slack" in edit.text
    typed = await services.chat.command(SALON, SAM, f"refunded {booking_id}")
    assert isinstance(typed, RefundMarked) and typed.outcome is MoveOutcome.ALREADY


async def test_taps_that_are_forged_or_for_another_business_s_booking_change_nothing(
    services: Services, business: Business, other_business: Business
) -> None:
    await link(services, business, SALON)
    theirs, _ = await services.desk.intake(other_business, new_booking(txn="K1"), PAGE)
    for value in (
        f"confirm:{theirs.id}:pending",
        "confirm:999999:pending",
        "confirm:1:nonsense",
        "drop:1:pending",
        "x" * 300,
        None,
        {"booking": 1},
    ):
        reply = await services.chat.tap(SALON, RILEY, value)
        assert isinstance(reply, Problem), value
    assert (await services.desk.booking(other_business, theirs.id)).status is Status.PENDING
    forged = await services.chat.tap(SALON, RILEY, f"confirm:{theirs.id}:pending")
    unknown = await services.chat.tap(SALON, RILEY, "confirm:999999:pending")
    assert isinstance(forged, Problem) and isinstance(unknown, Problem)
    assert forged.text.replace(str(theirs.id), "N") == unknown.text.replace("999999", "N")


async def test_details_open_the_full_card_with_history(
    services: Services, business: Business
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business)
    reply = await services.chat.tap(SALON, RILEY, f"details:{booking_id}:pending")
    assert isinstance(reply, BookingCard)
    assert any(f.value == "ana@example.com" for f in reply.card.fields)
    assert reply.card.history[0].startswith("Wed 25 Nov 2026, 09:00 EST: created as pending by")


async def test_a_customer_cancellation_is_posted_as_a_notice_and_redraws_the_card(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business)
    await dispatcher.drain()
    await services.desk.customer_cancel(business, booking_id, "sick", Channel.API)
    await dispatcher.drain()
    (_, notice) = platform.posted_to("C-salon")
    assert notice.content.notice is not None
    assert (
        f"#{booking_id} cancelled by Ana Silva (customer) via the booking page"
        in notice.content.notice
    )
    assert "“sick”" in notice.content.notice
    (edit,) = platform.edited_in("C-salon")
    assert "Cancelled by Ana Silva (customer) via the booking page" in edit.text


# Durable delivery


async def test_a_burst_of_forty_bookings_is_forty_cards_in_booking_order(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    ids = [await book(services, business, n, name=f"Guest {n}") for n in range(1, 41)]
    await dispatcher.drain()
    posted = [p.content.card.booking_id for p in platform.posted_to("C-salon") if p.content.card]
    assert posted == ids


async def test_rate_limits_and_server_errors_are_retried_in_order_and_never_doubled(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    ids = [await book(services, business, n, name=f"Guest {n}") for n in range(1, 6)]
    platform.rate_limited("C-salon", 30)
    await dispatcher.drain()
    assert platform.posts == []  # the first was refused; the rest wait behind it
    waiting = [
        d
        for d in await services.outbox.listing([DeliveryStatus.PENDING])
        if d.recipient.startswith("slack")
    ]
    assert [(d.kind.value, d.recipient) for d in waiting] == [("chat.card", "slack:C-salon")] * 5
    assert waiting[0].last_error == "ratelimited"
    services.clock.advance(seconds=29)  # type: ignore[attr-defined]
    await dispatcher.drain()
    assert platform.posts == []
    services.clock.advance(seconds=1)  # type: ignore[attr-defined]
    platform.answer_next("C-salon")
    platform.posts.clear()
    await dispatcher.drain()
    posted = [p.content.card.booking_id for p in platform.posts if p.content.card]
    assert posted == ids
    # A server error: retried with backoff, within a minute.
    platform.server_error("C-salon")
    late = await book(services, business, 6)
    await dispatcher.drain()
    assert len(platform.posts) == 5
    services.clock.advance(seconds=61)  # type: ignore[attr-defined]
    await dispatcher.drain()
    assert [p.content.card.booking_id for p in platform.posts if p.content.card][-1] == late
    assert len(platform.posts) == 6


async def test_deliveries_pending_at_a_restart_go_out_after_it(
    services: Services, business: Business, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business)
    # A dispatcher that claimed the delivery and died: its lease runs out.
    dead = ChatDispatcher(
        services.outbox, services.conversations, services.chat, {Platform.SLACK: platform},
        services.clock, name="dead",
    )  # fmt: skip
    claimed = await services.outbox.claim_chat(
        "dead", services.clock.now(), dead.settings.lease, 10, ["slack"]
    )
    assert len(claimed) == 1
    restarted = ChatDispatcher(
        services.outbox, services.conversations, services.chat, {Platform.SLACK: platform},
        services.clock, name="restarted",
    )  # fmt: skip
    await restarted.drain()
    assert platform.posts == []  # still leased to the dead one
    services.clock.advance(seconds=61)  # type: ignore[attr-defined]
    await restarted.drain()
    (post,) = platform.posts
    assert post.content.card is not None and post.content.card.booking_id == booking_id


async def test_a_conversation_that_is_gone_gets_nothing_more_and_the_owner_is_told(
    services: Services,
    business: Business,
    platform: FakePlatform,
    dispatcher: ChatDispatcher,
    smtp: SmtpServer,
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    platform.gone("C-front")
    await book(services, business, 1)
    await dispatcher.drain()
    await book(services, business, 2)
    await dispatcher.drain()
    assert platform.posted_to("C-front") == []
    salon = platform.posted_to("C-salon")
    notices = [p.content.notice for p in salon if p.content.notice]
    assert len(notices) == 1
    assert "can no longer post to #C-front on Slack (channel_not_found)" in notices[0]
    assert len([p for p in salon if p.content.card]) == 2
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none")
    sender = Dispatcher(
        services.outbox, transport, services.clock, DispatchSettings(mail_from="b@plum.example")
    )
    await sender.run_once()
    await transport.close()
    (email,) = smtp.mailbox.of_kind(MailKind.CHAT_UNREACHABLE.value)
    assert email["To"] == "Plum Salon <owner@plum.example>"
    assert "Alerts can't reach #C-front on Slack" in email["Subject"]
    body = email.get_body(("plain",))
    assert body is not None and "juneplum business link-code 1" in body.get_content()
    # Linked again with a new code, it gets alerts again.
    await link(services, business, FRONT_DESK)
    await book(services, business, 3)
    await dispatcher.drain()
    assert len(platform.posted_to("C-front")) == 1


async def test_an_email_that_failed_for_good_is_a_notice_in_chat(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    await book(services, business)
    (mail, *_) = await services.outbox.claim(
        "sender", services.clock.now(), timedelta(seconds=30), 1
    )
    await services.outbox.mark_failed(mail, "sender", "550 No such user", services.clock.now())
    await dispatcher.drain()
    notices = [p.content.notice for p in platform.posts if p.content.notice]
    assert len(notices) == 1
    assert "Email to Ana Silva failed" in notices[0] and "550 No such user" in notices[0]


@pytest.fixture
async def postgres_services(
    postgres_url: str, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Services]:
    """Several instances deliver at once only on PostgreSQL (SQLite serialises writers)."""
    await _truncate(postgres_url)
    async for built in _migrated(postgres_url, clock, tmp_path):
        yield built


async def test_two_dispatchers_send_five_hundred_deliveries_each_once(
    postgres_services: Services, platform: FakePlatform
) -> None:
    services = postgres_services
    business = await _plum_salon(services)
    keys = [ConversationKey(Platform.SLACK, "T1", f"C{i}") for i in range(10)]
    for key in keys:
        await link(services, business, key)
    for n in range(1, 51):
        await book(services, business, n, name=f"Guest {n}")
    assert await count(services, outbox, outbox.c.channel == "chat") == 500
    first, second = (
        ChatDispatcher(
            services.outbox, services.conversations, services.chat,
            {Platform.SLACK: platform}, services.clock, ChatSettings(lanes=4, per_lane=5),
            name=name,
        )
        for name in ("first", "second")
    )  # fmt: skip
    platform.delay = 0.002  # a platform takes a moment to answer: the work overlaps
    started = await first.tick()  # the first instance is busy with its lanes ...
    by_second, by_first = await asyncio.gather(second.drain(), first.drain())
    sent = [by_first + started, by_second]  # ... when the second looks
    assert len(platform.posts) == 500
    assert all(n > 0 for n in sent), sent  # both instances delivered
    assert (
        len({(p.chat_id, p.content.card.booking_id) for p in platform.posts if p.content.card})
        == 500
    )
    for key in keys:
        posted = [
            p.content.card.booking_id for p in platform.posted_to(key.chat_id) if p.content.card
        ]
        assert posted == sorted(posted)


# What a review found, each seen failing before its fix.


def dispatcher_for(services: Services, platform: FakePlatform, lanes: int = 32) -> ChatDispatcher:
    return ChatDispatcher(
        services.outbox, services.conversations, services.chat, {Platform.SLACK: platform},
        services.clock, ChatSettings(lanes=lanes),
    )  # fmt: skip


async def test_lanes_waiting_on_a_retry_never_keep_a_ready_conversation_waiting(
    services: Services, business: Business, platform: FakePlatform
) -> None:
    waiting = dispatcher_for(services, platform, lanes=2)
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    await book(services, business, 1)
    platform.rate_limited("C-salon", 600)
    platform.rate_limited("C-front", 600)
    await waiting.drain()
    await book(services, business, 2)  # due behind heads that wait 600 s
    third = ConversationKey(Platform.SLACK, "T1", "C-third")
    await link(services, business, third)
    await book(services, business, 3)
    await waiting.drain()
    assert [p.content.card.booking_id for p in platform.posted_to("C-third") if p.content.card]


class RelinkedAfterFirstPost(FakePlatform):
    """The conversation is unlinked and linked to another business while its lane runs."""

    def __init__(self, then: Any) -> None:
        super().__init__()
        self.then = then

    async def post(self, conversation: Conversation, content: Content) -> str:
        ref = await super().post(conversation, content)
        if self.then is not None:
            then, self.then = self.then, None
            await then()
        return ref


async def test_a_conversation_unlinked_mid_lane_gets_nothing_more_of_that_business(
    services: Services, business: Business, other_business: Business
) -> None:
    async def relink_elsewhere() -> None:
        await services.chat.unlink(SALON, RILEY)
        await link(services, other_business, SALON)

    platform = RelinkedAfterFirstPost(relink_elsewhere)
    await link(services, business, SALON)
    for n in range(1, 4):
        await book(services, business, n)
    await dispatcher_for(services, platform).drain()
    assert len(platform.posted_to("C-salon")) == 1
    assert (await services.chat.business_of(SALON)).name == "Kiwi Tutors"  # type: ignore[union-attr]


class Poison(FakePlatform):
    """A card this code can't send (a bug): it must not hold its conversation for ever."""

    async def post(self, conversation: Conversation, content: Content) -> str:
        if content.card is not None and content.card.summary.startswith("Guest 1 "):
            raise ValueError("a bug drawing this card")
        return await super().post(conversation, content)


async def test_a_delivery_that_keeps_failing_backs_off_and_fails_alone(
    services: Services, business: Business
) -> None:
    platform = Poison()
    sender = dispatcher_for(services, platform)
    await link(services, business, SALON)
    for n in range(1, 4):
        await book(services, business, n, name=f"Guest {n}")
    for _ in range(26):
        await sender.drain()
        services.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert len(platform.posted_to("C-salon")) == 2
    failed = await services.outbox.listing([DeliveryStatus.FAILED])
    assert [f.kind.value for f in failed] == ["chat.card"]
    assert failed[0].last_error == "ValueError"


async def test_gone_again_for_an_unreachable_conversation_is_skipped_not_retried(
    services: Services, business: Business, platform: FakePlatform, dispatcher: ChatDispatcher
) -> None:
    await link(services, business, SALON)
    platform.answer_next("C-salon", SendFailed("bad blocks", permanent=True))
    await book(services, business, 1)
    await dispatcher.drain()
    platform.gone("C-salon")
    await book(services, business, 2)
    await dispatcher.drain()
    (failed,) = await services.outbox.listing([DeliveryStatus.FAILED])
    assert await services.outbox.retry(failed.id, services.clock.now())
    await dispatcher.drain()
    assert platform.posts == []
    assert [
        d for d in await services.outbox.listing([DeliveryStatus.PENDING]) if d.id == failed.id
    ] == []


class FillsTheDisk(FakePlatform):
    """The disk fills as the platform accepts the first card."""

    def __init__(self, disk: Path) -> None:
        super().__init__()
        self.disk = disk
        self.filler: Path | None = None

    async def post(self, conversation: Conversation, content: Content) -> str:
        ref = await super().post(conversation, content)
        if self.filler is None:
            self.filler = fill(self.disk)
        return ref


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
async def test_a_full_disk_never_doubles_a_card_whose_mark_could_not_be_written(
    clock: FixedClock, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "small", "16m") as disk:
        settings = Settings(database_url=f"sqlite:///{disk / 'juneplum.db'}", _env_file=None)
        platform = FillsTheDisk(disk)
        services = build_services(settings, clock=clock, senders={Platform.SLACK: platform})
        try:
            await migrate.upgrade(services.db)
            business = await _plum_salon(services)
            await link(services, business, SALON)
            await book(services, business)
            with contextlib.suppress(OperationalError):
                await services.chat_dispatcher.drain()
            for _ in range(3):  # the claim's lease runs out, and out again: still full
                clock.advance(seconds=70)
                with contextlib.suppress(OperationalError):
                    await services.chat_dispatcher.drain()
            assert platform.filler is not None
            platform.filler.unlink()  # space again
            clock.advance(seconds=70)
            await services.chat_dispatcher.drain()
            sent = await services.outbox.listing([DeliveryStatus.SENT])
            shown = await services.conversations.messages(1, 1)
        finally:
            await services.aclose()
    assert len(platform.posts) == 1  # the card once
    assert [d.kind.value for d in sent if d.recipient.startswith("slack")] == ["chat.card"]
    assert shown == [platform.posts[0].ref]  # and its message is recorded, to be redrawn
