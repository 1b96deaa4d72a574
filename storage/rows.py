"""Rows to domain objects and back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from core.events import Event, EventKind
from core.lifecycle import Status
from core.model import (
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    Customer,
    HistoryEntry,
    Note,
    Payment,
    PaymentStatus,
    Provider,
    Refund,
    RefundState,
    Service,
)


def business(row: Row[Any]) -> Business:
    return Business(
        id=row.id,
        name=row.name,
        timezone=row.timezone,
        owner_email=row.owner_email,
        currency=row.currency,
        gct_rate=row.gct_rate,
    )


def actor(kind: str, channel: str, name: str, person_id: str = "") -> Actor:
    return Actor(kind=ActorKind(kind), channel=Channel(channel), name=name, person_id=person_id)


def history(row: Row[Any], prefix: str = "") -> HistoryEntry:
    """An entry from a booking_history row, or from its columns labelled `prefix` + name
    in a row that joins it (a booking read with its history in one statement)."""
    values = row._mapping
    from_status = values[f"{prefix}from_status"]
    note = values[f"{prefix}note"]
    return HistoryEntry(
        at=values[f"{prefix}at"],
        actor=actor(
            values[f"{prefix}actor_kind"],
            values[f"{prefix}channel"],
            values[f"{prefix}actor_name"],
            values[f"{prefix}actor_id"],
        ),
        from_status=Status(from_status) if from_status else None,
        to_status=Status(values[f"{prefix}to_status"]),
        reason=values[f"{prefix}reason"],
        note=Note(note) if note else None,
        moved_from=values.get(f"{prefix}moved_from"),
        moved_to=values.get(f"{prefix}moved_to"),
    )


def booking(row: Row[Any], entries: Sequence[HistoryEntry] = ()) -> Booking:
    return Booking(
        id=row.id,
        business_id=row.business_id,
        customer=Customer(row.customer_name, row.customer_email, row.customer_phone),
        service=Service(row.service_name, row.duration_minutes, row.price),
        start_at=row.start_at,
        status=Status(row.status),
        payment=Payment(
            provider=Provider(row.payment_provider),
            transaction_id=row.transaction_id,
            amount=row.amount,
            currency=row.currency,
            status=PaymentStatus(row.payment_status),
        ),
        created_at=row.created_at,
        notes=row.notes,
        history=tuple(entries),
        refund=Refund(
            RefundState(row.refund_state), row.refund_amount, row.currency, row.refund_issued_at
        ),
        review_reason=row.review_reason if row.needs_review else None,
    )


def event(row: Row[Any]) -> Event:
    return Event(
        id=row.id,
        kind=EventKind(row.kind),
        business_id=row.business_id,
        booking_id=row.booking_id,
        occurred_at=row.occurred_at,
        actor=actor(row.actor_kind, row.channel, row.actor_name, row.actor_id),
        data=dict(row.data),
    )


def event_values(e: Event) -> dict[str, Any]:
    return {
        "business_id": e.business_id,
        "booking_id": e.booking_id,
        "kind": e.kind.value,
        "occurred_at": e.occurred_at,
        "actor_kind": e.actor.kind.value,
        "actor_name": e.actor.name,
        "actor_id": e.actor.person_id,
        "channel": e.actor.channel.value,
        "data": e.data,
    }


def history_values(booking_id: int, entry: HistoryEntry) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "at": entry.at,
        "actor_kind": entry.actor.kind.value,
        "actor_name": entry.actor.name,
        "channel": entry.actor.channel.value,
        "from_status": entry.from_status.value if entry.from_status else None,
        "to_status": entry.to_status.value,
        "reason": entry.reason,
        "actor_id": entry.actor.person_id,
        "note": entry.note.value if entry.note else None,
        "moved_from": entry.moved_from,
        "moved_to": entry.moved_to,
    }
