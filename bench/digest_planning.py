"""The morning digest: how long the planner takes to queue it for 200 businesses whose 08:00
falls in the same minute.

    .venv/bin/python -m bench.digest_planning                       # SQLite and PostgreSQL, ~1 min
    .venv/bin/python -m bench.digest_planning --backend sqlite --businesses 200 --days 5

What it does, for each backend (a fresh SQLite file; PostgreSQL `juneplum_digest_bench`,
created and dropped here), with the real migrations and `bot.app.build_services`:

1. `--businesses` businesses in four zones that are all UTC-5 in December (New York, Toronto,
   Jamaica, Panama: their 08:00 is one minute, the worst case), each with a linked chat
   conversation and `--bookings` bookings over the days measured (intake through the desk);
2. for each of `--days` mornings: a planner tick at 07:59 (nothing due: what every idle minute
   costs, after the first, which also queues the nudges the new bookings fell due for), then
   the tick at 08:00:00, timed from its start until every digest is queued (committed), and
   the tick at 08:01 (every digest queued already: the check that keeps it once).

Target: all digests queued within 5 s of their minute. The scheduler starts the tick at the
minute's first second (APScheduler's cron trigger, `second=0`), so the figure is the tick's
own duration. Logging is production's (info) written to /dev/null; the load average and a
speed reference are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.databases import admin
from bench.machine import load_average, speed_reference
from bot import logs
from bot.app import Services, build_services
from bot.settings import Settings
from core.chat import ConversationKey, Person, Platform
from core.clock import FixedClock
from core.model import Actor, ActorKind, Channel, Customer, NewBooking, Payment, Provider, Service
from storage import migrate
from storage.tables import outbox

PG_DB = "juneplum_digest_bench"
DEFAULT_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
TARGET_S = 5.0
ZONES = ("America/New_York", "America/Toronto", "America/Jamaica", "America/Panama")
FIRST_MORNING = datetime(2026, 12, 14, 13, 0, tzinfo=UTC)  # Mon 08:00 in all four zones
PAGE = Actor(ActorKind.SYSTEM, Channel.API, "booking page")
OWNER = Person("U1", "Riley")


async def prepared(url: str, businesses: int, bookings: int, days: int) -> Services:
    """The businesses, their linked conversations and bookings, as of the evening before."""
    clock = FixedClock(FIRST_MORNING - timedelta(hours=14))
    settings = Settings(database_url=url, mail_dir=Path(tempfile.gettempdir()), _env_file=None)
    services = build_services(settings, clock=clock)
    await migrate.upgrade(services.db)
    for n in range(businesses):
        business = await services.businesses.add(
            name=f"Business {n}",
            timezone=ZONES[n % len(ZONES)],
            owner_email=f"owner{n}@example.com",
            currency="USD",
            api_key=f"jp_bench_digest_{n}",
            at=clock.now(),
        )
        code = await services.chat.issue_link_code(business.id)
        linked = await services.chat.link(
            ConversationKey(Platform.SLACK, "T1", f"C{n}"), OWNER, code, title=f"#c{n}"
        )
        assert linked.ok, linked.text
        for b in range(bookings):
            start = FIRST_MORNING + timedelta(days=b % days, hours=1 + b % 9)
            new = NewBooking(
                customer=Customer(f"Customer {b}", f"c{b}@example.com"),
                service=Service("Haircut", 45, Decimal("45.00")),
                start_at=start,
                payment=Payment(Provider.PAYPAL, f"B{n}-{b}", Decimal("45.00"), "USD"),
            )
            await services.desk.intake(business, new, PAGE)
    return services


async def digests_queued(services: Services) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.kind == "chat.digest")
    return int(await services.db.read(lambda conn: conn.execute(query).scalar_one()))


async def mornings(services: Services, days: int, businesses: int) -> dict[str, list[float]]:
    """Each morning's three ticks, timed (seconds)."""
    clock = services.clock
    assert isinstance(clock, FixedClock)
    timed: dict[str, list[float]] = {"idle": [], "due": [], "after": []}
    for day in range(days):
        morning = FIRST_MORNING + timedelta(days=day)
        for name, at in (("idle", -60), ("due", 0), ("after", 60)):
            clock.advance(seconds=(morning + timedelta(seconds=at) - clock.now()).total_seconds())
            if name == "idle":  # the evening's nudges, queued by a tick before
                await services.owners_day.plan(clock.now() - timedelta(minutes=1))
            started = time.perf_counter()
            await services.owners_day.plan(clock.now())
            timed[name].append(time.perf_counter() - started)
        queued = await digests_queued(services)
        assert queued == businesses * (day + 1), (queued, businesses, day)
    return timed


async def run(args: argparse.Namespace, say: Console) -> bool:
    table = Table(title="Morning digest planning", title_justify="left")
    for column in ("backend", "tick", "figure", "target", "load"):
        table.add_column(column)
    ok = True
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    say.print(f"speed reference {speed_reference():.1f} ms (lower is faster)")
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = await database(backend, args.postgres_url, Path(tmp) / "digest.db")
            services = await prepared(url, args.businesses, args.bookings, args.days)
            try:
                timed = await mornings(services, args.days, args.businesses)
            finally:
                await services.aclose()
        due = timed["due"]
        met = max(due) < TARGET_S
        ok &= met
        table.add_row(
            backend, f"08:00, {args.businesses} digests queued",
            f"median {statistics.median(due) * 1000:.0f} ms · worst {max(due) * 1000:.0f} ms "
            f"({args.days} mornings)",
            f"< {TARGET_S:.0f} s {'✓' if met else '✗'}", load_average(),
        )  # fmt: skip
        for name, label in (("idle", "07:59, nothing due"), ("after", "08:01, all queued")):
            table.add_row(
                backend, label, f"median {statistics.median(timed[name]) * 1000:.1f} ms",
                "(info)", load_average(),
            )  # fmt: skip
        if backend == "postgresql" and not args.keep:
            await admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    say.print(table)
    say.print(f"speed reference {speed_reference():.1f} ms")
    return ok


async def database(backend: str, admin_url: str, path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{path}"
    await admin(admin_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    await admin(admin_url, f'CREATE DATABASE "{PG_DB}"')
    return make_url(admin_url).set(database=PG_DB).render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--businesses", type=int, default=200)
    parser.add_argument("--bookings", type=int, default=10, help="bookings per business")
    parser.add_argument("--days", type=int, default=5, help="mornings timed")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL, help="server admin URL")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args(argv)
    with open(os.devnull, "w") as quiet:
        logs.configure("info", "console", quiet)
        return 0 if asyncio.run(run(args, Console())) else 1


if __name__ == "__main__":
    sys.exit(main())
