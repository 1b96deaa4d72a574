"""Finding bookings: lists, search, date filters, calendar — the same answers on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert

import storage.search_index
from bot.app import Services, build_services
from bot.settings import Settings
from core.clock import FixedClock
from core.folding import search_text
from core.lifecycle import Move
from core.model import Business
from core.replies import BookingList, CalendarMonth, Problem
from storage import migrate
from storage.tables import bookings
from tests.conftest import OWNER, PAGE, _kiwi_tutors, _plum_salon, new_booking, sql_sent


async def add(
    services: Services, business: Business, name: str, service: str, start: datetime
) -> int:
    """Store a booking as if it had been made two days before it starts."""
    new = new_booking(name=name, service=service, start=start, txn=f"{name}{start}")
    booking, _ = await services.store.create_booking(
        business.id, new, PAGE, start - timedelta(days=2)
    )
    return booking.id


async def listed(services: Services, business: Business, text: str) -> list[str]:
    reply = await services.desk.handle(business.id, text, OWNER)
    assert isinstance(reply, BookingList), reply
    return [b.customer.name for b in reply.page.bookings]


async def test_search_ignores_case_and_accents_in_any_alphabet(
    services: Services, business: Business
) -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    for i, name in enumerate(["Élodie Martin", "Zoë Kowalski", "ZOE Adams", "佐藤 花子", "Ana"]):
        await add(services, business, name, "Haircut", start + timedelta(hours=i))
    assert sorted(await listed(services, business, "search élodie")) == ["Élodie Martin"]
    assert sorted(await listed(services, business, "search ELODIE")) == ["Élodie Martin"]
    assert sorted(await listed(services, business, "zoë")) == ["ZOE Adams", "Zoë Kowalski"]
    assert await listed(services, business, "search 花子") == ["佐藤 花子"]
    assert len(await listed(services, business, "search haircut")) == 5


async def test_percent_and_underscore_are_literal_in_a_search(
    services: Services, business: Business
) -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    await add(services, business, "Ana", "Colour 100% natural", start)
    await add(services, business, "Bo", "Colour 1000 natural", start + timedelta(hours=1))
    await add(services, business, "Cy", "Snake_case tutoring", start + timedelta(hours=2))
    await add(services, business, "Di", "Snakeycase tutoring", start + timedelta(hours=3))
    assert await listed(services, business, "search 100%") == ["Ana"]
    assert await listed(services, business, "search e_c") == ["Cy"]
    reply = await services.desk.handle(business.id, "search %", OWNER)
    assert isinstance(reply, BookingList)
    assert [b.customer.name for b in reply.page.bookings] == ["Ana"]


async def test_a_search_that_finds_nothing_says_so_and_suggests_a_command(
    services: Services, business: Business
) -> None:
    reply = await services.desk.handle(business.id, "tomorow", OWNER)
    assert isinstance(reply, Problem)
    assert "Did you mean `tomorrow`?" in reply.text


async def test_today_means_the_business_s_day_in_its_own_zone(
    services: Services, business: Business
) -> None:
    # Clock: 2026-11-25 14:00 UTC = 09:00 in New York. Today there runs 05:00Z..05:00Z next day.
    await add(services, business, "Early", "Cut", datetime(2026, 11, 25, 5, 0, tzinfo=UTC))
    await add(services, business, "Late", "Cut", datetime(2026, 11, 26, 4, 59, tzinfo=UTC))
    await add(services, business, "Tomorrow", "Cut", datetime(2026, 11, 26, 5, 0, tzinfo=UTC))
    assert await listed(services, business, "today") == ["Early", "Late"]
    assert await listed(services, business, "tomorrow") == ["Tomorrow"]


async def test_date_ranges_and_single_dates_cover_whole_local_days(
    services: Services, business: Business
) -> None:
    await add(services, business, "Mon", "Cut", datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    await add(services, business, "Sun", "Cut", datetime(2026, 12, 6, 15, 0, tzinfo=UTC))
    await add(services, business, "NextMon", "Cut", datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
    assert await listed(services, business, "2026-11-30..2026-12-06") == ["Mon", "Sun"]
    assert await listed(services, business, "2026-12-07") == ["NextMon"]
    assert await listed(services, business, "week") == []
    reply = await services.desk.handle(business.id, "week", OWNER)
    assert isinstance(reply, BookingList)
    assert reply.empty_text == "No bookings in this week."


async def test_a_day_view_across_the_spring_forward_change_holds_the_whole_day(
    services: Services, business: Business
) -> None:
    services.clock.set(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    # 2026-03-08 in New York runs 05:00Z .. 04:00Z next day (23 hours).
    await add(services, business, "Midnight", "Cut", datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    await add(services, business, "LastMinute", "Cut", datetime(2026, 3, 9, 3, 59, tzinfo=UTC))
    await add(services, business, "NextDay", "Cut", datetime(2026, 3, 9, 4, 0, tzinfo=UTC))
    assert await listed(services, business, "2026-03-08") == ["Midnight", "LastMinute"]


async def test_status_views_list_only_that_status(services: Services, business: Business) -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    first = await add(services, business, "One", "Cut", start)
    await add(services, business, "Two", "Cut", start + timedelta(hours=1))
    await services.desk.act(business, first, Move.CONFIRM, OWNER)
    assert await listed(services, business, "pending") == ["Two"]
    assert await listed(services, business, "confirmed") == ["One"]
    assert await listed(services, business, "cancelled") == []


async def test_long_lists_are_paged_with_a_next_page_command(
    services: Services, business: Business
) -> None:
    start = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    for i in range(25):
        await add(services, business, f"C{i:02d}", "Cut", start + timedelta(minutes=15 * i))
    first = await services.desk.handle(business.id, "2026-12-01", OWNER)
    assert isinstance(first, BookingList)
    assert (len(first.page.bookings), first.page.total, first.more_command) == (
        20,
        25,
        "2026-12-01 page 2",
    )
    second = await services.desk.handle(business.id, "2026-12-01 page 2", OWNER)
    assert isinstance(second, BookingList)
    assert [b.customer.name for b in second.page.bookings] == [f"C{i}" for i in range(20, 25)]
    assert second.more_command is None
    everything = await services.desk.handle(business.id, "all", OWNER)
    assert isinstance(everything, BookingList)
    assert everything.page.bookings[0].customer.name == "C24"  # newest first


async def test_a_page_past_the_end_says_how_many_pages_there_are(
    services: Services, business: Business
) -> None:
    start = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    for i in range(3):
        await add(services, business, f"Ana {i}", "Cut", start + timedelta(hours=i))
    for typed, first in [
        ("2026-12-01 page 2", "2026-12-01"),
        ("all page 9", "all"),
        ("pending page 2", "pending"),
        ("search ana page 2", "search ana"),
        ("ana page 3", "search ana"),
    ]:
        reply = await services.desk.handle(business.id, typed, OWNER)
        page = typed.rsplit(" ", 1)[1]
        assert reply == Problem(
            f"There is no page {page}: that list has 3 bookings, on 1 page. "
            f"Type `{first}` for the first."
        ), typed
    empty = await services.desk.handle(business.id, "cancelled page 2", OWNER)
    assert isinstance(empty, BookingList)  # nothing at all: the list's own "none" line
    assert empty.empty_text == "No cancelled bookings."


async def test_the_calendar_counts_active_bookings_per_local_day(
    services: Services, business: Business
) -> None:
    late_evening = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)  # 22:30 on 1 Dec in New York
    await add(services, business, "A", "Cut", late_evening)
    await add(services, business, "B", "Cut", datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    cancelled = await add(services, business, "C", "Cut", datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    await services.desk.act(business, cancelled, Move.CANCEL, OWNER)
    reply = await services.desk.handle(business.id, "calendar 2026-12", OWNER)
    assert isinstance(reply, CalendarMonth)
    assert reply.counts == {date(2026, 12, 1): 2}


async def test_lists_never_show_another_business_s_bookings(
    services: Services, business: Business, other_business: Business
) -> None:
    await add(services, business, "Mine", "Cut", datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    reply = await services.desk.handle(other_business.id, "search mine", OWNER)
    assert isinstance(reply, Problem)
    reply = await services.desk.handle(other_business.id, "all", OWNER)
    assert isinstance(reply, BookingList)
    assert reply.page.bookings == []


async def test_rare_and_common_terms_find_the_same_bookings_whichever_index_answers(
    services: Services,
    business: Business,
    other_business: Business,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    names = ["Élodie Martin", "Elodie Roux", "Zoë", "Ana"]
    for i, name in enumerate(names):
        await add(services, business, name, "Haircut", start + timedelta(hours=i))
    await add(services, other_business, "Élodie Autre", "Cut", start)
    # Few matches, and (so the test's small business counts as big) the index always pays:
    monkeypatch.setattr(storage.search_index, "SCAN_ROWS_PER_CANDIDATE", 0)
    rare = await listed(services, business, "search élodie")  # the trigram index
    monkeypatch.setattr(storage.search_index, "FTS_CANDIDATES", 1)  # now every term is "common"
    common = await listed(services, business, "search élodie")
    assert rare == common == ["Elodie Roux", "Élodie Martin"]
    await services.store.move_booking(
        (await services.desk.booking(business, 1)), Move.CANCEL, OWNER, None, start
    )
    assert await listed(services, business, "search elodie") == rare  # status changes keep it


async def test_sqlite_starts_a_search_from_the_index_only_for_a_business_big_enough(
    sqlite_services: Services, sqlite_business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, small = sqlite_services, sqlite_business
    big = await _kiwi_tutors(services)
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    for i in range(3):
        await add(services, small, f"Élodie {i}", "Cut", start + timedelta(hours=i))
    for i in range(40):  # bookings the term doesn't match: only the business's size counts
        await add(services, big, f"Zed {i}", "Cut", start + timedelta(hours=i))
    await add(services, big, "Élodie Big", "Cut", start)
    monkeypatch.setattr(storage.search_index, "SCAN_ROWS_PER_CANDIDATE", 10)

    def matches_run(statements: list[str]) -> int:
        return sum("MATCH" in sql for sql in statements)

    # 4 found anywhere: worth it for a business of 41 or more (4 x 10 + 1), not for 3.
    with sql_sent() as statements:
        assert await listed(services, small, "search élodie") == [f"Élodie {i}" for i in (2, 1, 0)]
    assert matches_run(statements) == 1  # the probe alone: the small business was scanned
    with sql_sent() as statements:
        assert await listed(services, big, "search élodie") == ["Élodie Big"]
    assert matches_run(statements) == 2  # the probe, then the list from the index


async def test_two_character_terms_find_every_booking_that_holds_them_either_way(
    services: Services,
    business: Business,
    other_business: Business,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two characters is a whole Japanese surname; trigram indexes can't answer it, so
    # migration 0005 added indexes of pairs (SQLite: FTS5 filled by triggers; PostgreSQL:
    # trigrams of the doubled text). They must find what a scan finds, no more, no less.
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    for i, (name, service) in enumerate(
        [
            ("渡辺 健太", "Cut"),
            ("田中渡辺", "Colour"),  # in the middle of a word
            ("Ana Li", "Nail art"),  # "rt": the last two characters of the whole text
            ("Siobhán O'Brien", "Cut"),  # "o'": ASCII punctuation, which the index skips
            ("Zoë", "Trim"),
        ]
    ):
        await add(services, business, name, service, start + timedelta(hours=i))
    await add(services, other_business, "渡辺 Other", "Cut", start)
    expected = {
        "渡辺": ["田中渡辺", "渡辺 健太"],  # newest first
        "rt": ["Ana Li"],
        "o'": ["Siobhán O'Brien"],
        "zo": ["Zoë"],
        "án": ["Siobhán O'Brien", "Ana Li"],  # folded to "an"
    }
    monkeypatch.setattr(storage.search_index, "SCAN_ROWS_PER_CANDIDATE", 0)  # SQLite: index
    for term, names in expected.items():
        assert await listed(services, business, f"search {term}") == names, term
    monkeypatch.setattr(storage.search_index, "FTS_CANDIDATES", 0)  # SQLite: scan every time
    for term, names in expected.items():
        assert await listed(services, business, f"search {term}") == names, term


async def test_bookings_stored_before_the_bigram_index_are_in_it(
    clock: FixedClock, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'upgraded.db'}"
    services = build_services(
        Settings(database_url=url, mail_dir=tmp_path / "mail", _env_file=None), clock=clock
    )
    try:
        await migrate.upgrade(services.db, "0004")  # the schema before the bigram index
        business = await _plum_salon(services)
        start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
        # Written as that schema's code wrote it: the booking row alone is what is indexed.
        old_row = {
            "business_id": business.id,
            "customer_name": "渡辺 健太",
            "customer_email": "kenta@example.com",
            "service_name": "Cut",
            "duration_minutes": 45,
            "start_at": start,
            "end_at": start + timedelta(minutes=45),
            "status": "pending",
            "payment_provider": "paypal",
            "transaction_id": "OLD-1",
            "amount": Decimal("45.00"),
            "currency": "USD",
            "payment_status": "paid",
            "search_text": search_text("渡辺 健太", "Cut"),
            "created_at": start - timedelta(days=2),
            "updated_at": start - timedelta(days=2),
        }
        old = await services.db.write(
            lambda conn: int(
                conn.execute(insert(bookings).returning(bookings.c.id), old_row).scalar_one()
            )
        )
        await migrate.upgrade(services.db)
        new = await add(services, business, "渡辺 花子", "Trim", start + timedelta(hours=1))

        def indexed(conn: Connection) -> list[int]:
            found = conn.exec_driver_sql(
                "SELECT rowid FROM bookings_bigrams WHERE bookings_bigrams MATCH '\"渡辺\"'"
            )
            return sorted(found.scalars())

        assert await services.db.read(indexed) == [old, new]
        assert await listed(services, business, "search 渡辺") == ["渡辺 花子", "渡辺 健太"]
    finally:
        await services.aclose()
