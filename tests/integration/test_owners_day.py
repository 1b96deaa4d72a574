"""The owner's day end to end, through the real database, the planner, the chat dispatcher and
an in-process platform, with the injected clock: close-out prompts at the right minute and
grouped, nudges once each, the morning digest on the days the clocks change, and downtime."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, select, text

from bot.app import Services, build_services
from bot.chat.dispatcher import ChatDispatcher
from bot.settings import Settings
from core.cards import ActionId
from core.chat import Acted, ConversationKey, Person, Platform
from core.clock import FixedClock
from core.lifecycle import Move, Status
from core.model import Business, PaymentStatus, Provider
from core.replies import Problem
from storage import migrate
from storage.migrate import alembic_config
from storage.tables import outbox
from tests.chat_platform import FakePlatform, Sent
from tests.conftest import OWNER, PAGE, _migrated, _plum_salon, new_booking

SALON = ConversationKey(Platform.SLACK, "T1", "C-salon")
FRONT_DESK = ConversationKey(Platform.SLACK, "T1", "C-front")
RILEY = Person("U1", "Riley")
START = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thu 10:00 in New York


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


def clock_of(services: Services) -> FixedClock:
    assert isinstance(services.clock, FixedClock)
    return services.clock


def set_clock(services: Services, when: datetime) -> None:
    clock = clock_of(services)
    clock.advance(seconds=(when - clock.now()).total_seconds())


async def link(services: Services, business: Business, key: ConversationKey) -> None:
    code = await services.chat.issue_link_code(business.id)
    assert (await services.chat.link(key, RILEY, code, title=f"#{key.chat_id}")).ok


async def book(
    services: Services, business: Business, start: datetime, txn: str, name: str = "Ana Silva"
) -> int:
    booking, _ = await services.desk.intake(
        business, new_booking(name=name, start=start, txn=txn), PAGE
    )
    return booking.id


async def queued(services: Services, kind: str) -> list[tuple[int, str]]:
    query = (
        select(outbox.c.conversation_id, outbox.c.dedupe_key)
        .where(outbox.c.kind == kind)
        .order_by(outbox.c.id)
    )
    return [tuple(r) for r in await services.db.read(lambda c: c.execute(query).all())]


async def delivered(
    services: Services, dispatcher: ChatDispatcher, platform: FakePlatform
) -> list[Sent]:
    """Plan at the clock's minute, deliver, and return what was posted."""
    before = len(platform.posts)
    await services.owners_day.plan(services.clock.now())
    await dispatcher.drain()
    return platform.posts[before:]


# Close-out


async def test_close_out_prompts_come_15_minutes_after_the_end_grouped_and_once(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    first = await book(services, business, START, "A")  # 10:00-10:45 EST
    second = await book(services, business, START + timedelta(minutes=10), "B")  # ends 10:55
    later = await book(services, business, START + timedelta(hours=2), "C")  # ends 12:45
    await services.desk.act(business, first, Move.CONFIRM, OWNER)
    await dispatcher.drain()  # the cards

    set_clock(services, START + timedelta(minutes=59))  # 10:59: the first ends at 10:45
    assert [p for p in await delivered(services, dispatcher, platform) if p.content.prompt] == []
    set_clock(services, START + timedelta(minutes=60))  # 11:00: 15 minutes after its end
    (prompt,) = await delivered(services, dispatcher, platform)
    assert prompt.content.prompt is not None
    assert prompt.content.prompt.question == f"Did these happen? #{first}, #{second}"
    assert prompt.content.prompt.booking_ids == (first, second)
    labels = [[a.label for a in i.actions] for i in prompt.content.prompt.items]
    assert labels == [["Completed", "No-show"], ["Completed", "No-show"]]
    set_clock(services, START + timedelta(minutes=75))  # the second's own minute: asked already
    assert await delivered(services, dispatcher, platform) == []
    set_clock(services, START + timedelta(hours=3))  # 13:00: the third, on its own
    (third,) = await delivered(services, dispatcher, platform)
    assert third.content.prompt is not None
    assert third.content.prompt.question == f"Did #{later} happen?"
    assert await queued(services, "chat.closeout") == [
        (1, f"closeout:1:{first}:20261126T1545"),
        (1, f"closeout:1:{later}:20261126T1745"),
    ]


async def test_answering_a_prompt_anywhere_redraws_it_everywhere(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    first = await book(services, business, START, "A")
    second = await book(services, business, START + timedelta(minutes=5), "B")
    await dispatcher.drain()
    set_clock(services, START + timedelta(minutes=61))
    posted = await delivered(services, dispatcher, platform)
    assert {p.chat_id for p in posted} == {"C-salon", "C-front"}
    prompt = posted[0].content.prompt
    assert prompt is not None
    (no_show,) = [a for a in prompt.items[0].actions if a.id is ActionId.NO_SHOW]
    acted = await services.chat.tap(SALON, RILEY, no_show.value)
    assert isinstance(acted, Acted) and acted.ok
    assert (await services.desk.booking(business, first)).status is Status.NO_SHOW
    await dispatcher.drain()
    redrawn = [e for e in platform.edits if e.content.prompt is not None]
    assert {e.chat_id for e in redrawn} == {"C-salon", "C-front"}
    for edit in redrawn:
        assert edit.content.prompt is not None
        done, still = edit.content.prompt.items
        assert done.booking_id == first and done.actions == ()
        assert done.status_line.startswith("No-show by Riley via Slack")
        assert still.booking_id == second and [a.label for a in still.actions] == [
            "Completed",
            "No-show",
        ]
    # A stale button on the other copy changes nothing and says who got there first.
    again = await services.chat.tap(FRONT_DESK, RILEY, no_show.value)
    assert isinstance(again, Acted) and "already marked a no-show" in again.text


async def test_a_pending_booking_is_completed_from_its_prompt(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business, START, "A")
    set_clock(services, START + timedelta(minutes=60))
    (prompt,) = [p for p in await delivered(services, dispatcher, platform) if p.content.prompt]
    assert prompt.content.prompt is not None
    (complete,) = [a for a in prompt.content.prompt.items[0].actions if a.label == "Completed"]
    acted = await services.chat.tap(SALON, RILEY, complete.value)
    assert isinstance(acted, Acted) and acted.ok, acted
    assert (await services.desk.booking(business, booking_id)).status is Status.COMPLETED


async def test_a_booking_closed_before_its_minute_gets_no_prompt(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business, START, "A")
    set_clock(services, START + timedelta(minutes=50))
    await services.desk.act(business, booking_id, Move.COMPLETE, OWNER)
    set_clock(services, START + timedelta(minutes=60))
    assert [p for p in await delivered(services, dispatcher, platform) if p.content.prompt] == []


# No-shows


async def test_a_no_show_is_legal_only_from_the_start_and_sends_the_customer_nothing(
    services: Services, business: Business
) -> None:
    booking_id = await book(services, business, START, "A")
    early = await services.desk.handle(business.id, f"noshow {booking_id}", OWNER)
    assert "hasn't started yet" in getattr(early, "text", "")
    set_clock(services, START)
    await services.desk.handle(business.id, f"noshow {booking_id}", OWNER)
    assert (await services.desk.booking(business, booking_id)).status is Status.NO_SHOW
    kinds = await services.db.read(
        lambda c: c.execute(select(outbox.c.kind).where(outbox.c.channel == "mail")).all()
    )
    assert sorted(k for (k,) in kinds) == ["created", "owner-new-booking"]


# Nudges


async def test_a_pending_booking_is_nudged_once_then_once_more_two_hours_before(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    start = START + timedelta(days=1)  # Fri 10:00 EST; booked Wed 09:00 EST
    booking_id = await book(services, business, start, "A")
    await dispatcher.drain()
    set_clock(services, datetime(2026, 11, 25, 15, 59, tzinfo=UTC))
    assert await delivered(services, dispatcher, platform) == []
    set_clock(services, datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # two hours after it came
    (nudge,) = await delivered(services, dispatcher, platform)
    assert nudge.content.headline == f"#{booking_id} is still waiting for your confirmation"
    assert nudge.content.card is not None and nudge.content.card.booking_id == booking_id
    for minutes in (1, 60, 24 * 60):  # no more until two hours before the start
        set_clock(services, datetime(2026, 11, 25, 16, 0, tzinfo=UTC) + timedelta(minutes=minutes))
        assert await delivered(services, dispatcher, platform) == []
    set_clock(services, start - timedelta(hours=2))  # Fri 08:00 EST: with the digest
    (last,) = [p for p in await delivered(services, dispatcher, platform) if p.content.card]
    assert last.content.card is not None and last.content.card.booking_id == booking_id
    set_clock(services, start - timedelta(minutes=30))
    assert await delivered(services, dispatcher, platform) == []
    assert [k for _, k in await queued(services, "chat.nudge")] == [
        f"nudge:1:{booking_id}:1",
        f"nudge:1:{booking_id}:2",
    ]


async def test_a_nudge_for_a_booking_confirmed_meanwhile_is_never_sent(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business, START + timedelta(days=1), "A")
    await dispatcher.drain()
    set_clock(services, datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    await services.owners_day.plan(services.clock.now())  # queued...
    await services.desk.act(business, booking_id, Move.CONFIRM, OWNER)  # ...then confirmed
    await dispatcher.drain()
    assert [p for p in platform.posts if "still waiting" in p.content.headline] == []
    set_clock(services, START + timedelta(days=1, hours=-2))  # Fri 08:00 EST: the digest only
    assert [p for p in await delivered(services, dispatcher, platform) if p.content.card] == []


async def test_two_planners_at_the_same_minute_queue_each_notice_once(
    services: Services,
    business: Business,
    database_url: str,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    for n in range(5):
        await book(services, business, START + timedelta(hours=n), f"N{n}")
    set_clock(services, datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    async for other in _migrated(database_url, clock, tmp_path / "other"):
        for _ in range(3):
            await asyncio.gather(
                services.owners_day.plan(clock.now()), other.owners_day.plan(clock.now())
            )
    keys = [k for _, k in await queued(services, "chat.nudge")]
    assert len(keys) == len(set(keys)) == 10  # 5 bookings x 2 conversations
    set_clock(services, START + timedelta(hours=5))  # all ended: one prompt per conversation
    async for other in _migrated(database_url, clock, tmp_path / "again"):
        await asyncio.gather(
            services.owners_day.plan(clock.now()), other.owners_day.plan(clock.now())
        )
    assert len(await queued(services, "chat.closeout")) == 2


# The morning digest


async def test_the_digest_comes_at_08_00_local_with_the_day_in_order(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    late = await book(services, business, START + timedelta(hours=3), "A", name="Bo Chen")
    early = await book(services, business, START, "B")
    ahead = await book(services, business, START + timedelta(days=3), "C", name="Cy Dee")
    await services.desk.act(business, early, Move.CONFIRM, OWNER)
    await services.desk.act(business, late, Move.CONFIRM, OWNER)
    await dispatcher.drain()
    set_clock(services, datetime(2026, 11, 26, 12, 59, tzinfo=UTC))  # 07:59 EST
    await delivered(services, dispatcher, platform)
    assert [
        p for p in platform.posts if p.content.notice and "Good morning" in p.content.notice
    ] == []
    set_clock(services, datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 08:00 EST
    digests = [p for p in await delivered(services, dispatcher, platform) if p.content.notice]
    (digest,) = [d for d in digests if "Good morning" in (d.content.notice or "")]
    text = digest.content.notice or ""
    assert "Plum Salon, Thu 26 Nov 2026" in text
    assert text.index(f"10:00 #{early}") < text.index(f"13:00 #{late}")
    assert f"#{ahead}" in text.split("Still waiting for your confirmation")[1]
    set_clock(services, datetime(2026, 11, 26, 13, 1, tzinfo=UTC))
    assert await delivered(services, dispatcher, platform) == []
    assert [k for _, k in await queued(services, "chat.digest")] == ["digest:1:2026-11-26"]


async def test_a_day_with_nothing_sends_nothing(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    set_clock(services, datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    assert await delivered(services, dispatcher, platform) == []


@pytest.mark.parametrize(
    ("day", "eight_local", "an_hour_off"),
    [
        # Spring forward: 08:00 EDT is 12:00 UTC (13:00 UTC would be 09:00 EDT).
        (datetime(2027, 3, 14, tzinfo=UTC), datetime(2027, 3, 14, 12, 0, tzinfo=UTC), 13),
        # Fall back: 08:00 EST is 13:00 UTC (12:00 UTC would be 07:00 EST).
        (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC), 12),
    ],
)
async def test_the_digest_is_at_08_00_local_on_the_mornings_the_clocks_change(
    services: Services,
    business: Business,
    dispatcher: ChatDispatcher,
    platform: FakePlatform,
    day: datetime,
    eight_local: datetime,
    an_hour_off: int,
) -> None:
    await link(services, business, SALON)
    set_clock(services, day - timedelta(days=3))
    booking_id = await book(services, business, day + timedelta(hours=16), "A")  # that day
    await dispatcher.drain()
    if an_hour_off < eight_local.hour:  # the wrong hour comes first: nothing then
        set_clock(services, eight_local - timedelta(hours=1))
        assert not [p for p in await delivered(services, dispatcher, platform) if p.content.notice]
    set_clock(services, eight_local - timedelta(minutes=1))
    assert not [p for p in await delivered(services, dispatcher, platform) if p.content.notice]
    set_clock(services, eight_local)
    (digest,) = [p for p in await delivered(services, dispatcher, platform) if p.content.notice]
    assert f"#{booking_id}" in (digest.content.notice or "")
    set_clock(services, day.replace(hour=an_hour_off))
    assert not [p for p in await delivered(services, dispatcher, platform) if p.content.notice]


async def test_the_digest_time_is_set_per_conversation_and_can_be_turned_off(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    await link(services, business, FRONT_DESK)
    await book(services, business, START, "A")
    said = await services.chat.command(SALON, RILEY, "/bookings digest 07:30")
    assert "07:30" in getattr(said, "text", "")
    said = await services.chat.command(FRONT_DESK, RILEY, "digest off")
    assert "off" in getattr(said, "text", "")
    bad = await services.chat.command(SALON, RILEY, "digest 25:00")
    assert "digest 07:30" in getattr(bad, "text", "")
    await dispatcher.drain()
    set_clock(services, datetime(2026, 11, 26, 12, 30, tzinfo=UTC))  # 07:30 EST
    (digest,) = [p for p in await delivered(services, dispatcher, platform) if p.content.notice]
    assert digest.chat_id == "C-salon" and "Good morning" in (digest.content.notice or "")
    set_clock(services, datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 08:00: not in the other
    assert [p for p in await delivered(services, dispatcher, platform) if p.content.notice] == []


async def test_refunds_owed_over_three_days_are_named_daily_even_with_the_digest_off(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    await services.chat.command(SALON, RILEY, "digest off")
    old = await book(services, business, START + timedelta(days=10), "A")
    recent = await book(services, business, START + timedelta(days=10, hours=2), "B")
    await services.desk.act(business, old, Move.CANCEL, OWNER, "flu")
    await dispatcher.drain()
    set_clock(services, datetime(2026, 11, 28, 13, 0, tzinfo=UTC))  # 3 days less an hour
    await services.desk.act(business, recent, Move.CANCEL, OWNER, "moved away")  # 2 days by Mon
    assert await delivered(services, dispatcher, platform) == []
    set_clock(services, datetime(2026, 11, 30, 13, 0, tzinfo=UTC))  # Mon 08:00 EST
    (nudge,) = await delivered(services, dispatcher, platform)
    text = nudge.content.notice or ""
    assert text.startswith("Refunds owed for more than 3 days (1):")
    assert f"#{old}" in text and f"#{recent}" not in text and "owed 4 days" in text
    set_clock(services, datetime(2026, 11, 30, 13, 5, tzinfo=UTC))
    assert await delivered(services, dispatcher, platform) == []


# Downtime


async def test_after_downtime_a_late_nudge_goes_and_a_stale_digest_is_skipped(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    # Booked Wed 09:00 EST for Fri 10:00: its nudge falls due Wed 11:00 EST.
    booking_id = await book(services, business, START + timedelta(days=1), "A")
    await dispatcher.drain()
    # Down from Wed 10:30 EST to Thu 10:30 EST: the nudge is late but still useful; Thursday's
    # 08:00 digest would be 2.5 hours late and is skipped.
    set_clock(services, datetime(2026, 11, 26, 15, 30, tzinfo=UTC))
    posted = await delivered(services, dispatcher, platform)
    assert [p.content.headline for p in posted] == [
        f"#{booking_id} is still waiting for your confirmation"
    ]
    assert await queued(services, "chat.digest") == []


async def test_a_digest_queued_but_delivered_over_two_hours_late_is_skipped(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    await book(services, business, START, "A")
    await dispatcher.drain()
    set_clock(services, datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await services.owners_day.plan(services.clock.now())  # queued at 08:00...
    set_clock(services, datetime(2026, 11, 26, 15, 1, tzinfo=UTC))  # ...the sender back at 10:01
    await dispatcher.drain()
    assert [p for p in platform.posts if "Good morning" in (p.content.notice or "")] == []
    status = await services.db.read(
        lambda c: c.execute(select(outbox.c.status).where(outbox.c.kind == "chat.digest")).all()
    )
    assert [s for (s,) in status] == ["skipped"]


# The migration


async def test_a_downgrade_leaves_what_the_older_code_reads_and_upgrades_again(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    missed = await book(services, business, START, "A")
    await book(services, business, START + timedelta(minutes=5), "B")
    set_clock(services, START + timedelta(hours=1))
    await delivered(services, dispatcher, platform)  # a prompt showing both
    await services.desk.act(business, missed, Move.NO_SHOW, OWNER)
    await services.chat.command(SALON, RILEY, "digest 07:30")
    await services.db.write(lambda conn: command.downgrade(alembic_config(conn), "0006"))

    def old_rows(conn: Connection) -> tuple[list[str], list[str], int]:
        statuses = conn.execute(text("SELECT status FROM bookings ORDER BY id")).scalars().all()
        kinds = conn.execute(text("SELECT DISTINCT kind FROM events")).scalars().all()
        shown = conn.execute(text("SELECT count(*) FROM chat_messages")).scalar_one()
        return list(statuses), sorted(kinds), int(shown)

    statuses, kinds, shown = await services.db.read(old_rows)
    assert statuses == ["confirmed", "pending"]
    assert "booking.no_show" not in kinds
    assert shown == 2  # the two cards; the prompt's rows are gone
    await migrate.upgrade(services.db)
    assert (await services.desk.booking(business, missed)).status is Status.CONFIRMED


# Under the real scheduler


async def test_the_running_service_plans_the_day_and_delivers_the_digest(
    database_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    platform = FakePlatform()
    settings = Settings(database_url=database_url, mail_dir=tmp_path / "mail", _env_file=None)
    running = build_services(settings, clock=clock, senders={Platform.SLACK: platform})
    await migrate.upgrade(running.db)
    try:
        business = await _plum_salon(running)
        await link(running, business, SALON)
        await book(running, business, START, "A")
        set_clock(running, datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 08:00 EST
        running.background.start()  # the planner runs at once, then every minute
        try:
            for _ in range(100):
                if any("Good morning" in (p.content.notice or "") for p in platform.posts):
                    break
                await asyncio.sleep(0.05)
        finally:
            await running.background.stop(grace_seconds=5)
        (digest,) = [p for p in platform.posts if "Good morning" in (p.content.notice or "")]
        assert digest.chat_id == "C-salon" and "10:00 #1 Ana Silva" in (digest.content.notice or "")
    finally:
        await running.aclose()


async def test_the_digest_names_yesterday_s_open_appointments_and_refunds_owed(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    open_one = await book(services, business, START, "A")  # Thu 10:00, never closed out
    closed = await book(services, business, START + timedelta(hours=2), "B", name="Bo Chen")
    refund = await book(services, business, START + timedelta(days=3), "C", name="Cy Dee")
    await services.desk.act(business, refund, Move.CANCEL, OWNER, "moved away")
    set_clock(services, START + timedelta(hours=3))
    await services.desk.act(business, closed, Move.COMPLETE, OWNER)
    set_clock(services, datetime(2026, 11, 27, 13, 0, tzinfo=UTC))  # Fri 08:00 EST
    (digest,) = [p for p in await delivered(services, dispatcher, platform) if p.content.notice]
    text = digest.content.notice or ""
    assert "Plum Salon, Fri 27 Nov 2026" in text and "Today" not in text
    refunds = text.split("Refunds owed (1):")[1]
    assert f"#{refund} Cy Dee · US$45.00 · owed 1 day" in refunds
    not_closed = text.split("Yesterday, not closed out")[1]
    assert f"10:00 #{open_one} Ana Silva · Haircut · pending" in not_closed
    assert f"#{closed}" not in text


async def test_only_a_paid_booking_is_nudged_cash_due_at_the_appointment_is_not(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    start = START + timedelta(days=1)
    paid = await book(services, business, start, "PAID")
    cash = new_booking(name="Bea Costa", start=start, txn="CASH-1", provider=Provider.CASH)
    due, _ = await services.desk.intake(
        business, replace(cash, payment=replace(cash.payment, status=PaymentStatus.DUE)), PAGE
    )
    assert due.payment.status is PaymentStatus.DUE
    await dispatcher.drain()
    for at in (datetime(2026, 11, 25, 16, 0, tzinfo=UTC), start - timedelta(hours=2)):
        set_clock(services, at)
        await delivered(services, dispatcher, platform)
    nudged = [p.content.card.booking_id for p in platform.posts if "still waiting" in
              p.content.headline and p.content.card]  # fmt: skip
    assert nudged == [paid, paid]
    keys = [k for _, k in await queued(services, "chat.nudge")]
    assert keys == [f"nudge:1:{paid}:1", f"nudge:1:{paid}:2"]


async def test_a_booking_moved_after_its_prompt_is_asked_about_again_after_its_new_end(
    services: Services, business: Business, dispatcher: ChatDispatcher, platform: FakePlatform
) -> None:
    await link(services, business, SALON)
    booking_id = await book(services, business, START, "A")  # 10:00-10:45 EST
    await services.desk.act(business, booking_id, Move.CONFIRM, OWNER)
    set_clock(services, START + timedelta(minutes=60))
    (prompt,) = [p for p in await delivered(services, dispatcher, platform) if p.content.prompt]
    assert prompt.content.prompt is not None
    (complete,) = [a for a in prompt.content.prompt.items[0].actions if a.label == "Completed"]

    # Moved to Sat 10:00 after the prompt was sent: its buttons go, and a stale one is refused.
    new_start = START + timedelta(days=2)
    await services.desk.reschedule(business, booking_id, new_start, OWNER)
    await dispatcher.drain()
    (redrawn,) = [e for e in platform.edits if e.content.prompt is not None]
    assert redrawn.content.prompt is not None
    assert [i.actions for i in redrawn.content.prompt.items] == [()]
    stale = await services.chat.tap(SALON, RILEY, complete.value, closing_out=True)
    assert isinstance(stale, Problem)
    assert "was moved and hasn't ended yet" in stale.text
    assert (await services.desk.booking(business, booking_id)).status is Status.CONFIRMED

    set_clock(services, new_start + timedelta(minutes=59))
    assert [p for p in await delivered(services, dispatcher, platform) if p.content.prompt] == []
    set_clock(services, new_start + timedelta(minutes=60))  # 15 minutes after its new end
    (again,) = [p for p in await delivered(services, dispatcher, platform) if p.content.prompt]
    assert again.content.prompt is not None
    assert again.content.prompt.question == f"Did #{booking_id} happen?"
    assert [a.label for a in again.content.prompt.items[0].actions] == ["Completed", "No-show"]
    assert await queued(services, "chat.closeout") == [
        (1, f"closeout:1:{booking_id}:20261126T1545"),
        (1, f"closeout:1:{booking_id}:20261128T1545"),
    ]


async def test_downgrading_0010_leaves_no_reschedule_the_older_code_cant_read(
    services: Services, business: Business
) -> None:
    booking_id = await book(services, business, START, "A")
    await services.desk.reschedule(business, booking_id, START + timedelta(days=2), OWNER)
    await services.db.write(lambda conn: command.downgrade(alembic_config(conn), "0009"))

    def old_rows(conn: Connection) -> tuple[list[str], list[str | None], list[str]]:
        kinds = conn.execute(text("SELECT kind FROM events ORDER BY id")).scalars().all()
        notes = conn.execute(text("SELECT note FROM booking_history")).scalars().all()
        mail = conn.execute(text("SELECT kind FROM outbox WHERE channel = 'mail'")).scalars()
        return list(kinds), list(notes), sorted(mail.all())

    kinds, notes, mail = await services.db.read(old_rows)
    assert kinds == ["booking.created"]
    assert notes == [None]
    assert "rescheduled" not in mail and "created" in mail
    await migrate.upgrade(services.db)
    moved = await services.desk.booking(business, booking_id)
    assert moved.start_at == START + timedelta(days=2) and moved.reschedules == ()
