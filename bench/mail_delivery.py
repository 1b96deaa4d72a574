"""Mail delivery through the real outbox against a bare SMTP loop, and `juneplum serve` start-up.

    .venv/bin/python -m bench.mail_delivery                      # SQLite, about 4 minutes
    .venv/bin/python -m bench.mail_delivery --backend both       # and PostgreSQL: ~2 min more
    .venv/bin/python -m bench.mail_delivery --emails 2000 --reminder-bookings 10000   # quick

What it does:

1. starts an aiosmtpd server on 127.0.0.1 in a child process (its own core and GIL, like a real
   relay) that only counts the messages and bytes it accepts;
2. times `bot.mail.compose.compose` alone, then composes 10,000 messages exactly as the
   outbox will (same ids, kinds and bookings) and sends them one after another over one reused
   `aiosmtplib.SMTP` connection: the bare loop, timed before and after the outbox runs. The
   messages are built with the cyclic GC paused and then frozen, so holding them costs the
   other measures nothing;
3. for each backend: a fresh database (SQLite file; PostgreSQL `juneplum_mail_bench`, created
   and dropped here), the real migrations, one business, then 5,000 bookings with their
   history row and 10,000 queued emails ("created" + "owner-new-booking") bulk-inserted with
   SQLAlchemy Core (not timed); times `services.dispatcher.run_once()` of
   `bot.app.build_services(Settings(... smtp_tls="none"))` until every email is sent and
   checks that the server got each one and the outbox marks all sent. Logging is production's
   (info, console lines) written to /dev/null. The outbox must reach 70% of the bare rate;
4. fills a SQLite database with 100,000 future bookings and their 200,000 planned reminders,
   then starts `.venv/bin/juneplum serve` three times, timing process start to the first
   `GET /healthz` 200, then SIGTERM to exit (which must be 0, within 10 s); then, as a
   diagnostic, three more starts with a bytecode cache of the bench's own (the environment
   may forbid writing one: PYTHONDONTWRITEBYTECODE).

Another process on the machine skews every figure: the load average is printed beside each, and
the client's own CPU seconds beside each rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import Message
from multiprocessing.connection import Connection as Pipe
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.engine import make_url

from bench.databases import admin, bulk_insert, tidy
from bench.machine import load_average, speed_reference
from bot import logs
from bot.app import Services, build_services
from bot.mail.compose import compose
from bot.mail.dispatcher import message_id
from bot.settings import Settings
from core.folding import search_text
from core.lifecycle import Status
from core.model import (
    Booking,
    Business,
    Customer,
    HistoryEntry,
    Payment,
    PaymentStatus,
    Provider,
    Service,
)
from core.notifications import DeliveryStatus, MailKind, QueuedMail, plan_reminders
from storage import migrate
from storage.database import open_database
from storage.tables import booking_history, bookings, outbox, reminders

ROOT = Path(__file__).resolve().parent.parent
JUNEPLUM = ROOT / ".venv" / "bin" / "juneplum"
PG_DB = "juneplum_mail_bench"
DEFAULT_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
MAIL_FROM = "bookings@plum.example"
BATCH = 10_000

# Targets.
OUTBOX_SHARE = 0.70  # outbox rate / bare aiosmtplib rate
START_S = 2.0  # `juneplum serve` until /healthz answers 200
STOP_S = 10.0  # SIGTERM until exit 0

SERVICES = (
    ("Haircut", 45, Decimal("45.00")),
    ("Colour & cut", 120, Decimal("140.00")),
    ("Pédicure", 50, Decimal("40.00")),
    ("Shiatsu 指圧", 60, Decimal("85.00")),
    ("Piano lesson", 45, Decimal("50.00")),
)
NAMES = ("Ana Silva", "Élodie Lefèvre", "Łukasz Dvořák", "佐藤 花子", "Marcus O'Connor")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# The SMTP server: aiosmtpd in a child process, counting what it accepts.


class Counter:
    """aiosmtpd handler: accept every message, count it and its bytes, keep nothing."""

    def __init__(self, messages: Synchronized[int], size: Synchronized[int]) -> None:
        self.messages = messages
        self.size = size

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.size.value += len(envelope.content)
        self.messages.value += 1
        return "250 Message accepted"


def smtp_child(port: int, messages: Synchronized[int], size: Synchronized[int], pipe: Pipe) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Counter(messages, size), hostname="127.0.0.1", port=port)
    controller.start()
    pipe.send("ready")
    pipe.recv()  # anything, or EOF, means stop
    controller.stop()


class SmtpSink:
    """The counting server's process, and its counters as this process sees them."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._messages: Synchronized[int] = context.Value("q", 0, lock=False)
        self._size: Synchronized[int] = context.Value("q", 0, lock=False)
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=smtp_child,
            args=(self.port, self._messages, self._size, child),
            name="bench-smtp",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()
        if not self._pipe.poll(30) or self._pipe.recv() != "ready":
            raise RuntimeError("the SMTP server did not start")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()

    @property
    def counts(self) -> tuple[int, int]:
        return self._messages.value, self._size.value


# --------------------------------------------------------------------------------------------
# Data: bookings as rows (for the bulk insert) and as domain objects (for the bare loop).


@dataclass(frozen=True)
class Spec:
    n: int
    name: str
    service: str
    minutes: int
    price: Decimal
    start: datetime

    @property
    def email(self) -> str:
        return f"customer{self.n}@example.com"

    @property
    def transaction_id(self) -> str:
        return f"MAILBENCH-{self.n:07d}"


def specs(count: int, now: datetime, *, first_day: int = 2, days: int = 60) -> Iterator[Spec]:
    """Future bookings on quarter hours, spread over `days` days from `first_day` on."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for n in range(1, count + 1):
        service, minutes, price = SERVICES[n % len(SERVICES)]
        start = midnight + timedelta(days=first_day + n % days, minutes=15 * (32 + (n * 7) % 40))
        yield Spec(n, NAMES[n % len(NAMES)], service, minutes, price, start)


def booking_row(spec: Spec, business_id: int, created: datetime) -> dict[str, Any]:
    return {
        "id": spec.n,
        "business_id": business_id,
        "customer_name": spec.name,
        "customer_email": spec.email,
        "customer_phone": "+1 305 555 0101",
        "service_name": spec.service,
        "duration_minutes": spec.minutes,
        "price": spec.price,
        "start_at": spec.start,
        "end_at": spec.start + timedelta(minutes=spec.minutes),
        "status": Status.PENDING.value,
        "payment_provider": Provider.PAYPAL.value,
        "transaction_id": spec.transaction_id,
        "amount": spec.price,
        "currency": "USD",
        "payment_status": PaymentStatus.PAID.value,
        "notes": "First visit" if spec.n % 3 == 0 else None,
        "search_text": search_text(spec.name, spec.service),
        "created_at": created,
        "updated_at": created,
    }


def history_row(spec: Spec, created: datetime) -> dict[str, Any]:
    return {
        "booking_id": spec.n,
        "at": created,
        "actor_kind": "system",
        "actor_name": "booking page",
        "channel": "api",
        "from_status": None,
        "to_status": Status.PENDING.value,
        "reason": None,
    }


def domain_booking(spec: Spec, business_id: int, created: datetime) -> Booking:
    from core.model import Actor, ActorKind, Channel

    return Booking(
        id=spec.n,
        business_id=business_id,
        customer=Customer(spec.name, spec.email, "+1 305 555 0101"),
        service=Service(spec.service, spec.minutes, spec.price),
        start_at=spec.start,
        status=Status.PENDING,
        payment=Payment(Provider.PAYPAL, spec.transaction_id, spec.price, "USD"),
        created_at=created,
        notes="First visit" if spec.n % 3 == 0 else None,
        history=(
            HistoryEntry(
                created, Actor(ActorKind.SYSTEM, Channel.API, "booking page"), None, Status.PENDING
            ),
        ),
    )


KINDS = (MailKind.CREATED, MailKind.OWNER_NEW_BOOKING)


def outbox_rows(
    spec: Spec, business: Business, created: datetime, retry: timedelta
) -> list[dict[str, Any]]:
    return [
        {
            "business_id": business.id,
            "booking_id": spec.n,
            "kind": kind.value,
            "recipient": business.owner_email if kind.to_owner else spec.email,
            "dedupe_key": f"{spec.n}:{kind}",
            "failed_kind": None,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": created,
            "retry_until": created + retry,
            "created_at": created,
        }
        for kind in KINDS
    ]


def chunks(items: list[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --------------------------------------------------------------------------------------------
# Figures.


@dataclass
class Rate:
    label: str
    messages: int
    seconds: float
    cpu_seconds: float
    avg_bytes: float
    load: str
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


@dataclass
class Start:
    start_s: float
    stop_s: float
    exit_code: int | None


@dataclass
class Report:
    bare: list[Rate] = field(default_factory=list)
    outbox: list[Rate] = field(default_factory=list)
    compose_rate: float = 0.0
    starts: list[Start] = field(default_factory=list)
    cached_starts: list[Start] = field(default_factory=list)
    bytecode: str = ""
    reminder_load_s: float = 0.0
    reminder_rows: tuple[int, int] = (0, 0)


# --------------------------------------------------------------------------------------------
# Databases.


def mail_settings(url: str, port: int, workdir: Path) -> Settings:
    return Settings(
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        mail_from=MAIL_FROM,
        mail_dir=workdir / "unused-mail",
        _env_file=None,
    )


async def add_business(services: Services, now: datetime) -> Business:
    return await services.businesses.add(
        name="Plum & Pine",
        timezone="America/New_York",
        owner_email="owner@plum.example",
        currency="USD",
        api_key=f"jp_mail_bench_{now:%H%M%S%f}",
        at=now - timedelta(days=30),
    )


# --------------------------------------------------------------------------------------------
# The outbox.


async def measure_outbox(
    backend: str, url: str, sink: SmtpSink, emails: int, workdir: Path, say: Console
) -> Rate:
    services = build_services(mail_settings(url, sink.port, workdir))
    try:
        await migrate.upgrade(services.db)
        now = datetime.now(UTC)
        business = await add_business(services, now)
        queued_at = now - timedelta(seconds=1)
        retry = timedelta(hours=services.settings.mail_retry_hours)
        chosen = list(specs(emails // len(KINDS), now))
        t0 = time.perf_counter()
        rows = [r for s in chosen for r in outbox_rows(s, business, queued_at, retry)]

        def queue_all(conn: Connection) -> None:
            for part in chunks([booking_row(s, business.id, queued_at) for s in chosen]):
                conn.execute(insert(bookings), part)
            for part in chunks([history_row(s, queued_at) for s in chosen]):
                conn.execute(insert(booking_history), part)
            for part in chunks(rows):
                conn.execute(insert(outbox), part)
            if backend == "postgresql":
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('bookings', 'id'), :n)"),
                    {"n": len(chosen)},
                )

        await services.db.write(queue_all)
        say.print(
            f"  {backend}: queued {len(rows):,} emails for {len(chosen):,} bookings "
            f"in {time.perf_counter() - t0:.1f} s; sending…"
        )

        before, size_before = sink.counts
        load = load_average()
        cpu0, t0 = time.process_time(), time.perf_counter()
        handled = 0
        while handled < len(rows):
            done = await services.dispatcher.run_once()
            if done == 0:
                break
            handled += done
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        after, size_after = sink.counts
        sent_rows = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.status == DeliveryStatus.SENT.value)
        )
        sent = await services.db.read(lambda conn: conn.execute(sent_rows).scalar_one())
        received = after - before
        if received != len(rows) or sent != len(rows):
            raise RuntimeError(
                f"{backend}: {len(rows)} queued, {received} received by the server, "
                f"{sent} marked sent"
            )
        return Rate(
            f"outbox on {backend} (run_once, {services.settings.mail_concurrency} connections)",
            received,
            seconds,
            cpu,
            (size_after - size_before) / received,
            load,
        )
    finally:
        await services.aclose()


# --------------------------------------------------------------------------------------------
# The bare loop.


def composed(count: int) -> Iterator[Message]:
    """`count` messages exactly as the outbox composes them, ids and all."""
    now = datetime.now(UTC)
    business = Business(1, "Plum & Pine", "America/New_York", "owner@plum.example", "USD")
    created = now - timedelta(seconds=1)
    n = 0
    for spec in specs(count // len(KINDS), now):
        booking = domain_booking(spec, business.id, created)
        for kind in KINDS:
            n += 1
            mail = QueuedMail(
                id=n,
                business_id=business.id,
                booking_id=booking.id,
                kind=kind,
                recipient="",
                status=DeliveryStatus.PENDING,
                attempts=1,
                created_at=created,
                next_attempt_at=created,
                retry_until=created,
            )
            yield compose(
                kind,
                booking,
                business,
                message_id=message_id(mail, MAIL_FROM),
                mail_from=MAIL_FROM,
                now=now,
            )


def compose_rate(count: int) -> float:
    """compose() per second, each message dropped as soon as it is built (as the outbox does)."""
    t0 = time.perf_counter()
    for _ in composed(count):
        pass
    return count / (time.perf_counter() - t0)


def bare_messages(count: int) -> list[Message]:
    """The bare loop's messages, built with the cyclic GC paused and then frozen.

    Tens of thousands of live objects per message: left to the collector, every collection
    would walk them all and slow whatever runs next (the outbox, the bare loop itself) by
    half or more. Frozen, the collector skips them; `release` gives them back.
    """
    gc.disable()
    try:
        messages = list(composed(count))
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()
    return messages


def release(messages: list[Message]) -> None:
    messages.clear()
    gc.unfreeze()
    gc.collect()


async def measure_bare(sink: SmtpSink, messages: list[Message], label: str) -> Rate:
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=sink.port, use_tls=False, start_tls=False, timeout=10
    )
    await client.connect()
    before, size_before = sink.counts
    load = load_average()
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        for message in messages:
            await client.send_message(message)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await client.quit()
    after, size_after = sink.counts
    received = after - before
    if received != len(messages):
        raise RuntimeError(f"bare loop: {len(messages)} sent, {received} received")
    return Rate(label, received, seconds, cpu, (size_after - size_before) / received, load)


# --------------------------------------------------------------------------------------------
# `juneplum serve` with 100,000 bookings and 200,000 planned reminders.


async def fill_reminders(url: str, count: int, say: Console) -> tuple[float, tuple[int, int]]:
    services = build_services(Settings(database_url=url, _env_file=None))
    try:
        await migrate.upgrade(services.db)
        now = datetime.now(UTC)
        business = await add_business(services, now)
    finally:
        await services.aclose()
    t0 = time.perf_counter()
    db = open_database(url)
    created = now - timedelta(days=1)
    n_bookings = n_reminders = 0
    try:
        chosen = list(specs(count, now, first_day=2, days=365))
        for i in range(0, len(chosen), BATCH):
            part = chosen[i : i + BATCH]
            planned = [
                {"booking_id": s.n, "kind": p.kind.value, "due_at": p.due_at, "state": "planned"}
                for s in part
                for p in plan_reminders(s.start, now)
            ]
            await bulk_insert(
                db, insert(bookings), [booking_row(s, business.id, created) for s in part]
            )
            await bulk_insert(db, insert(reminders), planned)
            n_bookings += len(part)
            n_reminders += len(planned)
        await tidy(db, url)
    finally:
        await db.dispose()
    seconds = time.perf_counter() - t0
    say.print(
        f"  sqlite: {n_bookings:,} future bookings and {n_reminders:,} planned reminders "
        f"loaded in {seconds:.1f} s"
    )
    return seconds, (n_bookings, n_reminders)


def bytecode_state() -> str:
    """Whether imports can use compiled bytecode: without it every start compiles ~1,000 modules."""
    cached = any((ROOT / ".venv" / "lib").glob("python3*/site-packages/sqlalchemy/__pycache__"))
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return (
        f"PYTHONDONTWRITEBYTECODE={flag or '(unset)'}; "
        f"bytecode in .venv: {'yes' if cached else 'no (every start compiles the sources)'}"
    )


def time_serve(url: str, workdir: Path, run: str, *, pycache: Path | None = None) -> Start:
    """Start `juneplum serve`, wait for /healthz 200, SIGTERM it, wait for the exit.

    With `pycache`, compiled bytecode is written to and read from there (diagnostic only).
    """
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "info",
        "MAIL_DIR": str(workdir / "mail"),
    }
    env.pop("SMTP_HOST", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    log_path = workdir / f"serve-{run}.log"
    with open(log_path, "wb") as log_file:
        t0 = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(JUNEPLUM), "serve"],
            cwd=workdir,  # no stray .env from the repository
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            started = _wait_healthy(process, port, t0, log_path)
            t1 = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            try:
                code: int | None = process.wait(timeout=STOP_S + 5)
            except subprocess.TimeoutExpired:
                code = None
            stopped = time.perf_counter() - t1
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return Start(started, stopped, code)


def _wait_healthy(process: subprocess.Popen[bytes], port: int, t0: float, log: Path) -> float:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        while time.perf_counter() - t0 < 60:
            if process.poll() is not None:
                raise RuntimeError(
                    f"juneplum serve exited with {process.returncode}: {log.read_text()[-2000:]}"
                )
            try:
                if client.get("/healthz").status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise RuntimeError(f"juneplum serve did not answer /healthz within 60 s: {log}")


# --------------------------------------------------------------------------------------------
# Printing.


def verdict(passed: bool) -> str:
    return "[bold green]PASS[/]" if passed else "[bold red]MISS[/]"


def show(report: Report, say: Console) -> None:
    rates = Table(title="Delivery to a local aiosmtpd server", title_justify="left")
    for column in (
        "Run",
        "Messages",
        "Seconds",
        "Msg/s",
        "Client CPU s",
        "Msg/CPU-s",
        "Avg bytes",
        "Load avg",
    ):
        rates.add_column(column, justify="left" if column in ("Run", "Load avg") else "right")
    for r in [*report.bare, *report.outbox]:
        rates.add_row(
            r.label,
            f"{r.messages:,}",
            f"{r.seconds:.2f}",
            f"{r.per_second:,.0f}",
            f"{r.cpu_seconds:.2f}",
            f"{r.messages / r.cpu_seconds:,.0f}" if r.cpu_seconds else "-",
            f"{r.avg_bytes:,.0f}",
            r.load,
        )
    say.print(rates)
    say.print(
        f"[dim]compose() alone (2,000 messages, each dropped once built): "
        f"{report.compose_rate:,.0f} messages/s[/]"
    )

    if report.starts:
        starts = Table(
            title=(
                f"juneplum serve on SQLite with {report.reminder_rows[0]:,} future bookings and "
                f"{report.reminder_rows[1]:,} planned reminders"
            ),
            title_justify="left",
        )
        for column in ("Run", "Start → /healthz 200 s", "SIGTERM → exit s", "Exit code"):
            starts.add_column(column, justify="right")
        for i, s in enumerate(report.starts, start=1):
            starts.add_row(str(i), f"{s.start_s:.2f}", f"{s.stop_s:.2f}", str(s.exit_code))
        for i, s in enumerate(report.cached_starts, start=1):
            starts.add_row(
                f"diagnostic {i}: bytecode cached",
                f"{s.start_s:.2f}",
                f"{s.stop_s:.2f}",
                str(s.exit_code),
            )
        say.print(starts)
        say.print(f"[dim]{report.bytecode}[/]")

    table = Table(title="Figures", title_justify="left")
    for column in ("Figure", "Value", "Target", "Result"):
        table.add_column(column, justify="right" if column == "Value" else "left")
    bare_rate = statistics.mean(r.per_second for r in report.bare) if report.bare else 0.0
    if report.bare:
        table.add_row("bare aiosmtplib loop (mean of runs)", f"{bare_rate:,.0f} msg/s", "-", "")
    for r in report.outbox:
        table.add_row(r.label, f"{r.per_second:,.0f} msg/s", "-", "")
        share = r.per_second / bare_rate
        table.add_row(
            f"  outbox / bare ({r.label.split()[2]})",
            f"{share:.0%}",
            f">= {OUTBOX_SHARE:.0%}",
            verdict(share >= OUTBOX_SHARE),
        )
    if report.starts:
        for i, s in enumerate(report.starts, start=1):
            table.add_row(
                f"serve start, run {i}",
                f"{s.start_s:.2f} s",
                f"< {START_S:g} s",
                verdict(s.start_s < START_S),
            )
        median = statistics.median(s.start_s for s in report.starts)
        table.add_row(
            "serve start, median", f"{median:.2f} s", f"< {START_S:g} s", verdict(median < START_S)
        )
        if report.cached_starts:
            cached = statistics.median(s.start_s for s in report.cached_starts)
            table.add_row(
                "  diagnostic: median start with a bytecode cache",
                f"{cached:.2f} s",
                f"< {START_S:g} s",
                "(info)",
            )
        worst_stop = max(s.stop_s for s in report.starts)
        clean = all(s.exit_code == 0 and s.stop_s <= STOP_S for s in report.starts)
        codes = ",".join(str(s.exit_code) for s in report.starts)
        table.add_row(
            "serve stop (SIGTERM → exit), worst",
            f"{worst_stop:.2f} s (exit {codes})",
            f"exit 0 within {STOP_S:g} s",
            verdict(clean),
        )
    say.print(table)


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mail_delivery", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--emails", type=int, default=10_000, help="queued emails (even)")
    parser.add_argument("--reminder-bookings", type=int, default=100_000)
    parser.add_argument("--starts", type=int, default=3, help="timed `juneplum serve` starts")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default="sqlite",
        help="where the outbox lives (both: about 2 more minutes)",
    )
    parser.add_argument(
        "--no-bytecode-diagnostic",
        dest="diagnose_bytecode",
        action="store_false",
        help="skip the extra serve starts with a bytecode cache",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL, help="server admin URL")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args(argv)
    if args.emails < 2 or args.emails % 2:
        parser.error("--emails must be even and at least 2")
    return args


async def run(args: argparse.Namespace, say: Console) -> Report:
    report = Report()
    workdir = Path(tempfile.mkdtemp(prefix="juneplum-mail-bench-"))
    pg_url = make_url(args.postgres_url).set(database=PG_DB).render_as_string(hide_password=False)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    sink = SmtpSink()
    sink.start()
    try:
        say.print(f"[bold]compose[/]: building {args.emails:,} messages for the bare loop")
        report.compose_rate = await asyncio.to_thread(compose_rate, min(args.emails, 2000))
        messages = await asyncio.to_thread(bare_messages, args.emails)
        say.print("[bold]bare[/]: one aiosmtplib connection, sequential sends")
        report.bare.append(await measure_bare(sink, messages, "bare aiosmtplib loop, before"))
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite:///{workdir / 'outbox.db'}"
            else:
                url = pg_url
                await admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                await admin(args.postgres_url, f'CREATE DATABASE "{PG_DB}"')
            say.print(f"[bold]{backend}[/]: outbox")
            report.outbox.append(
                await measure_outbox(backend, url, sink, args.emails, workdir, say)
            )
        say.print("[bold]bare[/]: again")
        report.bare.append(await measure_bare(sink, messages, "bare aiosmtplib loop, after"))
        release(messages)
    finally:
        sink.stop()
        if args.keep:
            say.print(f"[dim]kept: {workdir} and {pg_url}[/]")
        elif args.backend != "sqlite":
            await admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')

    try:
        if args.starts:
            say.print("[bold]serve[/]: loading reminders")
            url = f"sqlite:///{workdir / 'reminders.db'}"
            report.reminder_load_s, report.reminder_rows = await fill_reminders(
                url, args.reminder_bookings, say
            )
            report.bytecode = bytecode_state()
            for i in range(1, args.starts + 1):
                start = await asyncio.to_thread(time_serve, url, workdir, str(i))
                say.print(
                    f"  run {i}: /healthz 200 after {start.start_s:.2f} s; exit {start.exit_code} "
                    f"{start.stop_s:.2f} s after SIGTERM (load {load_average()})"
                )
                report.starts.append(start)
            if args.diagnose_bytecode:
                # The same starts with compiled bytecode in a cache of our own (the first start
                # fills it and is not counted): how much of the start is compiling sources.
                cache = workdir / "pycache"
                await asyncio.to_thread(time_serve, url, workdir, "fill", pycache=cache)
                for i in range(1, args.starts + 1):
                    start = await asyncio.to_thread(
                        time_serve, url, workdir, f"cached-{i}", pycache=cache
                    )
                    say.print(
                        f"  diagnostic {i}, bytecode cached: /healthz 200 after "
                        f"{start.start_s:.2f} s (load {load_average()})"
                    )
                    report.cached_starts.append(start)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def quiet_production_logs() -> None:
    """The logging `juneplum serve` configures (info, console lines), written to /dev/null."""
    logs.configure("info", "console", open(os.devnull, "w"))  # noqa: SIM115 - process-long


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = Console(highlight=False, width=max(120, shutil.get_terminal_size().columns))
    quiet_production_logs()
    started = time.perf_counter()
    say.print(
        f"[dim]load average before: {load_average()} ({os.cpu_count()} cores); "
        f"speed reference {speed_reference():.0f} ms (lower is faster)[/]"
    )
    report = asyncio.run(run(args, say))
    show(report, say)
    say.print(
        f"[dim]Total run time {time.perf_counter() - started:.0f} s; "
        f"load average after: {load_average()}.[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
