"""The owner's calendar feed for the 100,000-booking business, over real HTTP: a phone
polling `GET /calendar/<token>.ics`, with and without its ETag.

    .venv/bin/python -m bench.calendar_feed                      # 1,000,000 bookings, ~5 min
    .venv/bin/python -m bench.calendar_feed --bookings 200000 --big 100000
    .venv/bin/python -m bench.calendar_feed --workdir /tmp/feed --keep   # load once, rerun

What it does:

1. loads a fresh SQLite file as bench.intake_and_queries does (200 businesses, one with
   100,000 bookings spread over two years; real migrations, then ANALYZE), unless `--workdir`
   already holds one that `--keep` left; issues a feed token for the big business;
2. serves the app in a child process exactly as `juneplum serve` serves it (uvicorn with
   httptools on uvloop, the feed mounted beside the API);
3. times, from a lean keep-alive client (bench/http_load.py), one request at a time:
   - the first request (the whole window drawn with icalendar: every pending and confirmed
     booking from 30 days back to a year ahead), and the first request after each of
     `--changes` changes (a booking confirmed through the desk, which writes an event and so
     moves the ETag: only the changed booking is drawn again);
   - `--requests` full answers (200, the whole feed, kept per ETag), gzipped as calendar
     apps ask for it (Accept-Encoding: gzip; judged), and not gzipped (shown);
   - `--requests` conditional ones (If-None-Match: the ETag) answered 304.

Targets: p95 under 50 ms full, under 5 ms for the 304. Printed beside the load average and
the speed reference.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench.http_load import Request, run_load
from bench.intake_and_queries import (
    Shape,
    intake_server,
    plan_businesses,
    prepare,
    wait_until_up,
)
from bench.machine import load_average, speed_reference
from bot import calendar_feed, logs
from core.clock import SystemClock
from core.desk import Desk
from core.lifecycle import Move, Status
from core.model import Actor, ActorKind, Channel
from storage.bookings import SqlBookingStore
from storage.calendar_feeds import FeedAccess, SqlCalendarFeeds
from storage.database import open_database
from storage.tables import bookings

TARGET_FULL_P95_MS = 50.0
TARGET_304_P95_MS = 5.0
BIG = 1  # plan_businesses makes business 1 the big one
OWNER = Actor(ActorKind.OWNER, Channel.CLI, "bench")


@dataclass
class Figures:
    events: int  # VEVENTs in the feed
    size: int  # bytes of the feed
    zipped: int  # bytes of the feed gzipped
    first_ms: float  # the first request: the whole window drawn
    draws_ms: list[float]  # the first request after each change
    full_ms: list[float]  # gzipped, as calendar apps ask for it
    plain_ms: list[float]  # not gzipped
    not_modified_ms: list[float]

    @staticmethod
    def p(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


async def issue_token(url: str) -> str:
    db = open_database(url)
    try:
        token = calendar_feed.new_token()
        feeds = SqlCalendarFeeds(db)
        await feeds.issue(BIG, calendar_feed.token_digest(token), datetime.now(UTC))
        return token
    finally:
        await db.dispose()


async def confirm_one(url: str) -> None:
    """A change the feed must show: a pending booking of the big business confirmed, through
    the desk (its event moves the ETag)."""
    db = open_database(url)
    try:
        query = (
            select(bookings.c.id)
            .where(
                bookings.c.business_id == BIG,
                bookings.c.status == Status.PENDING.value,
                bookings.c.start_at > datetime.now(UTC),
            )
            .limit(1)
        )
        booking_id = await db.read(lambda conn: conn.execute(query).scalar_one())
        desk = Desk(SqlBookingStore(db), SystemClock())
        business = await desk.business(BIG)
        await desk.act(business, booking_id, Move.CONFIRM, OWNER)
    finally:
        await db.dispose()


async def measure(url: str, token: str, requests: int, changes: int) -> Figures:
    path = f"/calendar/{token}.ics"
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=intake_server, args=(url, theirs), daemon=True
    )
    child.start()
    try:
        port = await asyncio.to_thread(ours.recv)
        await wait_until_up(port)
        get = Request("GET", path, {"Accept-Encoding": "gzip"})
        plain = Request("GET", path, {"Accept-Encoding": "identity"})

        async def one(request: Request) -> tuple[float, bytes]:
            done = await run_load("127.0.0.1", port, [request], 1, 120.0)
            (answer,) = done.responses
            if answer.status != 200:
                raise RuntimeError(f"the feed answered {answer.status}")
            return done.latencies_ms[0], answer.body

        draws = []
        first_ms, _ = await one(plain)
        for _ in range(changes):
            await confirm_one(url)
            drawn_ms, body = await one(plain)
            draws.append(drawn_ms)
        _, zipped = await one(get)
        full = await run_load("127.0.0.1", port, [get] * requests, 1, 120.0)
        whole = await run_load("127.0.0.1", port, [plain] * requests, 1, 120.0)
        if full.statuses != {200: requests} or whole.statuses != {200: requests}:
            raise RuntimeError(f"full answers: {full.statuses}, {whole.statuses}")
        etag = (await current_etag(url)).removesuffix('"') + '-gz"'
        cond = Request("GET", path, {"Accept-Encoding": "gzip", "If-None-Match": etag})
        same = await run_load("127.0.0.1", port, [cond] * requests, 1, 120.0)
        if same.statuses != {304: requests}:
            raise RuntimeError(f"conditional answers: {same.statuses}")
        return Figures(
            events=body.count(b"BEGIN:VEVENT"),
            size=len(body),
            zipped=len(zipped),
            first_ms=first_ms,
            draws_ms=draws,
            full_ms=full.latencies_ms,
            plain_ms=whole.latencies_ms,
            not_modified_ms=same.latencies_ms,
        )
    finally:
        ours.close()
        child.terminate()
        child.join(timeout=10)


async def current_etag(url: str) -> str:
    """The ETag the server answers with now, from the same inputs by the same function (the
    lean client reads bodies, not headers)."""
    db = open_database(url)
    try:
        feeds = SqlCalendarFeeds(db)
        business = await Desk(SqlBookingStore(db), SystemClock()).business(BIG)
        version = await feeds.version(BIG, datetime.now(UTC))
        access = FeedAccess(BIG, with_contacts=False)
        today = datetime.now(UTC).date().isoformat()
        return calendar_feed.CalendarFeed.etag(business, access, version, today)
    finally:
        await db.dispose()


async def run(args: argparse.Namespace, say: Console) -> Figures:
    shape = Shape(args.bookings, args.businesses, args.big, args.seed)
    specs = plan_businesses(shape)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="juneplum-feed-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "feed-bench.db"
    url = f"sqlite:///{path}"
    try:
        if not await asyncio.to_thread(path.exists):
            say.print(f"sqlite: migrating and loading {shape.bookings:,} bookings")
            await prepare("sqlite", url, specs, datetime.now(UTC), args.seed, say)
        else:
            say.print(f"sqlite: reusing {path}")
        token = await issue_token(url)
        say.print(f"timing the feed of business {BIG} ({specs[0].size:,} bookings)")
        return await measure(url, token, args.requests, args.changes)
    finally:
        if not args.keep:
            await asyncio.to_thread(shutil.rmtree, workdir, True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calendar_feed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--businesses", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="timed requests of each kind")
    parser.add_argument("--changes", type=int, default=5, help="changes, each drawn again")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes")
    parser.add_argument("--keep", action="store_true", help="keep the loaded file for a rerun")
    args = parser.parse_args(argv)
    say = Console(highlight=False)
    before = speed_reference()
    say.print(f"[dim]load average before: {load_average()}; speed reference {before:.0f} ms[/]")
    logs.configure("warning")
    figures = asyncio.run(run(args, say))
    table = Table(title="Calendar feed: GET /calendar/<token>.ics", title_justify="left")
    for column in ("answer", "requests", "p50 ms", "p95 ms", "max ms", "target p95", ""):
        table.add_column(column)
    rows = (
        ("200, the whole feed, gzip (as calendar apps ask)", figures.full_ms, TARGET_FULL_P95_MS),
        ("304, If-None-Match", figures.not_modified_ms, TARGET_304_P95_MS),
    )
    passed = True
    for label, samples, target in rows:
        p95 = Figures.p(samples, 95)
        ok = p95 < target
        passed &= ok
        table.add_row(
            label, str(len(samples)), f"{Figures.p(samples, 50):.2f}", f"{p95:.2f}",
            f"{max(samples):.2f}", f"< {target:g}", "[green]PASS[/]" if ok else "[red]MISS[/]",
        )  # fmt: skip
    for label, samples in (
        ("200, the whole feed, not gzipped", figures.plain_ms),
        ("200, first after a change (drawn again)", figures.draws_ms),
    ):
        table.add_row(
            label, str(len(samples)), f"{Figures.p(samples, 50):.1f}",
            f"{Figures.p(samples, 95):.1f}", f"{max(samples):.1f}", "(info)", "",
        )  # fmt: skip
    say.print(table)
    say.print(
        f"The feed: {figures.events:,} events, {figures.size / 1e6:.1f} MB "
        f"({figures.zipped / 1e6:.2f} MB gzipped). The first request, which draws the whole "
        f"window: {figures.first_ms / 1000:.1f} s."
    )
    after = speed_reference()
    say.print(f"[dim]load average after: {load_average()}; speed reference {after:.0f} ms[/]")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
