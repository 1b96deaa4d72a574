"""The booking store: every change and its history and events in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    column,
    func,
    insert,
    literal_column,
    select,
    table,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core import events as domain_events
from core.errors import IdempotencyConflict
from core.events import Event
from core.folding import search_text
from core.lifecycle import Move, Status
from core.model import Actor, Booking, Business, HistoryEntry, NewBooking, Page
from core.ports import BookingFilter
from storage import rows
from storage.engine import READ_ONLY
from storage.event_feed import EventHook, record_events
from storage.tables import booking_history, bookings, businesses, intake_keys

# Lists fetch ids up to this many past the page in one scan, so the total is exact for small
# results and shown as "N+" for big ones instead of counting a whole business on every page.
COUNT_HORIZON = 200


class SqlBookingStore:
    """Bookings on SQLite or PostgreSQL, behind the core's BookingStore port."""

    def __init__(self, engine: AsyncEngine, *, event_hooks: Sequence[EventHook] = ()) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._hooks = list(event_hooks)
        self._dialect = engine.dialect.name

    async def get_business(self, business_id: int) -> Business | None:
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(select(businesses).where(businesses.c.id == business_id))
            ).first()
        return rows.business(row) if row else None

    async def get_booking(self, business_id: int, booking_id: int) -> Booking | None:
        async with self._reader.connect() as conn:
            return await self._load(conn, business_id, booking_id)

    async def _load(
        self, conn: AsyncConnection, business_id: int, booking_id: int
    ) -> Booking | None:
        row = (
            await conn.execute(
                select(bookings).where(
                    bookings.c.id == booking_id, bookings.c.business_id == business_id
                )
            )
        ).first()
        if row is None:
            return None
        entries = (
            await conn.execute(
                select(booking_history)
                .where(booking_history.c.booking_id == booking_id)
                .order_by(booking_history.c.id)
            )
        ).all()
        return rows.booking(row, [rows.history(e) for e in entries])

    async def find_bookings(self, business_id: int, query: BookingFilter) -> Page:
        async with self._reader.connect() as conn:
            return await self._find(conn, business_id, query)

    async def _find(self, conn: AsyncConnection, business_id: int, query: BookingFilter) -> Page:
        conditions: list[ColumnElement[bool]] = [bookings.c.business_id == business_id]
        if query.term and await self._few_fts_matches(conn, query.term):
            # A rare term: start from its few trigram matches, not the business's every row.
            conditions = [
                bookings.c.id.in_(select(_FTS_ROWID).where(_fts_match(query.term))),
                literal_column("+bookings.business_id") == business_id,
            ]
        if query.start_from is not None:
            conditions.append(bookings.c.start_at >= query.start_from)
        if query.start_before is not None:
            conditions.append(bookings.c.start_at < query.start_before)
        if query.status is not None:
            conditions.append(bookings.c.status == query.status.value)
        if query.term:
            conditions.append(self._matches(query.term))
        order = (
            (bookings.c.start_at.desc(), bookings.c.id.desc())
            if query.newest_first
            else (bookings.c.start_at, bookings.c.id)
        )
        offset = (query.page - 1) * query.per_page
        horizon = offset + query.per_page + COUNT_HORIZON
        ids = (
            (
                await conn.execute(
                    select(bookings.c.id).where(and_(*conditions)).order_by(*order).limit(horizon)
                )
            )
            .scalars()
            .all()
        )
        page_ids = list(ids[offset : offset + query.per_page])
        found = (
            (await conn.execute(select(bookings).where(bookings.c.id.in_(page_ids)))).all()
            if page_ids
            else []
        )
        by_id = {row.id: rows.booking(row) for row in found}
        return Page(
            bookings=[by_id[i] for i in page_ids],
            total=len(ids),
            page=query.page,
            per_page=query.per_page,
            total_exact=len(ids) < horizon,
        )

    async def _few_fts_matches(self, conn: AsyncConnection, folded_term: str) -> bool:
        """On SQLite, whether the trigram index holds few enough matches to start from.

        Measured on 1M bookings: a scan of one business through its index answers a common
        term fast but a rare one slowly (100k rows: 13 ms); the trigram index answers a rare
        term in under a millisecond but a common one slowly. So: probe, then choose.
        """
        if self._dialect != "sqlite" or len(folded_term) < 3:  # trigrams need 3 characters
            return False
        probe = select(func.count()).select_from(
            select(_FTS_ROWID).where(_fts_match(folded_term)).limit(FTS_CANDIDATES + 1).subquery()
        )
        return int((await conn.execute(probe)).scalar_one()) <= FTS_CANDIDATES

    def _matches(self, folded_term: str) -> ColumnElement[bool]:
        # Both sides are folded in Python, so SQLite and PostgreSQL give the same answers.
        if self._dialect == "sqlite":
            return func.instr(bookings.c.search_text, folded_term) > 0
        # LIKE with escaping lets PostgreSQL use the trigram index; % and _ stay literal.
        return bookings.c.search_text.contains(folded_term, autoescape=True)

    async def starts_between(
        self, business_id: int, start: datetime, end: datetime
    ) -> list[datetime]:
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(bookings.c.start_at).where(
                    bookings.c.business_id == business_id,
                    bookings.c.start_at >= start,
                    bookings.c.start_at < end,
                    bookings.c.status != Status.CANCELLED.value,
                )
            )
            return list(result.scalars().all())

    async def overlapping(self, booking: Booking) -> list[Booking]:
        async with self._reader.connect() as conn:
            result = await conn.execute(
                select(bookings)
                .where(
                    bookings.c.business_id == booking.business_id,
                    bookings.c.id != booking.id,
                    bookings.c.status.in_([Status.PENDING.value, Status.CONFIRMED.value]),
                    bookings.c.start_at < booking.end_at,
                    bookings.c.end_at > booking.start_at,
                    # bounds the index scan: nothing lasts longer than a day
                    bookings.c.start_at > booking.start_at - _A_DAY,
                )
                .order_by(bookings.c.start_at)
            )
            return [rows.booking(r) for r in result.all()]

    async def find_repeat(self, business_id: int, new: NewBooking) -> Booking | None:
        async with self._reader.connect() as conn:
            existing = await self._existing(conn, business_id, new)
            return None if existing is None else await self._load(conn, business_id, existing)

    async def create_booking(
        self, business_id: int, new: NewBooking, actor: Actor, at: datetime
    ) -> tuple[Booking, bool]:
        for _ in range(3):
            try:
                async with self._engine.begin() as conn:
                    existing = await self._existing(conn, business_id, new)
                    if existing is not None:
                        found = await self._load(conn, business_id, existing)
                        if found is not None:
                            return found, False
                    return await self._insert(conn, business_id, new, actor, at), True
            except IntegrityError:
                continue  # an identical request committed first: the next pass finds it
        raise RuntimeError("could not store the booking after repeated conflicts")

    async def _existing(
        self, conn: AsyncConnection, business_id: int, new: NewBooking
    ) -> int | None:
        if new.idempotency_key:
            row = (
                await conn.execute(
                    select(intake_keys.c.fingerprint, intake_keys.c.booking_id).where(
                        intake_keys.c.business_id == business_id,
                        intake_keys.c.key == new.idempotency_key,
                    )
                )
            ).first()
            if row is not None:
                if row.fingerprint != new.fingerprint:
                    raise IdempotencyConflict(new.idempotency_key)
                return int(row.booking_id)
        found = (
            await conn.execute(
                select(bookings.c.id).where(
                    bookings.c.business_id == business_id,
                    bookings.c.payment_provider == new.payment.provider.value,
                    bookings.c.transaction_id == new.payment.transaction_id,
                )
            )
        ).scalar()
        return int(found) if found is not None else None

    async def _insert(
        self, conn: AsyncConnection, business_id: int, new: NewBooking, actor: Actor, at: datetime
    ) -> Booking:
        values = _booking_values(business_id, new, at)
        row = (await conn.execute(_INSERT_BOOKING, values)).one()
        entry = HistoryEntry(at=at, actor=actor, from_status=None, to_status=Status.PENDING)
        booking = rows.booking(row, [entry])
        await conn.execute(insert(booking_history).values(rows.history_values(booking.id, entry)))
        if new.idempotency_key:
            await conn.execute(
                insert(intake_keys).values(
                    business_id=business_id,
                    key=new.idempotency_key,
                    fingerprint=new.fingerprint,
                    booking_id=booking.id,
                    created_at=at,
                )
            )
        await self._record(conn, [domain_events.booking_created(booking, actor)])
        return booking

    async def move_booking(
        self, booking: Booking, move: Move, actor: Actor, reason: str | None, at: datetime
    ) -> bool:
        async with self._engine.begin() as conn:
            # The conditional update is the lock: exactly one of two racing moves changes a row.
            changed = await conn.execute(
                update(bookings)
                .where(
                    bookings.c.id == booking.id,
                    bookings.c.business_id == booking.business_id,
                    bookings.c.status == booking.status.value,
                )
                .values(status=move.target.value, updated_at=at)
            )
            if changed.rowcount != 1:
                return False
            entry = HistoryEntry(
                at=at, actor=actor, from_status=booking.status, to_status=move.target, reason=reason
            )
            await conn.execute(
                insert(booking_history).values(rows.history_values(booking.id, entry))
            )
            await self._record(
                conn, [domain_events.booking_moved(booking, move, actor, at, reason)]
            )
            return True

    async def _record(self, conn: AsyncConnection, new_events: Sequence[Event]) -> None:
        await record_events(conn, new_events, self._hooks)


def _booking_values(business_id: int, new: NewBooking, at: datetime) -> dict[str, Any]:
    booking_start = new.start_at
    return {
        "business_id": business_id,
        "customer_name": new.customer.name,
        "customer_email": new.customer.email,
        "customer_phone": new.customer.phone,
        "service_name": new.service.name,
        "duration_minutes": new.service.duration_minutes,
        "price": new.service.price,
        "start_at": booking_start,
        "end_at": booking_start + timedelta(minutes=new.service.duration_minutes),
        "status": Status.PENDING.value,
        "payment_provider": new.payment.provider.value,
        "transaction_id": new.payment.transaction_id,
        "amount": new.payment.amount,
        "currency": new.payment.currency,
        "payment_status": new.payment.status.value,
        "notes": new.notes,
        "search_text": search_text(new.customer.name, new.service.name),
        "created_at": at,
        "updated_at": at,
    }


_A_DAY = timedelta(days=1)
FTS_CANDIDATES = 5000
_FTS = table("bookings_fts", column("rowid"))
_FTS_ROWID = _FTS.c.rowid


def _fts_match(folded_term: str) -> ColumnElement[bool]:
    """The term as one FTS5 phrase: a literal substring, quotes doubled, no operators."""
    phrase = '"' + folded_term.replace('"', '""') + '"'
    return literal_column("bookings_fts").op("MATCH")(phrase)


_INSERT_BOOKING = insert(bookings).returning(*bookings.c)  # built once; values come per call
