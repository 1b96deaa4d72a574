"""Chat delivery: from a booking's intake to its card being handed to the platform, and how
many deliveries a second go out while the mail outbox is busy too.

    .venv/bin/python -m bench.chat_delivery                      # SQLite and PostgreSQL, ~2 min
    .venv/bin/python -m bench.chat_delivery --backend sqlite --bookings 100 --burst 200

What it does, for each backend (a fresh SQLite file; PostgreSQL `juneplum_chat_bench`, created
and dropped here), with the real migrations, one business and `bot.app.build_services`:

1. latency, with default settings (the chat job ticks every CHAT_POLL_SECONDS, 0.25 s): the
   real scheduler runs (`services.background`, as `juneplum serve` does) with an in-process
   platform that records when each card reaches it (pace 0: the platform's own pace is its
   limit, not ours). Bookings arrive through `Desk.intake` at random gaps of 0-200 ms; each
   card's time is from its intake's return to the platform's `post` call. With 1 linked
   conversation, then 10 (each booking, 10 cards). Target: p95 under 1 s;
2. throughput: `--burst` bookings queue `--burst` x 10 chat deliveries (10 conversations) and
   2 x `--burst` emails; the chat dispatcher drains while the mail dispatcher sends the emails
   (to a transport that accepts each at once). Target: at least 200 deliveries/s.

Logging is production's (info) written to /dev/null. The load average and a speed reference
are printed beside the figures: another process on the machine skews every one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from email.message import Message
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench.databases import admin
from bench.machine import load_average, speed_reference
from bot import logs
from bot.app import Services, build_services
from bot.settings import Settings
from core.chat import Content, Conversation, ConversationKey, Person, Platform
from core.model import Actor, ActorKind, Channel, Customer, NewBooking, Payment, Provider, Service
from storage import migrate

PG_DB = "juneplum_chat_bench"
DEFAULT_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
LATENCY_P95_S = 1.0
DELIVERIES_PER_S = 200.0
PAGE = Actor(ActorKind.SYSTEM, Channel.API, "booking page")


class TimedPlatform:
    """The platform: notes when each card arrives, and answers at once."""

    platform = Platform.SLACK
    pace = timedelta(0)

    def __init__(self, expected: int = 0) -> None:
        self.arrived: dict[tuple[str, int], float] = {}
        self.count = 0
        self.expected = expected
        self.all_arrived = asyncio.Event()

    async def post(self, conversation: Conversation, content: Content) -> str:
        self.count += 1
        if content.card is not None:
            self.arrived[(conversation.key.chat_id, content.card.booking_id)] = time.perf_counter()
            if len(self.arrived) >= self.expected:
                self.all_arrived.set()
        return f"m{self.count}"

    async def edit(self, conversation: Conversation, message_ref: str, content: Content) -> None:
        self.count += 1


class AcceptingTransport:
    """Mail that is accepted at once: the mail dispatcher's own work is what loads the loop."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: Message) -> None:
        self.sent += 1

    async def close(self) -> None:
        return None


def new_booking(n: int, now: datetime) -> NewBooking:
    start = (now + timedelta(days=2 + n % 30)).replace(minute=0, second=0, microsecond=0)
    return NewBooking(
        customer=Customer(f"Guest {n}", f"guest{n % 500}@example.com", "+1 555 0100"),
        service=Service("Haircut", 45, Decimal("45.00")),
        start_at=start + timedelta(minutes=15 * (n % 4)),
        payment=Payment(Provider.PAYPAL, f"CHATBENCH-{n:07d}", Decimal("45.00"), "USD"),
        fingerprint=str(n),
    )


async def fresh(url: str, platform: TimedPlatform, mail: AcceptingTransport) -> Services:
    settings = Settings(database_url=url, mail_dir=Path(tempfile.mkdtemp()), _env_file=None)
    services = build_services(settings, transport=mail, senders={Platform.SLACK: platform})
    await migrate.upgrade(services.db)
    return services


async def link(services: Services, business_id: int, conversations: int) -> None:
    for i in range(conversations):
        code = await services.chat.issue_link_code(business_id)
        key = ConversationKey(Platform.SLACK, "T-bench", f"C{i}")
        linked = await services.chat.link(key, Person("U1", "Owner"), code)
        assert linked.ok, linked.text


async def latency(url: str, bookings: int, conversations: int, seed: int) -> list[float]:
    platform, mail = TimedPlatform(bookings * conversations), AcceptingTransport()
    services = await fresh(url, platform, mail)
    try:
        business = await services.businesses.add(
            name="Bench Salon", timezone="America/New_York", owner_email="o@example.com",
            currency="USD", api_key=f"jp_chat_bench_{seed}", at=services.clock.now(),
        )  # fmt: skip
        await link(services, business.id, conversations)
        services.background.start()
        rng = random.Random(seed)
        made: dict[int, float] = {}
        for n in range(1, bookings + 1):
            await asyncio.sleep(rng.uniform(0, 0.2))
            booking, _ = await services.desk.intake(
                business, new_booking(seed * 100_000 + n, services.clock.now()), PAGE
            )
            made[booking.id] = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(platform.all_arrived.wait(), timeout=30)
        await services.background.stop(grace_seconds=4)
        if len(platform.arrived) != bookings * conversations:
            raise RuntimeError(f"{len(platform.arrived)} of {bookings * conversations} arrived")
        return [at - made[booking_id] for (_, booking_id), at in platform.arrived.items()]
    finally:
        await services.aclose()


async def throughput(url: str, burst: int) -> tuple[float, int, int]:
    platform, mail = TimedPlatform(), AcceptingTransport()
    services = await fresh(url, platform, mail)
    try:
        business = await services.businesses.add(
            name="Burst Salon", timezone="Europe/Paris", owner_email="o@example.com",
            currency="EUR", api_key="jp_chat_bench_burst", at=services.clock.now(),
        )  # fmt: skip
        await link(services, business.id, 10)
        now = services.clock.now()
        await asyncio.gather(
            *(services.desk.intake(business, new_booking(n, now), PAGE) for n in range(burst))
        )
        started = time.perf_counter()
        mail_task = asyncio.create_task(services.dispatcher.run_once())
        delivered = await services.chat_dispatcher.drain()
        elapsed = time.perf_counter() - started
        await mail_task
        if platform.count != burst * 10:
            raise RuntimeError(f"{platform.count} of {burst * 10} deliveries reached the platform")
        return delivered / elapsed, delivered, mail.sent
    finally:
        await services.aclose()


def percentile(values: list[float], p: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[p - 1]
        if len(values) > 1
        else values[0]
    )


async def run(args: argparse.Namespace, say: Console) -> bool:
    table = Table(title="Chat delivery", title_justify="left")
    for column in ("backend", "measure", "figure", "target", "load"):
        table.add_column(column)
    ok = True
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    say.print(f"speed reference {speed_reference():.1f} ms (lower is faster)")
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            for conversations in (1, 10):
                url = await database(backend, args.postgres_url, Path(tmp) / f"l{conversations}.db")
                times = await latency(url, args.bookings, conversations, seed=conversations)
                p50, p95 = statistics.median(times), percentile(times, 95)
                met = p95 < LATENCY_P95_S
                ok &= met
                table.add_row(
                    backend, f"intake → platform, {conversations} conversation(s)",
                    f"p50 {p50 * 1000:.0f} ms · p95 {p95 * 1000:.0f} ms ({len(times)} cards)",
                    f"p95 < {LATENCY_P95_S * 1000:.0f} ms {'✓' if met else '✗'}", load_average(),
                )  # fmt: skip
            url = await database(backend, args.postgres_url, Path(tmp) / "burst.db")
            rate, delivered, mails = await throughput(url, args.burst)
            met = rate >= DELIVERIES_PER_S
            ok &= met
            table.add_row(
                backend, f"deliveries/s, mail busy ({mails} emails alongside)",
                f"{rate:,.0f}/s ({delivered} deliveries)",
                f"≥ {DELIVERIES_PER_S:.0f}/s {'✓' if met else '✗'}", load_average(),
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
    parser.add_argument("--bookings", type=int, default=200, help="bookings timed for latency")
    parser.add_argument("--burst", type=int, default=500, help="bookings of the throughput burst")
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL, help="server admin URL")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args(argv)
    with open(os.devnull, "w") as quiet:
        logs.configure("info", "console", quiet)
        return 0 if asyncio.run(run(args, Console())) else 1


if __name__ == "__main__":
    sys.exit(main())
