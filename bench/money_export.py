"""Revenue and the accountant's export on a 100,000-booking business (SQLite).

    .venv/bin/python -m bench.money_export [--bookings 100000]

Loads one business (Kingston, JMD, GCT 15%) with bookings spread over 2027, JMD and USD, in
every status; then times `revenue` for a month and for the whole year through `Desk.handle`,
and runs `juneplum export bookings` for the year and for one day as a user would (a child
process, its CSV read from a pipe), printing rows per second and the child's peak memory:
streaming means the year's export peaks about where the one day's does, not 100,000 rows
higher. No targets are judged here: the figures are for comparison between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.databases import bulk_insert, tidy
from bot.app import build_services
from bot.settings import Settings
from core.clock import FixedClock
from core.folding import search_text
from core.model import Actor, ActorKind, Channel
from storage import migrate
from storage.tables import bookings

OWNER = Actor(ActorKind.OWNER, Channel.CLI, "bench")
STATUSES = ("completed", "completed", "confirmed", "pending", "cancelled")


def rows(business_id: int, n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    year = datetime(2027, 1, 1, 5, tzinfo=UTC)  # midnight in Kingston
    made = []
    for i in range(n):
        start = year + timedelta(minutes=15 * rng.randrange(4 * 24 * 365))
        currency = "JMD" if i % 5 else "USD"
        amount = Decimal(rng.randrange(2_000, 2_000_000)) / 100
        made.append(
            {
                "business_id": business_id,
                "customer_name": f"Guest {i}",
                "customer_email": f"guest{i}@example.com",
                "customer_phone": None,
                "service_name": rng.choice(("Massage", "Facial", "Scrub", "Manicure")),
                "duration_minutes": 60,
                "price": amount,
                "start_at": start,
                "end_at": start + timedelta(minutes=60),
                "status": STATUSES[i % len(STATUSES)],
                "payment_provider": "inkress" if currency == "JMD" else "paypal",
                "transaction_id": f"B-{i:08d}",
                "amount": amount,
                "currency": currency,
                "payment_status": "paid",
                "notes": None,
                "search_text": search_text(f"Guest {i}", "Massage"),
                "created_at": year - timedelta(days=30),
                "updated_at": year - timedelta(days=30),
            }
        )
    return made


async def load(url: str, n: int) -> None:
    services = build_services(
        Settings(database_url=url, _env_file=None),
        clock=FixedClock(datetime(2026, 12, 7, tzinfo=UTC)),
    )
    try:
        await migrate.upgrade(services.db)
        shop = await services.businesses.add(
            name="Blue Mountain Spa", timezone="America/Jamaica", owner_email="o@spa.example",
            currency="JMD", api_key="jp_bench", at=services.clock.now(), gct_rate=Decimal(15),
        )  # fmt: skip
        made = rows(shop.id, n)
        for first in range(0, n, 10_000):
            await bulk_insert(services.db, insert(bookings), made[first : first + 10_000])
        await tidy(services.db, url)
        for typed in ("revenue 2027-06", "revenue 2027-01-01..2027-12-31"):
            started = time.perf_counter()
            await services.desk.handle(shop.id, typed, OWNER)
            print(f"{typed:<34} {1000 * (time.perf_counter() - started):8.0f} ms")
    finally:
        await services.aclose()


def export(url: str, first: str, last: str) -> None:
    juneplum = str(Path(sys.executable).parent / "juneplum")
    env = os.environ | {"DATABASE_URL": url, "LOG_LEVEL": "warning"}
    args = [juneplum, "export", "bookings", "--from", first, "--to", last, "--format", "csv"]
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE)  # noqa: S603 - our command
    out = child.stdout
    assert out is not None
    lines = 0
    while chunk := out.read(1 << 16):
        lines += chunk.count(b"\n")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    took = time.perf_counter() - started
    rows_out = lines - 1
    print(
        f"export {first}..{last}: {rows_out:>7,} rows in {took:5.1f} s "
        f"({rows_out / took:8,.0f} rows/s), exit {child.returncode}, "
        f"peak memory {usage.ru_maxrss / 1024:5.0f} MB"
    )


def _load(url: str, n: int) -> None:
    asyncio.run(load(url, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=100_000)
    n = parser.parse_args().bookings
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'money.db'}"
        # Loaded in a process of its own: a child forked from a parent holding the rows
        # would start with their memory, and its peak would say nothing about the export.
        loader = multiprocessing.get_context("spawn").Process(target=_load, args=(url, n))
        loader.start()
        loader.join()
        export(url, "2027-06-15", "2027-06-15")
        export(url, "2027-01-01", "2027-12-31")


if __name__ == "__main__":
    main()
