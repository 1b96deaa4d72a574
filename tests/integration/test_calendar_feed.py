"""The owner's calendar feed over real HTTP, parsed by icalendar event by event: the window,
the statuses, the invitations' UIDs, no contacts by default, 304 on the ETag, a fresh 200
after a change, and a rotated token answering 404."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import calendar_feed
from bot.app import Services
from bot.server import http_app
from core.calendar import uid
from core.lifecycle import Move
from core.model import Business
from tests.conftest import NOW, OWNER, PAGE, new_booking
from tests.integration.http_server import serving

JUNEPLUM = str(Path(sys.executable).parent / "juneplum")


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    api = http_app(services)
    async with (
        serving(api) as url,
        httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as http,
    ):
        yield http


async def issue(services: Services, business: Business) -> str:
    token = calendar_feed.new_token()
    await services.calendar.feeds.issue(business.id, calendar_feed.token_digest(token), NOW)
    return f"/calendar/{token}.ics"


async def book(services: Services, business: Business, start: datetime, txn: str) -> int:
    made, _ = await services.desk.intake(business, new_booking(start=start, txn=txn), PAGE)
    return made.id


def events(body: bytes) -> dict[str, Any]:
    """The feed's VEVENTs by their SUMMARY's booking ref (#42)."""
    cal = Calendar.from_ical(body)
    return {str(e["SUMMARY"]).split(" ")[0]: e for e in cal.walk("VEVENT")}


async def test_the_feed_shows_pending_and_confirmed_bookings_in_its_window(
    services: Services, business: Business, other_business: Business, client: httpx.AsyncClient
) -> None:
    today = datetime(2026, 11, 25, tzinfo=UTC)
    ahead = await book(services, business, NOW + timedelta(days=2), "T-1")
    confirmed = await book(services, business, NOW + timedelta(days=3), "T-2")
    await services.desk.act(business, confirmed, Move.CONFIRM, OWNER)
    cancelled = await book(services, business, NOW + timedelta(days=4), "T-3")
    await services.desk.act(business, cancelled, Move.CANCEL, OWNER)
    last_in = await book(
        services, business, today + timedelta(days=366) - timedelta(minutes=1), "T-4"
    )
    first_out = await book(services, business, today + timedelta(days=366), "T-5")
    await book(services, other_business, NOW + timedelta(days=2), "T-6")
    # 30 days back: bookings made before the clock moved on.
    services.clock.set(NOW - timedelta(days=40))  # type: ignore[attr-defined]
    back_in = await book(services, business, today - timedelta(days=30), "T-7")
    back_out = await book(services, business, today - timedelta(days=30, minutes=1), "T-8")
    services.clock.set(NOW)  # type: ignore[attr-defined]
    path = await issue(services, business)

    answer = await client.get(path)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    assert answer.headers["etag"].startswith('"')
    cal = Calendar.from_ical(answer.content)
    assert str(cal["X-WR-CALNAME"]) == "Plum Salon bookings"
    shown = events(answer.content)
    assert sorted(shown) == sorted(f"#{i}" for i in (ahead, confirmed, last_in, back_in))
    assert f"#{cancelled}" not in shown and f"#{first_out}" not in shown
    assert f"#{back_out}" not in shown
    pending, sure = shown[f"#{ahead}"], shown[f"#{confirmed}"]
    assert str(pending["STATUS"]) == "TENTATIVE" and str(sure["STATUS"]) == "CONFIRMED"
    assert str(pending["SUMMARY"]) == f"#{ahead} Ana Silva · Haircut (pending)"
    assert str(sure["SUMMARY"]) == f"#{confirmed} Ana Silva · Haircut (confirmed)"
    booking = await services.desk.booking(business, confirmed)
    assert str(sure["UID"]) == uid(booking, "juneplum.localhost")  # the invitations' UID
    assert int(str(sure["SEQUENCE"])) == 1 and int(str(pending["SEQUENCE"])) == 0
    assert sure.decoded("DTSTART") == booking.start_at
    assert sure.decoded("DTEND") == booking.end_at
    assert sure.decoded("LAST-MODIFIED") == NOW
    description = str(sure["DESCRIPTION"])
    assert f"Booking #{confirmed}" in description and "Customer: Ana Silva" in description
    assert "Status: confirmed" in description
    assert "ana@example.com" not in answer.text and "+1" not in answer.text


async def test_contacts_show_only_when_the_business_turns_them_on(
    services: Services, business: Business, client: httpx.AsyncClient
) -> None:
    booking_id = await book(services, business, NOW + timedelta(days=2), "T-1")
    path = await issue(services, business)
    before = await client.get(path)

    await services.calendar.feeds.set_contacts(business.id, True)
    after = await client.get(path, headers={"If-None-Match": before.headers["etag"]})

    assert after.status_code == 200  # the ETag moved with the switch
    description = str(events(after.content)[f"#{booking_id}"]["DESCRIPTION"])
    assert "Email: ana@example.com" in description


async def test_an_unchanged_feed_answers_304_and_a_change_a_fresh_200(
    services: Services, business: Business, other_business: Business, client: httpx.AsyncClient
) -> None:
    booking_id = await book(services, business, NOW + timedelta(days=2), "T-1")
    path = await issue(services, business)
    first = await client.get(path)
    etag = first.headers["etag"]

    same = await client.get(path, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag

    # Another business's change doesn't move this one's ETag; a change of its own does.
    await book(services, other_business, NOW + timedelta(days=2), "T-2")
    other = await client.get(path, headers={"If-None-Match": f'"x", {etag}'})
    assert other.status_code == 304
    await services.desk.handle(business.id, f"move {booking_id} 2026-12-08 15:00", OWNER)
    moved = await client.get(path, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    event = events(moved.content)[f"#{booking_id}"]
    assert event.decoded("DTSTART") == datetime(2026, 12, 8, 20, 0, tzinfo=UTC)
    assert int(str(event["SEQUENCE"])) == 2  # pending 0, one move: 2, as the invitation
    assert event.decoded("DTSTAMP") == NOW

    await services.desk.act(business, booking_id, Move.CANCEL, OWNER)
    gone = await client.get(path, headers={"If-None-Match": moved.headers["etag"]})
    assert gone.status_code == 200 and f"#{booking_id}" not in events(gone.content)


async def test_each_new_day_moves_the_window(
    services: Services, business: Business, client: httpx.AsyncClient
) -> None:
    today = datetime(2026, 11, 25, tzinfo=UTC)
    services.clock.set(NOW - timedelta(days=40))  # type: ignore[attr-defined]
    leaving = await book(services, business, today - timedelta(days=30), "T-1")
    services.clock.set(NOW)  # type: ignore[attr-defined]
    staying = await book(services, business, NOW + timedelta(days=2), "T-2")
    coming = await book(services, business, today + timedelta(days=366), "T-3")
    path = await issue(services, business)
    first = await client.get(path)
    assert sorted(events(first.content)) == sorted(f"#{i}" for i in (leaving, staying))

    services.clock.set(NOW + timedelta(days=1))  # type: ignore[attr-defined]
    later = await client.get(path, headers={"If-None-Match": first.headers["etag"]})

    assert later.status_code == 200
    assert sorted(events(later.content)) == sorted(f"#{i}" for i in (staying, coming))


async def test_the_feed_is_gzipped_for_clients_that_take_it_with_its_own_etag(
    services: Services, business: Business, client: httpx.AsyncClient
) -> None:
    booking_id = await book(services, business, NOW + timedelta(days=2), "T-1")
    path = await issue(services, business)
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    zipped = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx unzips it
    assert f"#{booking_id}" in events(zipped.content)
    assert zipped.headers["etag"] != plain.headers["etag"]
    again = await client.get(
        path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert again.status_code == 304


async def test_a_rotated_token_answers_404_and_the_new_one_works(
    services: Services, business: Business, client: httpx.AsyncClient
) -> None:
    old = await issue(services, business)
    assert (await client.get(old)).status_code == 200
    new = await issue(services, business)

    assert (await client.get(old)).status_code == 404
    assert (await client.get(new)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics",  # well formed, unknown
        "/calendar/short.ics",
        "/calendar/%00%01%02.ics",
        "/calendar/" + "x" * 5000 + ".ics",
        "/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
async def test_unknown_or_malformed_tokens_answer_404(
    services: Services, business: Business, client: httpx.AsyncClient, path: str
) -> None:
    await issue(services, business)
    answer = await client.get(path)
    assert answer.status_code == 404
    assert "Traceback" not in answer.text


def test_the_cli_prints_the_url_once_and_rotates_it(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HTTP_"))}
    env = clean | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PUBLIC_URL": "https://desk.plum.example",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command
            [JUNEPLUM, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    assert run("migrate").returncode == 0
    added = run(
        "business", "add", "--name", "Plum", "--timezone", "Europe/Lisbon",
        "--owner-email", "o@plum.example", "--currency", "EUR",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    first = run("business", "calendar-url", "1")
    again = run("business", "calendar-url", "1")
    rotated = run("business", "calendar-url", "1", "--rotate")
    contacts = run("business", "calendar-url", "1", "--with-contacts")
    missing = run("business", "calendar-url", "99")

    assert first.returncode == 0, first.stderr
    url = next(line for line in first.stdout.splitlines() if line.startswith("https://"))
    assert url.startswith("https://desk.plum.example/calendar/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 22  # at least 128 bits
    assert "can't be shown again" in again.stdout and token not in again.stdout + again.stderr
    new_url = next(line for line in rotated.stdout.splitlines() if line.startswith("https://"))
    assert new_url != url and "old one no longer works" in rotated.stdout
    assert "shows customers' email and phone" in contacts.stdout
    assert missing.returncode == 2 and "no business 99" in missing.stderr


async def test_phones_polling_together_get_one_draw_and_the_same_feed(
    services: Services, business: Business, client: httpx.AsyncClient
) -> None:
    for n in range(20):
        await book(services, business, NOW + timedelta(days=2, hours=n), f"T-{n}")
    path = await issue(services, business)

    answers = await asyncio.gather(*(client.get(path) for _ in range(5)))

    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1 and len({a.headers["etag"] for a in answers}) == 1
    assert len(events(answers[0].content)) == 20


async def test_a_change_committed_after_a_later_one_still_changes_the_feed(
    services: Services, business: Business, client: httpx.AsyncClient, database_url: str
) -> None:
    """PostgreSQL's event ids come from a sequence: a change that took its id first may
    commit after one that took a higher id. A poll between the two commits must not pin
    the feed to a version that never shows the first change."""
    if services.db.dialect != "postgresql":
        pytest.skip("SQLite commits one writer at a time: ids commit in order")
    slow = await book(services, business, NOW + timedelta(days=2), "T-1")
    quick = await book(services, business, NOW + timedelta(days=3), "T-2")
    path = await issue(services, business)
    await client.get(path)

    engine = create_async_engine(make_url(database_url).set(drivername="postgresql+asyncpg"))
    try:
        async with engine.connect() as held:
            await held.begin()  # confirms `slow`: its event id taken, not yet committed
            await held.execute(
                text("UPDATE bookings SET status = 'confirmed', updated_at = :at WHERE id = :id"),
                {"id": slow, "at": NOW},
            )
            await held.execute(
                text(
                    "INSERT INTO events (business_id, booking_id, kind, occurred_at, actor_kind,"
                    " actor_name, channel, data, actor_id) VALUES (:business, :id,"
                    " 'booking.confirmed', :at, 'owner', 'Riley', 'slack', '{}', 'U1')"
                ),
                {"business": business.id, "id": slow, "at": NOW},
            )
            await services.desk.act(business, quick, Move.CONFIRM, OWNER)  # higher id, committed
            between = await client.get(path)
            assert between.status_code == 200
            shown = events(between.content)
            assert str(shown[f"#{slow}"]["STATUS"]) == "TENTATIVE"
            assert str(shown[f"#{quick}"]["STATUS"]) == "CONFIRMED"
            await held.commit()
    finally:
        await engine.dispose()

    after = await client.get(path, headers={"If-None-Match": between.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != between.headers["etag"]
    assert str(events(after.content)[f"#{slow}"]["STATUS"]) == "CONFIRMED"
