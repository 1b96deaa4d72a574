"""Shared fixtures: real SQLite files and a real PostgreSQL database, a clock tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot import logs
from bot.app import Services, build_services
from bot.currencies import CldrMoney
from bot.settings import Settings
from core import money
from core.clock import FixedClock
from core.model import (
    Actor,
    ActorKind,
    Business,
    Channel,
    Customer,
    NewBooking,
    Payment,
    Provider,
    Service,
)
from storage import migrate
from storage.database import driver_url, open_database
from tests.smtp_server import SmtpServer

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"juneplum_test_{os.getpid()}"
TABLES = (
    "calendar_feeds, closeout_prompts, payment_events, chat_messages, link_codes, "
    "conversation_log, outbox, conversations, reminders, intake_keys, events, booking_history, "
    "bookings, businesses"
)

# Wednesday 25 November 2026, 14:00 UTC (09:00 in New York).
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
OWNER = Actor(ActorKind.OWNER, Channel.CONSOLE, "Sam")
OTHER_OWNER = Actor(ActorKind.OWNER, Channel.SLACK, "Riley")
PAGE = Actor(ActorKind.SYSTEM, Channel.API, "booking page")


async def _admin(sql: str) -> None:
    engine = create_async_engine(driver_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of the suite's own on the local server; the suite fails if it is down."""
    try:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEST_DB}"'))
        asyncio.run(_admin(f'CREATE DATABASE "{TEST_DB}"'))
    except OSError as exc:  # pragma: no cover - a broken machine, not a test result
        pytest.fail(f"PostgreSQL at {ADMIN_URL} is unreachable: {exc}")
    url = make_url(ADMIN_URL).set(database=TEST_DB).render_as_string(hide_password=False)

    async def first_migration() -> None:
        db = open_database(url)
        await migrate.upgrade(db)
        await db.dispose()

    asyncio.run(first_migration())
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on a fresh SQLite file and on a clean PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'juneplum.db'}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


async def _truncate(url: str) -> None:
    db = open_database(url)
    await db.write(lambda conn: conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")))
    await db.dispose()


@pytest.fixture(autouse=True, scope="session")
def _money_rule() -> None:
    """Amounts written as the bot writes them (its composition root installs the same)."""
    money.use(CldrMoney())


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


async def _migrated(url: str, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(database_url=url, mail_dir=tmp_path / "mail", _env_file=None)
    built = build_services(settings, clock=clock)
    await migrate.upgrade(built.db)
    yield built
    await built.aclose()


@pytest.fixture
async def services(database_url: str, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Services]:
    async for built in _migrated(database_url, clock, tmp_path):
        yield built


@pytest.fixture
async def sqlite_services(clock: FixedClock, tmp_path: Path) -> AsyncIterator[Services]:
    """For what only SQLite does (a locked file, checkpoints)."""
    async for built in _migrated(f"sqlite:///{tmp_path / 'only-sqlite.db'}", clock, tmp_path):
        yield built


async def _plum_salon(services: Services) -> Business:
    return await services.businesses.add(
        name="Plum Salon",
        timezone="America/New_York",
        owner_email="owner@plum.example",
        currency="USD",
        api_key="jp_test_key_plum",
        at=NOW,
    )


@pytest.fixture
async def business(services: Services) -> Business:
    return await _plum_salon(services)


@pytest.fixture
async def sqlite_business(sqlite_services: Services) -> Business:
    return await _plum_salon(sqlite_services)


async def _kiwi_tutors(services: Services) -> Business:
    return await services.businesses.add(
        name="Kiwi Tutors",
        timezone="Pacific/Auckland",
        owner_email="owner@kiwi.example",
        currency="NZD",
        api_key="jp_test_key_kiwi",
        at=NOW,
    )


@pytest.fixture
async def other_business(services: Services) -> Business:
    return await _kiwi_tutors(services)


@contextlib.contextmanager
def sql_sent() -> Iterator[list[str]]:
    """Every SQL statement sent to any database while the block runs, in order: which path
    answered, and how many round trips it took."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        sent.append(sql)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def new_booking(
    *,
    name: str = "Ana Silva",
    service: str = "Haircut",
    start: datetime | None = None,
    minutes: int = 45,
    txn: str = "TX-1",
    provider: Provider = Provider.PAYPAL,
    key: str | None = None,
) -> NewBooking:
    """A paid booking as a booking page would send it."""
    return NewBooking(
        customer=Customer(name, "ana@example.com", "+1 555 0100"),
        service=Service(service, minutes, Decimal("45.00")),
        start_at=start or datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        payment=Payment(provider, txn, Decimal("45.00"), "USD"),
        idempotency_key=key,
        fingerprint=f"{name}|{service}|{txn}",
    )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that records every message it accepts."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def process_logs() -> Iterator[Callable[[], None]]:
    """Set logs up as the real process does (structlog and stdlib, both to stderr), then undo.

    The test calls it itself: pytest swaps sys.stderr between setup and call, and
    bot.logs.configure() keeps the stream it was given.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    quiet = {n: logging.getLogger(n).level for n in ("uvicorn.access", "asyncio")}

    def start() -> None:
        logs.configure()
        if root.handlers == handlers:  # pytest's own handlers kept basicConfig from adding one
            root.addHandler(logging.StreamHandler(sys.stderr))

    try:
        yield start
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
        structlog.reset_defaults()
