"""A demo business with a realistic spread of bookings, seeded once."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal

from bot.app import Services
from bot.keys import new_api_key
from core.lifecycle import Move, Status
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

DEMO_NAME = "Plum & Pine Studio (demo)"
DEMO_ZONE = "America/New_York"

SERVICES = [
    Service("Haircut", 45, Decimal("45.00")),
    Service("Colour & cut", 120, Decimal("140.00")),
    Service("Beard trim", 20, Decimal("20.00")),
    Service("Blow-dry", 30, Decimal("35.00")),
    Service("Consultation", 15, Decimal("0.00")),
]
CUSTOMERS = [
    Customer("Ana Silva", "ana.silva@example.com", "+1 305 555 0101"),
    Customer("Élodie Martin", "elodie@example.fr", "+33 6 12 34 56 78"),
    Customer("Zoë Kowalski", "zoe.k@example.com", None),
    Customer("Marcus Chen", "marcus.chen@example.com", "(212) 555-0199"),
    Customer("Priya Raman", "priya@example.in", "+91 98765 43210"),
    Customer("佐藤 花子", "hanako.sato@example.jp", None),
    Customer("Jonas Weber", "jonas.weber@example.de", "+49 30 1234567"),
    Customer("Fatima Al-Sayed", "fatima@example.com", None),
    Customer("Liam O'Connor", "liam.oconnor@example.ie", "+353 87 123 4567"),
    Customer("Sofia Rossi", "sofia.rossi@example.it", None),
    Customer("Kwame Mensah", "kwame@example.com", "+233 20 123 4567"),
    Customer("Ingrid Johansson", "ingrid@example.se", None),
]
OWNER = Actor(ActorKind.OWNER, Channel.CLI, "demo owner")
PAGE = Actor(ActorKind.SYSTEM, Channel.API, "booking page")


async def seed_demo(
    services: Services, owner_email: str = "owner@example.com"
) -> tuple[Business | None, str | None]:
    """Create the demo business and 60 bookings around today; (None, None) if it exists.

    Returns the business and its API key, which is shown once and stored only as a digest.
    """
    if any(b.name == DEMO_NAME for b in await services.businesses.all()):
        return None, None
    api_key = new_api_key()
    now = services.clock.now()
    business = await services.businesses.add(
        name=DEMO_NAME,
        timezone=DEMO_ZONE,
        owner_email=owner_email,
        currency="USD",
        api_key=api_key,
        at=now,
    )
    rng = random.Random(42)  # noqa: S311 - demo data, not security
    zone = business.zone
    today = now.astimezone(zone).date()
    store = services.store
    for n in range(60):
        day = today + timedelta(days=rng.randint(-14, 14))
        if n < 5:
            day = today  # a busy today
        start = datetime.combine(
            day, time(rng.randint(9, 17), rng.choice([0, 15, 30, 45])), tzinfo=zone
        )
        if n == 5:  # an overlap for the owner to notice
            start = datetime.combine(today, time(11, 0), tzinfo=zone)
        service, customer = rng.choice(SERVICES), rng.choice(CUSTOMERS)
        provider = rng.choice(list(Provider))
        txn = f"{'PP' if provider is Provider.PAYPAL else 'INK'}-DEMO-{n:04d}"
        created_at = min(now, start - timedelta(days=rng.randint(1, 10)))
        booking, _ = await store.create_booking(
            business.id,
            NewBooking(
                customer=customer,
                service=service,
                start_at=start,
                payment=Payment(provider, txn, service.price or Decimal("0.00"), "USD"),
                notes="Prefers the window seat" if n % 9 == 0 else None,
            ),
            PAGE,
            created_at,
        )
        past = start < now
        roll = rng.random()
        if roll < 0.12:
            await store.move_booking(
                booking, Move.CANCEL, OWNER, "Customer asked to reschedule", created_at
            )
            continue
        if past or roll < 0.55:
            await store.move_booking(booking, Move.CONFIRM, OWNER, None, created_at)
            if past and start + timedelta(minutes=service.duration_minutes) < now:
                confirmed = replace(booking, status=Status.CONFIRMED)
                await store.move_booking(confirmed, Move.COMPLETE, OWNER, None, now)
    # The seed's own emails would go to made-up customers: drop them. Reminders for the
    # future demo bookings stay, so a running `make run` shows them in var/mail/.
    await services.outbox.skip_queued(business.id, "demo data")
    return business, api_key
