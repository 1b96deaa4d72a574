"""`revenue` on both databases: JMD and USD in one business, each booking in the status the
owner left it, the figures checked against sums this test makes itself; a month's edges in the
business's zone across a clock change; the report as the console and Telegram show it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from bot.app import Services
from core.lifecycle import Move
from core.model import Business, NewBooking, Payment, Provider, Service
from core.replies import RevenueReport
from tests.conftest import OWNER, PAGE, new_booking

JAMAICA = ZoneInfo("America/Jamaica")
NEW_YORK = ZoneInfo("America/New_York")


async def spa(services: Services) -> Business:
    business = await services.businesses.add(
        name="Blue Mountain Spa",
        timezone="America/Jamaica",
        owner_email="owner@spa.example",
        currency="JMD",
        api_key="jp_test_key_spa",
        at=datetime(2026, 11, 1, tzinfo=UTC),
        gct_rate=Decimal(15),
    )
    assert business.gct_rate == Decimal(15)
    return business


@dataclass(frozen=True)
class Made:
    """A booking as the test made it: what the figures must count it as."""

    currency: str
    amount: Decimal
    service: str
    outcome: str  # completed, confirmed, pending, cancelled, refunded (cancelled, refund issued)


def paid(start: datetime, service: str, amount: str, currency: str, txn: str) -> NewBooking:
    provider = Provider.INKRESS if currency == "JMD" else Provider.PAYPAL
    return replace(
        new_booking(start=start, txn=txn, service=service),
        service=Service(service, 60, Decimal(amount)),
        payment=Payment(provider, txn, Decimal(amount), currency),
    )


async def make(services: Services, business: Business, plan: list[tuple[Made, datetime]]) -> None:
    desk = services.desk
    for n, (made, start) in enumerate(plan):
        new = paid(start, made.service, str(made.amount), made.currency, f"T{n}")
        booking, _ = await desk.intake(business, new, PAGE)
        moves = {
            "completed": [Move.CONFIRM, Move.COMPLETE],
            "confirmed": [Move.CONFIRM],
            "pending": [],
            "cancelled": [Move.CANCEL],
            "refunded": [Move.CONFIRM, Move.CANCEL],
        }[made.outcome]
        for move in moves:
            await desk.act(business, booking.id, move, OWNER)
        if made.outcome == "refunded":
            await desk.refund_issued(business, booking.id, OWNER)


def dec(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=JAMAICA)


PLAN = [
    (Made("JMD", Decimal("12000.00"), "Massage", "completed"), dec(1, 0)),  # the first hour
    (Made("JMD", Decimal("12000.50"), "Massage", "completed"), dec(3, 10)),
    (Made("JMD", Decimal("4575.25"), "Facial", "completed"), dec(4, 11)),
    (Made("JMD", Decimal("5000.00"), "Facial", "confirmed"), dec(10, 9)),
    (Made("JMD", Decimal("3000.00"), "Scrub", "pending"), dec(12, 15)),
    (Made("JMD", Decimal("8000.00"), "Massage", "cancelled"), dec(14, 16)),
    (Made("JMD", Decimal("6000.00"), "Facial", "refunded"), dec(15, 9)),
    (Made("USD", Decimal("80.00"), "Massage", "completed"), dec(16, 10)),
    (Made("USD", Decimal("95.50"), "Massage", "confirmed"), dec(20, 10)),
    (Made("USD", Decimal("40.00"), "Facial", "refunded"), dec(31, 23)),  # the last hour
]
OUTSIDE = [  # a minute either side of December in Kingston
    (
        Made("JMD", Decimal("99999.00"), "Massage", "completed"),
        datetime(2026, 11, 30, 23, 59, tzinfo=JAMAICA),
    ),
    (
        Made("USD", Decimal("999.00"), "Massage", "confirmed"),
        datetime(2027, 1, 1, 0, 0, tzinfo=JAMAICA),
    ),
]


def expected(plan: list[tuple[Made, datetime]], currency: str) -> dict[str, tuple[int, Decimal]]:
    """The figures, summed here from what the test did, not by the code under test."""
    mine = [m for m, _ in plan if m.currency == currency]

    def total(*outcomes: str) -> tuple[int, Decimal]:
        picked = [m.amount for m in mine if m.outcome in outcomes]
        return len(picked), sum(picked, Decimal(0))

    return {
        "completed": total("completed"),
        "confirmed": total("confirmed"),
        "pending": total("pending"),
        "cancelled": total("cancelled", "refunded"),
        "refunds_owed": total("cancelled"),
        "refunds_issued": total("refunded"),
    }


def gct_in(amounts: list[Decimal]) -> Decimal:
    return sum(
        ((a * 15 / 115).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for a in amounts),
        Decimal(0),
    )


async def test_revenue_counts_jmd_and_usd_apart_and_matches_sums_made_independently(
    services: Services, business: Business
) -> None:
    shop = await spa(services)
    await make(services, shop, PLAN + OUTSIDE)
    # Another business's December never counts.
    await services.desk.intake(business, new_booking(start=datetime(2026, 12, 5, tzinfo=UTC)), PAGE)

    report = await services.desk.handle(shop.id, "revenue 2026-12", OWNER)

    assert isinstance(report, RevenueReport)
    assert [c.currency for c in report.revenue.currencies] == ["JMD", "USD"]
    for figures in report.revenue.currencies:
        want = expected(PLAN, figures.currency)
        for name, (count, amount) in want.items():
            got = getattr(figures, name)
            assert (got.count, got.money.amount, got.money.currency) == (
                count,
                amount,
                figures.currency,
            ), (figures.currency, name)
        completed = [
            m.amount for m, _ in PLAN if (m.currency, m.outcome) == (figures.currency, "completed")
        ]
        assert figures.gct is not None and figures.gct.amount == gct_in(completed)

    jmd, usd = (dict(s.lines) for s in report.sections)
    assert [s.heading for s in report.sections] == ["JMD", "USD"]
    assert jmd["Completed"] == "J$28,575.75 · 3 bookings"
    assert (
        jmd["GCT 15% in completed"]
        == f"J${gct_in([Decimal('12000.00'), Decimal('12000.50'), Decimal('4575.25')]):,}"
    )
    assert jmd["To come: confirmed"] == "J$5,000.00 · 1 booking"
    assert jmd["To come: pending"] == "J$3,000.00 · 1 booking"
    assert jmd["Cancelled"] == "J$14,000.00 · 2 bookings"
    assert jmd["Refunds owed"] == "J$8,000.00 · 1 booking"
    assert jmd["Refunds issued"] == "J$6,000.00 · 1 booking"
    assert jmd["Top services"] == (
        "Massage J$24,000.50 (2) · Facial J$9,575.25 (2) · Scrub J$3,000.00 (1)"
    )
    assert usd["Completed"] == "US$80.00 · 1 booking"
    assert usd["Refunds issued"] == "US$40.00 · 1 booking"
    assert usd["Top services"] == "Massage US$175.50 (2)"
    assert report.title == "Revenue · December 2026"
    assert report.note.startswith("Appointments from 1 Dec 2026 to 31 Dec 2026 (America/Jamaica)")


async def test_this_month_is_the_default_and_an_empty_span_says_so(
    services: Services, business: Business
) -> None:
    report = await services.desk.handle(business.id, "revenue", OWNER)
    assert isinstance(report, RevenueReport)
    assert report.title == "Revenue · November 2026" and report.sections == ()
    assert report.note == "No bookings from 1 Nov 2026 to 30 Nov 2026 (America/New_York)."
    ranged = await services.desk.handle(business.id, "revenue 2026-01-01..2026-03-31", OWNER)
    assert isinstance(ranged, RevenueReport) and ranged.title == "Revenue · 2026-01-01..2026-03-31"


async def test_a_month_s_edges_are_its_own_midnights_across_a_clock_change(
    services: Services, business: Business
) -> None:
    # New York moves to EDT on 14 March 2027: March ends at midnight EDT (04:00 UTC), not EST.
    inside = [
        datetime(2027, 3, 1, 0, 0, tzinfo=NEW_YORK),
        datetime(2027, 3, 31, 23, 59, tzinfo=NEW_YORK),
    ]
    outside = [
        datetime(2027, 2, 28, 23, 59, tzinfo=NEW_YORK),
        datetime(2027, 4, 1, 0, 0, tzinfo=NEW_YORK),
    ]
    for n, start in enumerate(inside + outside):
        new = paid(start, "Haircut", "45.00", "USD", f"D{n}")
        await services.desk.intake(business, new, PAGE)
    report = await services.desk.handle(business.id, "revenue 2027-03", OWNER)
    assert isinstance(report, RevenueReport)
    (usd,) = report.revenue.currencies
    assert (usd.pending.count, usd.pending.money.amount) == (2, Decimal("90.00"))
    april_first = datetime(2027, 4, 1, 0, 0, tzinfo=NEW_YORK).astimezone(UTC)
    assert april_first == datetime(2027, 4, 1, 4, 0, tzinfo=UTC)


async def test_the_revenue_reads_bookings_a_chunk_at_a_time_in_order(
    services: Services, business: Business
) -> None:
    for n in range(7):
        start = datetime(
            2026, 12, 1 + n % 3, 10, 0, tzinfo=NEW_YORK
        )  # several at one time: ordered by id
        await services.desk.intake(business, paid(start, "Cut", "10.00", "USD", f"C{n}"), PAGE)
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    read = [b async for b in services.store.bookings_between(business.id, start, end, chunk=2)]
    assert len(read) == 7 and len({b.id for b in read}) == 7
    assert read == sorted(read, key=lambda b: (b.start_at, b.id))
    assert all(len(b.history) == 1 for b in read)
