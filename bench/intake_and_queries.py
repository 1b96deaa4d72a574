"""Load a million bookings, then time intake over HTTP and the desk's views and actions.

    .venv/bin/python -m bench.intake_and_queries                      # full size, both databases
    .venv/bin/python -m bench.intake_and_queries --bookings 100000 --big 10000 --backend sqlite

What it does, on a fresh SQLite file and a fresh PostgreSQL database (`juneplum_bench`, created
and dropped here):

1. runs the real migrations, then bulk-loads bookings with SQLAlchemy Core executemany on
   `storage.tables.bookings` (no history or event rows: nothing asks for them);
2. ANALYZE (PostgreSQL: VACUUM ANALYZE, the state autovacuum leaves a table in);
3. times `today` and `search` through `Desk.handle` and Confirm through `Desk.act`, the real
   path every surface takes;
4. on SQLite, posts bookings to the intake API, served in a child process exactly as
   `juneplum serve` serves it (uvicorn with httptools on uvloop), from a lean keep-alive HTTP
   client (`bench/http_load.py`: httpx cost as much CPU per request as the server), and counts
   bookings per second and the events written in the same transaction, at each of a few
   loads (requests in flight). The target is judged at the heaviest: a throughput is a
   capacity, what the server takes when it is kept busy; the lighter loads show the latency
   a booking page sees when it isn't, and how group commit gains as bookings arrive together.

Every figure is printed beside its target with PASS or MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.engine import make_url

from bench.databases import admin, bulk_insert, tidy
from bench.http_load import MalformedResponseError, Request, run_load
from bench.machine import load_average, speed_reference
from bot import logs, runtime
from bot.app import Services, build_services
from bot.settings import Settings
from core.folding import search_text
from core.lifecycle import Move, Status
from core.model import Actor, ActorKind, Channel
from core.replies import BookingList, Problem, Reply
from storage import migrate
from storage.businesses import key_digest
from storage.database import open_database
from storage.tables import booking_history, bookings, businesses, events

PG_DB = "juneplum_bench"
DEFAULT_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
OWNER = Actor(ActorKind.OWNER, Channel.CONSOLE, "bench owner")
SQLITE_BATCH = 50_000
PG_BATCH = 20_000

FIGURE_BUDGET_S = 10.0
MIN_SAMPLES = 40

# Targets, in milliseconds unless said otherwise.
SEARCH_P95_MS = 20.0
TODAY_P95_MS = 5.0
CONFIRM_P95_MS = 10.0
INTAKE_PER_S = 400.0

# The words searched for. "ana" sits inside many names (Ana, Mariana, Juliana, Santana...);
# the rare ones are sprinkled into ~1 booking in 5,000, so a typical business has about one.
COMMON_TERM = "ana"
RARE_TERM = "Szczepańska"
RARE_CJK_TERM = "渡辺"
RARE_SHARE = 0.0002

# --------------------------------------------------------------------------------------------
# Realistic data: names in many alphabets, services, zones.

LATIN_FIRST = (
    "Ana", "Mariana", "Juliana", "Diana", "Luciana", "Tatiana", "Ivana", "Svetlana", "Hana",
    "Élodie", "Zoë", "José", "André", "Chloé", "Renée", "Søren", "Björn", "Jürgen", "Łukasz",
    "Małgorzata", "Agnieszka", "Şebnem", "Ayşe", "Oğuz", "João", "Inês", "François", "Hélène",
    "Noémie", "Maëlle", "Thảo", "Siobhán", "Seán", "Aoife", "Niamh", "Marcus", "Priya", "Kwame",
    "Ingrid", "Liam", "Sofia", "Fatima", "Jonas", "Olivia", "Noah", "Emma", "Lucas", "Mia",
    "Ethan", "Amara", "Chidi", "Aroha", "Tane", "Mateo", "Valentina", "Camila", "Santiago",
    "Isabella", "Benjamin", "Charlotte", "Henrik", "Astrid", "Mikael", "Leilani", "Keanu",
    "Oliver", "Grace", "Daniel", "Sara", "Pedro", "Lucía", "Martín", "Ramón", "Nuño", "Íñigo",
    "Dóra", "Zsófia", "Bence", "Tomáš", "Jiří", "Kateřina", "Radek", "Ewa", "Piotr", "Jakub",
)  # fmt: skip
LATIN_LAST = (
    "Silva", "Martin", "Kowalski", "Chen", "Raman", "Weber", "Al-Sayed", "O'Connor", "Rossi",
    "Mensah", "Johansson", "Santana", "Müller", "Schäfer", "Dvořák", "Nováková", "Łęcki",
    "Gonçalves", "Pereira", "Nguyễn", "Trần", "Lê", "Öztürk", "Yılmaz", "Çelik", "García",
    "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Díaz", "Dubois", "Lefèvre",
    "Moreau", "Girard", "Bonnaire", "Ó Briain", "Mac Giolla", "Smith", "Jones", "Williams",
    "Brown", "Taylor", "Wilson", "Anderson", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker",
    "Collins", "Edwards", "Stewart", "Morris", "Rogers", "Reed", "Cook", "Morgan", "Bell",
    "Murphy", "Bailey", "Rivera", "Cooper", "Richardson", "Cox", "Howard", "Ward", "Torres",
    "Peterson", "Gray", "Ramirez", "James", "Watson", "Brooks", "Kelly", "Sanders", "Price",
    "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry", "Powell",
    "Long", "Patterson", "Hughes", "Flores", "Washington", "Butler", "Simmons", "Foster",
    "Nagy", "Kovács", "Horváth", "Novak", "Horvat", "Jansen", "de Vries", "van Dijk", "Bakker",
    "Virtanen", "Korhonen", "Hansen", "Nielsen", "Jensen", "Eriksson", "Lindqvist", "Åberg",
)  # fmt: skip
# (alphabet, given names, family names, family name first?, share of customers)
OTHER_ALPHABETS: tuple[tuple[tuple[str, ...], tuple[str, ...], bool, float], ...] = (
    (  # Cyrillic
        ("Дмитрий", "Анна", "Ольга", "Сергей", "Наталья", "Иван", "Мария", "Алексей", "Юлия"),
        ("Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Новиков"),
        False,
        0.06,
    ),
    (  # Japanese
        ("花子", "太郎", "美咲", "翔太", "陽菜", "結衣", "大翔", "さくら", "健一"),
        ("佐藤", "鈴木", "高橋", "田中", "伊藤", "山本", "中村", "小林", "加藤"),
        True,
        0.04,
    ),
    (  # Chinese
        ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "洋"),
        ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"),
        True,
        0.04,
    ),
    (  # Greek
        ("Γιώργος", "Ελένη", "Μαρία", "Νίκος", "Κωνσταντίνος", "Δήμητρα"),
        ("Παπαδόπουλος", "Ψαρρά", "Οικονόμου", "Γεωργίου", "Νικολάου"),
        False,
        0.02,
    ),
    (  # Arabic
        ("محمد", "فاطمة", "علي", "مريم", "أحمد", "ليلى"),
        ("الحسن", "العلي", "حداد", "خوري", "منصور"),
        False,
        0.03,
    ),
    (  # Devanagari
        ("प्रिया", "राहुल", "अनीता", "विकास", "सुनीता"),
        ("शर्मा", "वर्मा", "गुप्ता", "सिंह", "पटेल"),
        False,
        0.02,
    ),
    (  # Korean
        ("민준", "서연", "지우", "하준", "수아"),
        ("김", "이", "박", "최", "정"),
        True,
        0.02,
    ),
    (  # Hebrew
        ("יעל", "דוד", "נועה", "אורי"),
        ("כהן", "לוי", "מזרחי", "פרץ"),
        False,
        0.01,
    ),
)
SERVICES: tuple[tuple[str, int, Decimal], ...] = (
    ("Haircut", 45, Decimal("45.00")),
    ("Colour & cut", 120, Decimal("140.00")),
    ("Beard trim", 20, Decimal("20.00")),
    ("Blow-dry", 30, Decimal("35.00")),
    ("Manicure", 40, Decimal("30.00")),
    ("Pédicure", 50, Decimal("40.00")),
    ("Deep tissue massage", 60, Decimal("90.00")),
    ("Shiatsu 指圧", 60, Decimal("85.00")),
    ("Массаж спины", 45, Decimal("60.00")),
    ("Yoga class", 60, Decimal("18.00")),
    ("Personal training", 60, Decimal("70.00")),
    ("Piano lesson", 45, Decimal("50.00")),
    ("Math tutoring", 60, Decimal("55.00")),
    ("Guitar lesson", 30, Decimal("35.00")),
    ("Consultation", 15, Decimal("0.00")),
    ("Dental cleaning", 45, Decimal("120.00")),
    ("Physiotherapy", 50, Decimal("95.00")),
    ("Kinésithérapie", 30, Decimal("48.50")),
    ("Teeth whitening", 90, Decimal("250.00")),
    ("Eyebrow threading", 15, Decimal("15.00")),
    ("Facial", 60, Decimal("80.00")),
    ("Tattoo session", 180, Decimal("400.00")),
    ("Dog grooming", 90, Decimal("65.00")),
    ("Photo shoot", 120, Decimal("300.00")),
    ("Car detailing", 150, Decimal("180.00")),
    ("Friseurtermin Waschen & Schneiden", 60, Decimal("52.00")),
)
ZONES = (
    ("America/New_York", "USD", -5),
    ("America/Los_Angeles", "USD", -8),
    ("America/Sao_Paulo", "BRL", -3),
    ("Europe/London", "GBP", 0),
    ("Europe/Paris", "EUR", 1),
    ("Europe/Warsaw", "PLN", 1),
    ("Africa/Lagos", "NGN", 1),
    ("Asia/Kolkata", "INR", 5.5),
    ("Asia/Tokyo", "JPY", 9),
    ("Asia/Seoul", "KRW", 9),
    ("Australia/Sydney", "AUD", 10),
    ("Pacific/Auckland", "NZD", 12),
)


@dataclass(frozen=True)
class Shape:
    bookings: int
    businesses: int
    big: int
    seed: int


@dataclass(frozen=True)
class BusinessSpec:
    id: int
    name: str
    timezone: str
    currency: str
    utc_offset: timedelta
    services: tuple[tuple[str, int, Decimal], ...]
    size: int

    @property
    def api_key(self) -> str:
        return f"jp_bench_key_{self.id:04d}"


def plan_businesses(shape: Shape) -> list[BusinessSpec]:
    """Business 1 is the big one; the others share the rest with sizes that vary by +-50%."""
    rng = random.Random(shape.seed)
    rest = shape.bookings - shape.big
    weights = [rng.uniform(0.5, 1.5) for _ in range(shape.businesses - 1)]
    sizes = [int(rest * w / sum(weights)) for w in weights]
    sizes[0] += rest - sum(sizes)
    specs = []
    for i, size in enumerate([shape.big, *sizes], start=1):
        zone, currency, offset = ZONES[i % len(ZONES)]
        specs.append(
            BusinessSpec(
                id=i,
                name=f"Bench business {i}" + (" (big)" if i == 1 else ""),
                timezone=zone,
                currency=currency,
                utc_offset=timedelta(hours=offset),
                services=tuple(rng.sample(SERVICES, rng.randint(3, 8))),
                size=size,
            )
        )
    return specs


def typical_business(specs: list[BusinessSpec]) -> BusinessSpec:
    """The small business whose size is the median."""
    small = sorted(specs[1:], key=lambda b: b.size)
    return small[len(small) // 2] if small else specs[0]


def person(rng: random.Random) -> str:
    """A customer's name: mostly Latin with accents, a quarter in other alphabets."""
    roll = rng.random()
    if roll < RARE_SHARE:
        return f"{RARE_CJK_TERM} {rng.choice(OTHER_ALPHABETS[1][0])}"
    roll -= RARE_SHARE
    for given, family, family_first, share in OTHER_ALPHABETS:
        if roll < share:
            if family_first:
                return f"{rng.choice(family)} {rng.choice(given)}"
            return f"{rng.choice(given)} {rng.choice(family)}"
        roll -= share
    last = RARE_TERM if rng.random() < RARE_SHARE else rng.choice(LATIN_LAST)
    return f"{rng.choice(LATIN_FIRST)} {last}"


def status_of(rng: random.Random, start: datetime, now: datetime) -> str:
    roll = rng.random()
    if start < now:
        return (
            Status.COMPLETED if roll < 0.80 else
            Status.CANCELLED if roll < 0.92 else
            Status.CONFIRMED if roll < 0.97 else Status.PENDING
        ).value  # fmt: skip
    return (
        Status.PENDING if roll < 0.35 else Status.CONFIRMED if roll < 0.90 else Status.CANCELLED
    ).value


def booking_batches(
    specs: list[BusinessSpec], now: datetime, seed: int, batch: int
) -> Iterator[list[dict[str, Any]]]:
    """Rows for storage.tables.bookings in arrival order (businesses interleaved), in batches.

    Starts spread over a year either side of today, on quarter hours of local opening hours.
    """
    rng = random.Random(seed + 1)
    owners = [spec for spec in specs for _ in range(spec.size)]
    rng.shuffle(owners)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows: list[dict[str, Any]] = []
    for n, spec in enumerate(owners, start=1):
        name = person(rng)
        service, minutes, price = rng.choice(spec.services)
        start = (
            midnight
            + timedelta(days=rng.randrange(-365, 365), minutes=15 * rng.randrange(32, 80))
            - spec.utc_offset
        )
        created = min(start - timedelta(minutes=rng.randrange(30, 60 * 24 * 60)), now)
        status = status_of(rng, start, now)
        rows.append(
            {
                "business_id": spec.id,
                "customer_name": name,
                "customer_email": f"customer{n}@example.com",
                "customer_phone": f"+1 555 {n % 10_000:04d}" if n % 3 else None,
                "service_name": service,
                "duration_minutes": minutes,
                "price": price,
                "start_at": start,
                "end_at": start + timedelta(minutes=minutes),
                "status": status,
                "payment_provider": "paypal" if n % 4 else "inkress",
                "transaction_id": f"BENCH-{n:08d}",
                "amount": price,
                "currency": spec.currency,
                "payment_status": "refunded" if status == "cancelled" and n % 2 else "paid",
                "notes": "First visit" if n % 17 == 0 else None,
                "search_text": search_text(name, service),
                "created_at": created,
                "updated_at": created,
            }
        )
        if len(rows) == batch:
            yield rows
            rows = []
    if rows:
        yield rows


# --------------------------------------------------------------------------------------------
# Figures.


@dataclass
class Figure:
    backend: str
    what: str
    business: str
    samples: list[float]  # milliseconds
    target_p95: float
    note: str = ""

    @property
    def p50(self) -> float:
        return percentile(self.samples, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)

    @property
    def passed(self) -> bool:
        return self.p95 < self.target_p95


@dataclass
class Intake:
    requests: int
    concurrency: int
    seconds: float
    latencies: list[float]
    events_written: int
    history_written: int
    server_cpu_s: float | None  # CPU the server process used while the requests ran

    @property
    def cpu_ms_per_booking(self) -> str:
        if self.server_cpu_s is None:
            return "n/a"
        return f"{self.server_cpu_s / self.requests * 1000:.1f}"

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def passed(self) -> bool:
        return self.per_second >= INTAKE_PER_S and self.events_written == self.requests


@dataclass
class Load:
    backend: str
    rows: int
    migrate_s: float
    load_s: float
    analyze_s: float


@dataclass
class Report:
    loads: list[Load] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    intakes: list[Intake] = field(default_factory=list)

    @property
    def capacity(self) -> Intake | None:
        """The intake run the target is judged on: the heaviest load."""
        return max(self.intakes, key=lambda i: i.concurrency, default=None)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --------------------------------------------------------------------------------------------
# Databases.


async def prepare(
    backend: str, url: str, specs: list[BusinessSpec], now: datetime, seed: int, say: Console
) -> Load:
    """Migrate a fresh database, bulk-load it and ANALYZE it."""
    started = time.perf_counter()
    db = open_database(url)  # the app's own set-up, as `juneplum migrate` has it
    try:
        await migrate.upgrade(db)
        migrated = time.perf_counter()
        await bulk_insert(
            db,
            insert(businesses),
            [
                {
                    "id": s.id,
                    "name": s.name,
                    "timezone": s.timezone,
                    "owner_email": f"owner{s.id}@example.com",
                    "currency": s.currency,
                    "api_key_hash": key_digest(s.api_key),
                    "created_at": now - timedelta(days=800),
                }
                for s in specs
            ],
        )
        if backend == "postgresql":
            query = text("SELECT setval(pg_get_serial_sequence('businesses', 'id'), :n)")
            await db.write(lambda conn: conn.execute(query, {"n": len(specs)}))
        batch = SQLITE_BATCH if backend == "sqlite" else PG_BATCH
        total = sum(s.size for s in specs)
        loaded = 0
        for rows in booking_batches(specs, now, seed, batch):
            await bulk_insert(db, insert(bookings), rows)
            loaded += len(rows)
            if loaded % 200_000 < batch:
                say.print(
                    f"  {backend}: {loaded:>9,} / {total:,} bookings "
                    f"({time.perf_counter() - migrated:5.1f} s)"
                )
        filled = time.perf_counter()
        await tidy(db, url)
    finally:
        await db.dispose()
    return Load(
        backend, loaded, migrated - started, filled - migrated, time.perf_counter() - filled
    )


# --------------------------------------------------------------------------------------------
# Views and actions through the desk.


async def timed(
    run: Callable[[], Awaitable[Reply]], repeat: int, warmup: int
) -> tuple[list[float], Reply]:
    """`repeat` timed runs after `warmup` untimed ones (PostgreSQL picks its generic plan for a
    prepared statement after five runs, so the warm-up reaches the steady state); a slow view
    stops after FIGURE_BUDGET_S once it has MIN_SAMPLES."""
    reply: Reply | None = None
    for _ in range(warmup):
        reply = await run()
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        reply = await run()
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= MIN_SAMPLES and time.perf_counter() - started > FIGURE_BUDGET_S:
            break
    assert reply is not None
    return samples, reply


def describe(reply: Reply) -> str:
    if isinstance(reply, BookingList):
        page = reply.page
        return f"{page.total}{'' if page.total_exact else '+'} found"
    if isinstance(reply, Problem):
        return "none found"
    return type(reply).__name__


async def measure_desk(
    backend: str,
    url: str,
    specs: list[BusinessSpec],
    repeat: int,
    confirms: int,
    seed: int,
) -> list[Figure]:
    services = build_services(Settings(database_url=url, _env_file=None))
    desk = services.desk
    big, typical = specs[0], typical_business(specs)
    label = {big.id: f"big ({big.size:,})", typical.id: f"typical ({typical.size:,})"}
    figures: list[Figure] = []
    try:
        views = [("today", "today", TODAY_P95_MS)] + [
            (f"search {kind}", f"search {term}", SEARCH_P95_MS)
            for kind, term in (
                (f"common “{COMMON_TERM}”", COMMON_TERM),
                (f"rare “{RARE_TERM}”", RARE_TERM),
                (f"rare CJK “{RARE_CJK_TERM}”", RARE_CJK_TERM),
            )
        ]
        for what, line, target in views:
            for spec in (typical, big):

                async def run(bid: int = spec.id, line: str = line) -> Reply:
                    return await desk.handle(bid, line, OWNER)

                samples, reply = await timed(run, repeat, warmup=6)
                figures.append(
                    Figure(backend, what, label[spec.id], samples, target, describe(reply))
                )
        figures.extend(await measure_confirms(backend, services, (typical, big), confirms, seed))
    finally:
        await services.aclose()
    return figures


async def measure_confirms(
    backend: str,
    services: Services,
    chosen: tuple[BusinessSpec, BusinessSpec],
    count: int,
    seed: int,
) -> list[Figure]:
    desk = services.desk
    now = datetime.now(UTC)
    figures = []
    for spec, share in zip(chosen, (count // 2, count - count // 2), strict=True):
        pending = select(bookings.c.id).where(
            bookings.c.business_id == spec.id,
            bookings.c.status == Status.PENDING.value,
            bookings.c.start_at > now,
        )

        def pending_ids(conn: Connection, query: Any = pending) -> list[int]:
            return list(conn.execute(query).scalars())

        ids = await services.db.read(pending_ids)
        random.Random(seed).shuffle(ids)
        ids = ids[:share]
        business = await desk.business(spec.id)
        samples = []
        for booking_id in ids:
            t0 = time.perf_counter()
            done = await desk.act(business, booking_id, Move.CONFIRM, OWNER)
            samples.append((time.perf_counter() - t0) * 1000)
            assert done.booking.status is Status.CONFIRMED, done
        kind = "big" if spec is chosen[1] else "typical"
        figures.append(
            Figure(
                backend,
                "confirm (Desk.act)",
                f"{kind} ({spec.size:,})",
                samples,
                CONFIRM_P95_MS,
                f"{len(samples)} pending bookings",
            )
        )
    return figures


# --------------------------------------------------------------------------------------------
# Intake over real HTTP: uvicorn in a child process, httpx here.


def intake_server(url: str, pipe: Pipe) -> None:
    """The child process: `juneplum serve`'s HTTP server on a free loopback port, no mail."""
    real_stderr = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull  # the server logs as in production, to nowhere
        try:
            runtime.run(_serve(url, pipe))
        except BaseException as exc:
            print(f"intake server failed: {exc!r}", file=real_stderr)
            raise


async def _serve(url: str, pipe: Pipe) -> None:
    from bot.server import http_server, listen

    settings = Settings(database_url=url, _env_file=None)
    logs.configure(settings.log_level, settings.log_format)
    services = build_services(settings)
    sock = listen("127.0.0.1", 0)
    try:
        pipe.send(sock.getsockname()[1])
        await http_server(services).serve(sockets=[sock])
    finally:
        sock.close()
        await services.aclose()


async def wait_until_up(port: int) -> None:
    """Wait for the server to answer /healthz (it binds before it serves)."""
    for _ in range(100):
        with contextlib.suppress(OSError, MalformedResponseError):
            health = await run_load("127.0.0.1", port, [Request("GET", "/healthz", {})], 1, 2.0)
            if health.statuses == {200: 1}:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the intake server did not answer /healthz")


def intake_body(
    rng: random.Random, spec: BusinessSpec, n: int, now: datetime, tag: str
) -> dict[str, Any]:
    service, minutes, price = rng.choice(spec.services)
    start = now + timedelta(days=rng.randrange(1, 90), minutes=15 * rng.randrange(0, 96))
    return {
        "customer": {
            "name": person(rng),
            "email": f"intake{n}@example.com",
            "phone": "+1 555 0100",
        },
        "service": {"name": service, "duration_minutes": minutes, "price": str(price)},
        "start": start.replace(second=0, microsecond=0).isoformat(),
        "payment": {
            "provider": "paypal",
            "transaction_id": f"INTAKE-{tag}-{n:07d}",
            "amount": str(price),
            "currency": spec.currency,
        },
        "notes": "Booked online" if n % 5 == 0 else None,
    }


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process, all its threads (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def count_rows(url: str) -> tuple[int, int]:
    def work(conn: Connection) -> tuple[int, int]:
        n_events = conn.execute(select(func.count()).select_from(events)).scalar_one()
        n_history = conn.execute(select(func.count()).select_from(booking_history)).scalar_one()
        return int(n_events), int(n_history)

    db = open_database(url)
    try:
        return await db.read(work)
    finally:
        await db.dispose()


async def measure_intake(
    url: str, specs: list[BusinessSpec], requests: int, concurrency: int, seed: int
) -> Intake:
    events_before, history_before = await count_rows(url)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=intake_server, args=(url, child), name="bench-intake")
    server.start()
    try:
        if not await asyncio.to_thread(parent.poll, 30) or not server.is_alive():
            raise RuntimeError("the intake server did not start (see its error above)")
        port = parent.recv()
        rng = random.Random(seed + 2)
        now = datetime.now(UTC)
        tag = f"{now:%H%M%S%f}"  # a second run on the same database makes new bookings
        jobs = []
        for n in range(requests):
            spec = rng.choice(specs)
            jobs.append((spec, intake_body(rng, spec, n, now, tag), f"bench-{tag}-{n}"))
        requests_out = [
            Request(
                "POST",
                "/api/bookings",
                {
                    "Authorization": f"Bearer {spec.api_key}",
                    "Idempotency-Key": key,
                    "Content-Type": "application/json",
                },
                json.dumps(body).encode(),
            )
            for spec, body, key in jobs
        ]
        await wait_until_up(port)
        cpu_before = process_cpu_s(server.pid)
        result = await run_load("127.0.0.1", port, requests_out, concurrency)
        cpu_after = process_cpu_s(server.pid)
    finally:
        server.terminate()  # SIGTERM: uvicorn shuts down cleanly
        await asyncio.to_thread(server.join, 15)
        if server.is_alive():
            server.kill()
            await asyncio.to_thread(server.join, 5)
    if result.statuses != {201: requests}:
        raise RuntimeError(f"intake answered {result.statuses}, expected {requests} x 201")
    events_after, history_after = await count_rows(url)
    return Intake(
        requests,
        concurrency,
        result.seconds,
        result.latencies_ms,
        events_after - events_before,
        history_after - history_before,
        None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )


# --------------------------------------------------------------------------------------------
# Printing.


def verdict(passed: bool) -> str:
    return "[bold green]PASS[/]" if passed else "[bold red]MISS[/]"


def show(report: Report, shape: Shape, say: Console) -> None:
    loads = Table(title="Bulk load (SQLAlchemy Core executemany)", title_justify="left")
    for column in ("Backend", "Bookings", "Migrate s", "Load s", "Rows/s", "ANALYZE s"):
        loads.add_column(column, justify="left" if column == "Backend" else "right")
    for load in report.loads:
        loads.add_row(
            load.backend,
            f"{load.rows:,}",
            f"{load.migrate_s:.1f}",
            f"{load.load_s:.1f}",
            f"{load.rows / load.load_s:,.0f}",
            f"{load.analyze_s:.1f}",
        )
    say.print(loads)

    if report.intakes:
        table = Table(
            title="Intake API on SQLite: POST /api/bookings over HTTP (uvicorn, httptools, uvloop)",
            title_justify="left",
        )
        columns = ("Requests", "Concurrency", "Bookings/s", "p50 ms", "p95 ms", "Events")
        for column in (*columns, "Server CPU ms/booking"):
            table.add_column(column, justify="right")
        table.add_column("Target")
        table.add_column("Result")
        for intake in report.intakes:
            judged = intake is report.capacity
            table.add_row(
                f"{intake.requests:,}",
                str(intake.concurrency),
                f"{intake.per_second:,.0f}",
                f"{percentile(intake.latencies, 0.5):.1f}",
                f"{percentile(intake.latencies, 0.95):.1f}",
                f"{intake.events_written:,}",
                intake.cpu_ms_per_booking,
                f">= {INTAKE_PER_S:.0f}/s" if judged else "(info)",
                verdict(intake.passed) if judged else "",
            )
        say.print(table)

    views = Table(
        title="Desk views (Desk.handle) and Confirm (Desk.act), milliseconds",
        title_justify="left",
    )
    for column in ("Backend", "What", "Business", "n", "p50", "p95", "Target p95", "Result"):
        views.add_column(column, justify="right" if column in ("n", "p50", "p95") else "left")
    views.add_column("Answer")
    last = ""
    for figure in report.figures:
        if last and figure.backend != last:
            views.add_section()
        last = figure.backend
        views.add_row(
            figure.backend,
            figure.what,
            figure.business,
            str(len(figure.samples)),
            f"{figure.p50:.2f}",
            f"{figure.p95:.2f}",
            f"< {figure.target_p95:g}",
            verdict(figure.passed),
            figure.note,
        )
    say.print(views)
    missed = [f for f in report.figures if not f.passed]
    intake_missed = report.capacity is not None and not report.capacity.passed
    if intake_missed:
        say.print("[bold red]MISS[/] intake throughput")
    for figure in missed:
        say.print(
            f"[bold red]MISS[/] {figure.backend} {figure.what} for the {figure.business} business:"
            f" p95 {figure.p95:.1f} ms (target < {figure.target_p95:g} ms)"
        )
    if not missed and not intake_missed:
        say.print("[bold green]Every target met.[/]")
    say.print(
        f"[dim]{shape.bookings:,} bookings over {shape.businesses} businesses, "
        f"the big one {shape.big:,}; seed {shape.seed}.[/]"
    )


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake_and_queries", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--businesses", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000, help="bookings of the big business")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=200, help="timed runs of each view")
    parser.add_argument("--confirms", type=int, default=400, help="Confirms timed per backend")
    parser.add_argument("--intake-requests", type=int, default=3000)
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[8, 32],
        help="intake requests in flight, one run each; the target is judged at the heaviest",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL, help="server admin URL")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes (default: temp)")
    parser.add_argument(
        "--keep", action="store_true", help="keep both databases afterwards, for a look inside"
    )
    args = parser.parse_args(argv)
    if args.businesses < 1 or not 0 < args.big <= args.bookings:
        parser.error("need at least one business and 0 < --big <= --bookings")
    if args.businesses > 1 and args.bookings - args.big < args.businesses - 1:
        parser.error("too few bookings for that many businesses")
    return args


async def run(args: argparse.Namespace, say: Console) -> Report:
    shape = Shape(args.bookings, args.businesses, args.big, args.seed)
    specs = plan_businesses(shape)
    now = datetime.now(UTC)
    report = Report()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="juneplum-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sqlite_url = f"sqlite:///{workdir / 'bench.db'}"
    pg_url = make_url(args.postgres_url).set(database=PG_DB).render_as_string(hide_password=False)
    try:
        for backend in backends:
            if backend == "sqlite":
                url = sqlite_url
                for suffix in ("", "-wal", "-shm"):
                    (workdir / f"bench.db{suffix}").unlink(missing_ok=True)
            else:
                url = pg_url
                await admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                await admin(args.postgres_url, f'CREATE DATABASE "{PG_DB}"')
            say.print(f"[bold]{backend}[/]: migrating and loading {shape.bookings:,} bookings")
            report.loads.append(await prepare(backend, url, specs, now, args.seed, say))
            say.print(f"[bold]{backend}[/]: timing the desk")
            report.figures.extend(
                await measure_desk(backend, url, specs, args.repeat, args.confirms, args.seed)
            )
            if backend == "sqlite":
                say.print(f"[bold]{backend}[/]: timing intake over HTTP")
                for n, concurrency in enumerate(args.concurrency):
                    report.intakes.append(
                        await measure_intake(
                            url, specs, args.intake_requests, concurrency, args.seed + 10 * n
                        )
                    )
    finally:
        if args.keep:
            kept = {"sqlite": sqlite_url, "postgresql": pg_url}
            say.print(f"[dim]kept: {', '.join(kept[b] for b in backends)}[/]")
        else:
            if args.backend != "sqlite":
                await admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                for suffix in ("", "-wal", "-shm"):
                    (workdir / f"bench.db{suffix}").unlink(missing_ok=True)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = Console(highlight=False, width=max(150, shutil.get_terminal_size().columns))
    logs.configure("warning")  # the desk's loggers stay quiet on stdout
    started = time.perf_counter()
    before = speed_reference()
    say.print(f"[dim]load average before: {load_average()}; speed reference {before:.0f} ms[/]")
    report = asyncio.run(run(args, say))
    show(report, Shape(args.bookings, args.businesses, args.big, args.seed), say)
    say.print(
        f"[dim]Total run time {time.perf_counter() - started:.0f} s; "
        f"load average after: {load_average()} ({os.cpu_count()} cores); speed reference "
        f"{before:.0f} ms before, {speed_reference():.0f} ms after (lower is faster).[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
