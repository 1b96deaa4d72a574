"""The booking store: every change and its history and events in one transaction."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from core import events as domain_events
from core import payments
from core.errors import IdempotencyConflict
from core.events import Event
from core.folding import search_text
from core.lifecycle import Move, Status
from core.model import (
    Actor,
    Booking,
    Business,
    CustomerRecord,
    HistoryEntry,
    NewBooking,
    Note,
    Page,
    PaymentStatus,
    RefundState,
)
from core.ports import BookingFilter, BookingInContext
from storage import rows, search_index
from storage.database import Database
from storage.event_feed import EventHook, event_rows, record_events
from storage.outbox import replan_reminders
from storage.recent import Recent
from storage.tables import booking_history, bookings, businesses, closeout_prompts, intake_keys
from storage.writes import Guarded, Rows, run_guarded

# Lists fetch ids up to this many past the page in one scan, so the total is exact for small
# results and shown as "N+" for big ones instead of counting a whole business on every page.
COUNT_HORIZON = 200


class SqlBookingStore:
    """Bookings on SQLite or PostgreSQL, behind the core's BookingStore port."""

    def __init__(self, db: Database, *, event_hooks: Sequence[EventHook] = ()) -> None:
        self._db = db
        self._hooks = list(event_hooks)
        self._sqlite = db.dialect == "sqlite"
        self._businesses: Recent[int, Business] = Recent()

    async def get_business(self, business_id: int) -> Business | None:
        """A business, remembered for a minute: every command asks for it first, and on
        PostgreSQL a read costs ~0.8 ms of round trips."""
        known = self._businesses.get(business_id)
        if known is not None:
            return known

        def work(conn: Connection) -> Business | None:
            row = conn.execute(_BUSINESS, {"business_id": business_id}).first()
            return rows.business(row) if row else None

        found = await self._db.read(work)
        if found is not None:
            self._businesses.put(business_id, found)
        return found

    async def get_booking(self, business_id: int, booking_id: int) -> Booking | None:
        return await self._db.read(lambda conn: _load(conn, business_id, booking_id))

    async def find_bookings(self, business_id: int, query: BookingFilter) -> Page:
        return await self._db.read(lambda conn: self._find(conn, business_id, query))

    def _find(self, conn: Connection, business_id: int, query: BookingFilter) -> Page:
        term = query.term or None
        shape = _ListShape(
            fts=self._fts_start(conn, business_id, term) if term and self._sqlite else None,
            pairs=not self._sqlite and term is not None and search_index.is_pair(term),
            start_from=query.start_from is not None,
            start_before=query.start_before is not None,
            status=query.status is not None,
            term=term is not None,
            newest_first=query.newest_first,
            sqlite=self._sqlite,
        )
        offset = (query.page - 1) * query.per_page
        params: dict[str, Any] = {
            "business_id": business_id,
            "start_from": query.start_from,
            "start_before": query.start_before,
            "status": query.status.value if query.status else None,
            "term": term,
            "pattern": search_index.like_pattern(term) if term else None,
            "phrase": search_index.fts_phrase(term) if term else None,
            "doubled_pattern": search_index.like_pattern(search_index.doubled(term))
            if term
            else None,
            "horizon": offset + query.per_page + COUNT_HORIZON,
            "per_page": query.per_page,
            "offset": offset,
        }
        statements = _list_statements(shape)
        found = conn.execute(statements.page, params).all()
        if found:
            total = int(found[0].total)
        elif offset:  # a page past the end: count what there is
            total = int(conn.execute(statements.count, params).scalar_one())
        else:
            total = 0
        return Page(
            bookings=[rows.booking(row) for row in found],
            total=total,
            page=query.page,
            per_page=query.per_page,
            total_exact=total < params["horizon"],
        )

    def _fts_start(self, conn: Connection, business_id: int, folded_term: str) -> str | None:
        """On SQLite, the FTS5 table to start from, if it finds few enough bookings: few
        overall, and few beside the business's own (see `search_index.index_pays`)."""
        fts_table = search_index.sqlite_index(folded_term)
        if fts_table is None:
            return None
        probe = search_index.fts_probe(fts_table)
        few = search_index.FTS_CANDIDATES
        found = conn.execute(
            probe, {"phrase": search_index.fts_phrase(folded_term), "enough": few + 1}
        )
        candidates = int(found.scalar_one())
        if candidates > few:
            return None
        enough = search_index.business_rows_needed(candidates)
        counted = conn.execute(
            search_index.BUSINESS_ROWS, {"business_id": business_id, "enough": enough}
        )
        return fts_table if search_index.index_pays(candidates, counted.scalar_one()) else None

    async def starts_between(
        self, business_id: int, start: datetime, end: datetime
    ) -> list[datetime]:
        query = select(bookings.c.start_at).where(
            bookings.c.business_id == business_id,
            bookings.c.start_at >= start,
            bookings.c.start_at < end,
            bookings.c.status != Status.CANCELLED.value,
        )
        return await self._db.read(lambda conn: list(conn.execute(query).scalars().all()))

    async def overlapping(self, booking: Booking) -> list[Booking]:
        return await self._db.read(lambda conn: _overlapping(conn, booking))

    async def bookings_between(
        self, business_id: int, start: datetime, end: datetime, *, chunk: int = 1000
    ) -> AsyncIterator[Booking]:
        """The business's bookings starting in [start, end), in (start, id) order, each with
        its history: one statement per `chunk` bookings, resuming after the last one read."""
        params: dict[str, Any] = {
            "business_id": business_id,
            "after_start": start,
            "after_id": 0,
            "end": end,
            "chunk": chunk,
        }
        while True:
            found = await self._db.read(lambda conn: _chunk(conn, params))
            for booking in found:
                yield booking
            if len(found) < chunk:
                return
            params["after_start"], params["after_id"] = found[-1].start_at, found[-1].id

    async def in_context(self, business_id: int, booking_id: int) -> BookingInContext | None:
        """A booking with what its card shows beside it, in one read: chat delivery draws
        a card per message, so three reads a card were three trips to a reader thread."""

        def work(conn: Connection) -> BookingInContext | None:
            booking = _load(conn, business_id, booking_id)
            if booking is None:
                return None
            return BookingInContext(booking, _overlapping(conn, booking), _record(conn, booking))

        return await self._db.read(work)

    async def find_repeat(self, business_id: int, new: NewBooking) -> Booking | None:
        def work(conn: Connection) -> Booking | None:
            existing = _existing(conn, business_id, new)
            return None if existing is None else _load(conn, business_id, existing)

        return await self._db.read(work)

    async def create_booking(
        self, business_id: int, new: NewBooking, actor: Actor, at: datetime
    ) -> tuple[Booking, bool]:
        # Insert first: a repeat is rare, and the unique constraints on the payment and the
        # key catch it (even two identical requests at once) without a lookup per booking.
        # On PostgreSQL as a row not inserted (ON CONFLICT DO NOTHING), not an error, which
        # the server would log with the payment's transaction id.
        intake = _Intake(business_id, new, actor, at)
        for _ in range(3):
            try:
                created = await self._db.write_many(self._insert_many, intake)
            except (IntegrityError, _Repeat):
                # Nothing was written; the first copy of this request, if it committed, wins.
                repeat = await self.find_repeat(business_id, new)
                if repeat is not None:
                    return repeat, False
                continue
            return created, True
        raise RuntimeError("could not store the booking after repeated conflicts")

    def _insert_many(self, conn: Connection, intakes: list[_Intake]) -> list[Booking]:
        """New bookings with their history, keys and events: a few statements for all of them
        (bookings arriving together are stored together, see storage.database)."""
        insert_booking, insert_key = (
            (_INSERT_BOOKING, _INSERT_KEY) if self._sqlite else (_PG_INSERT_BOOKING, _PG_INSERT_KEY)
        )
        stored = conn.execute(insert_booking, [i.values() for i in intakes]).all()
        ids = {(r.business_id, r.payment_provider, r.transaction_id): r.id for r in stored}
        if len(ids) < len(intakes):  # PostgreSQL: a payment already stored (rolled back)
            raise _Repeat
        made = [i.booking(ids[i.payment_key]) for i in intakes]
        conn.execute(_INSERT_HISTORY, [rows.history_values(b.id, b.history[0]) for b in made])
        keys = [
            i.key_values(b.id) for i, b in zip(intakes, made, strict=True) if i.new.idempotency_key
        ]
        if keys:
            taken = conn.execute(insert_key, keys)
            if not self._sqlite and len(taken.all()) < len(keys):  # a key already used
                raise _Repeat
        self._record(
            conn,
            [domain_events.booking_created(b, i.actor) for i, b in zip(intakes, made, strict=True)],
        )
        return made

    async def move_booking(
        self, booking: Booking, move: Move, actor: Actor, reason: str | None, at: datetime
    ) -> Booking | None:
        entry = HistoryEntry(
            at=at, actor=actor, from_status=booking.status, to_status=move.target, reason=reason
        )

        # The conditional update is the lock: exactly one of two racing moves changes a row,
        # and only that one writes its history, event and mail.
        change = Guarded(
            _MOVE,
            {
                "booking_id": booking.id,
                "of_business": booking.business_id,
                "expected": booking.status.value,
                "target": move.target.value,
                "cancelling": move is Move.CANCEL,
                "completing": move is Move.COMPLETE,
                "at": at,
            },
            [
                Rows(_INSERT_HISTORY, [rows.history_values(booking.id, entry)]),
                *event_rows(
                    [domain_events.booking_moved(booking, move, actor, at, reason)], self._hooks
                ),
            ],
        )
        if not await self._db.write_guarded(change):
            return None
        moved = payments.after_move(booking, move.target)
        return replace(moved, history=(*booking.history, entry))

    async def reschedule_booking(
        self, booking: Booking, start_at: datetime, actor: Actor, at: datetime
    ) -> Booking | None:
        entry = HistoryEntry(
            at=at,
            actor=actor,
            from_status=booking.status,
            to_status=booking.status,
            note=Note.RESCHEDULED,
            moved_from=booking.start_at,
            moved_to=start_at,
        )
        moved = replace(booking, start_at=start_at, history=(*booking.history, entry))
        # The guard (same status, same start as read) is the lock, as for a move; the
        # reminders are planned again in the same transaction, so the old ones never go out.
        change = Guarded(
            _RESCHEDULE,
            {
                "booking_id": booking.id,
                "of_business": booking.business_id,
                "expected": booking.status.value,
                "old_start": booking.start_at,
                "start_at": start_at,
                "end_at": moved.end_at,
                "at": at,
            },
            [
                Rows(_INSERT_HISTORY, [rows.history_values(booking.id, entry)]),
                *event_rows(
                    [domain_events.booking_rescheduled(booking, moved, actor, at)], self._hooks
                ),
            ],
        )

        def work(conn: Connection) -> bool:
            if not run_guarded(conn, change):
                return False
            replan_reminders(conn, booking.id, start_at, at)
            # Asked about at its old end: asked again after the new one (storage.owners_day).
            conn.execute(
                delete(closeout_prompts).where(closeout_prompts.c.booking_id == booking.id)
            )
            return True

        return moved if await self._db.write(work) else None

    async def customer_record(self, booking: Booking) -> CustomerRecord:
        return await self._db.read(lambda conn: _record(conn, booking))

    async def note_refund_issued(
        self, booking: Booking, actor: Actor, at: datetime
    ) -> Booking | None:
        entry = HistoryEntry(
            at=at,
            actor=actor,
            from_status=booking.status,
            to_status=booking.status,
            note=Note.REFUND_ISSUED,
        )
        # The guard is the lock: of two taps at once, one marks it and the other finds it
        # refunded already.
        refunded = payments.owner_refunded(booking, at)
        change = Guarded(
            _MARK_REFUNDED,
            {
                "booking_id": booking.id,
                "of_business": booking.business_id,
                "at": at,
                "payment_status": refunded.payment.status.value,
                "refund_amount": refunded.refund.amount,
            },
            [
                Rows(_INSERT_HISTORY, [rows.history_values(booking.id, entry)]),
                *event_rows([domain_events.refund_issued(refunded, actor, at)], self._hooks),
            ],
        )
        if not await self._db.write_guarded(change):
            return None
        return replace(refunded, history=(*booking.history, entry))

    async def refunds_owed(self, business_id: int, page: int, per_page: int) -> Page:
        params = {
            "business_id": business_id,
            "limit": per_page + 1,
            "offset": (page - 1) * per_page,
        }

        def work(conn: Connection) -> Page:
            found = _with_history(conn, conn.execute(_REFUNDS_OWED, params).all())
            total = params["offset"] + len(found)
            if not found and page > 1:
                total = int(conn.execute(_REFUNDS_OWED_COUNT, params).scalar_one())
            return Page(found[:per_page], total, page, per_page, total_exact=len(found) <= per_page)

        return await self._db.read(work)

    def _record(self, conn: Connection, new_events: Sequence[Event]) -> None:
        record_events(conn, new_events, self._hooks)


class _Repeat(Exception):
    """PostgreSQL: the intake repeats a stored payment or key; its transaction rolls back."""


def _with_history(conn: Connection, found: Sequence[Row[Any]]) -> list[Booking]:
    """Bookings read as rows, each with its history (one more statement for all of them):
    a refund owed is dated by its cancellation."""
    if not found:
        return []
    changes = conn.execute(
        select(booking_history)
        .where(booking_history.c.booking_id.in_([r.id for r in found]))
        .order_by(booking_history.c.id)
    ).all()
    history: dict[int, list[HistoryEntry]] = {}
    for change in changes:
        history.setdefault(change.booking_id, []).append(rows.history(change))
    return [rows.booking(r, history.get(r.id, [])) for r in found]


def _load(conn: Connection, business_id: int, booking_id: int) -> Booking | None:
    """A booking and its history, in one statement (a row per history entry)."""
    found = conn.execute(
        _BOOKING_WITH_HISTORY, {"booking_id": booking_id, "business_id": business_id}
    ).all()
    if not found:
        return None
    entries = [rows.history(r, prefix=_H) for r in found if r._mapping[f"{_H}id"] is not None]
    return rows.booking(found[0], entries)


def _chunk(conn: Connection, params: dict[str, Any]) -> list[Booking]:
    """Up to `chunk` bookings after (after_start, after_id), with their history entries."""
    made: list[Booking] = []
    entries: list[HistoryEntry] = []
    last: Any = None
    for row in conn.execute(_CHUNK_WITH_HISTORY, params).all():  # one fetch, not a row at a time
        if last is not None and row.id != last.id:
            made.append(rows.booking(last, entries))
            entries = []
        if row._mapping[f"{_H}id"] is not None:
            entries.append(rows.history(row, prefix=_H))
        last = row
    if last is not None:
        made.append(rows.booking(last, entries))
    return made


def _overlapping(conn: Connection, booking: Booking) -> list[Booking]:
    found = conn.execute(
        _OVERLAPPING,
        {
            "business_id": booking.business_id,
            "booking_id": booking.id,
            "start_at": booking.start_at,
            "end_at": booking.end_at,
            "a_day_before": booking.start_at - _A_DAY,
        },
    )
    return [rows.booking(r) for r in found.all()]


def _record(conn: Connection, booking: Booking) -> CustomerRecord:
    params = {"business_id": booking.business_id, "email": booking.customer.email}
    counts = {r.status: int(r.n) for r in conn.execute(_CUSTOMER_RECORD, params).all()}
    return CustomerRecord(
        bookings=max(1, sum(counts.values())),
        completed=counts.get(Status.COMPLETED.value, 0),
        cancelled=counts.get(Status.CANCELLED.value, 0),
        no_shows=counts.get(Status.NO_SHOW.value, 0),
    )


def _existing(conn: Connection, business_id: int, new: NewBooking) -> int | None:
    """The booking an earlier copy of this request made: same key, or same payment."""
    if new.idempotency_key:
        key = conn.execute(
            _INTAKE_KEY, {"business_id": business_id, "key": new.idempotency_key}
        ).first()
        if key is not None:
            if key.fingerprint != new.fingerprint:
                raise IdempotencyConflict(new.idempotency_key)
            return int(key.booking_id)
    found = conn.execute(
        _BY_PAYMENT,
        {
            "business_id": business_id,
            "provider": new.payment.provider.value,
            "transaction_id": new.payment.transaction_id,
        },
    ).scalar()
    return int(found) if found is not None else None


@dataclass(frozen=True)
class _Intake:
    """One paid booking to store."""

    business_id: int
    new: NewBooking
    actor: Actor
    at: datetime

    @property
    def payment_key(self) -> tuple[int, str, str]:
        """Unique per booking (a constraint): how a stored row is matched to its intake."""
        payment = self.new.payment
        return (self.business_id, payment.provider.value, payment.transaction_id)

    def values(self) -> dict[str, Any]:
        new, at = self.new, self.at
        return {
            "business_id": self.business_id,
            "customer_name": new.customer.name,
            "customer_email": new.customer.email,
            "customer_phone": new.customer.phone,
            "service_name": new.service.name,
            "duration_minutes": new.service.duration_minutes,
            "price": new.service.price,
            "start_at": new.start_at,
            "end_at": new.start_at + timedelta(minutes=new.service.duration_minutes),
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
            "refund_state": RefundState.NONE.value,
            "needs_review": new.review_reason is not None,
            "review_reason": new.review_reason,
        }

    def booking(self, booking_id: int) -> Booking:
        new = self.new
        entry = HistoryEntry(
            at=self.at, actor=self.actor, from_status=None, to_status=Status.PENDING
        )
        return Booking(
            id=booking_id,
            business_id=self.business_id,
            customer=new.customer,
            service=new.service,
            start_at=new.start_at.astimezone(UTC),
            status=Status.PENDING,
            payment=new.payment,
            created_at=self.at,
            notes=new.notes,
            history=(entry,),
            review_reason=new.review_reason,
        )

    def key_values(self, booking_id: int) -> dict[str, Any]:
        return {
            "business_id": self.business_id,
            "key": self.new.idempotency_key,
            "fingerprint": self.new.fingerprint,
            "booking_id": booking_id,
            "created_at": self.at,
        }


_A_DAY = timedelta(days=1)


@dataclass(frozen=True)
class _ListShape:
    """Which conditions a list has: each shape's statement is built and compiled once."""

    fts: str | None  # SQLite: the FTS5 table to start from (search_index)
    pairs: bool  # PostgreSQL: two letters or digits, which the index of pairs can answer
    start_from: bool
    start_before: bool
    status: bool
    term: bool
    newest_first: bool
    sqlite: bool


@dataclass(frozen=True)
class _ListStatements:
    page: Select[Any]
    count: Select[Any]


@functools.cache
def _list_statements(shape: _ListShape) -> _ListStatements:
    """One statement answers a page and its total: it scans the matching ids up to the
    horizon once (total = how many), then reads the page's rows. A round trip, not two."""
    conditions: list[ColumnElement[bool]] = [bookings.c.business_id == bindparam("business_id")]
    if shape.fts:
        # A rare term: start from its few index matches, not the business's every row.
        conditions = [
            bookings.c.id.in_(search_index.fts_matches(shape.fts)),
            literal_column("+bookings.business_id") == bindparam("business_id"),
        ]
    if shape.pairs:
        conditions.append(search_index.has_doubled_pair())
    if shape.start_from:
        conditions.append(bookings.c.start_at >= bindparam("start_from"))
    if shape.start_before:
        conditions.append(bookings.c.start_at < bindparam("start_before"))
    if shape.status:
        conditions.append(bookings.c.status == bindparam("status"))
    if shape.term:
        # Both sides are folded in Python, so SQLite and PostgreSQL give the same answers.
        if shape.sqlite:
            conditions.append(func.instr(bookings.c.search_text, bindparam("term")) > 0)
        else:  # LIKE lets PostgreSQL use its trigram index
            conditions.append(bookings.c.search_text.like(bindparam("pattern"), escape="/"))
    hits = (
        select(bookings.c.id, bookings.c.start_at)
        .where(and_(*conditions))
        .order_by(*_order(bookings.c.start_at, bookings.c.id, shape.newest_first))
        .limit(bindparam("horizon"))
        .cte("hits")
    )
    page = (
        select(hits.c.id, hits.c.start_at)
        .order_by(*_order(hits.c.start_at, hits.c.id, shape.newest_first))
        .limit(bindparam("per_page"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    total = select(func.count()).select_from(hits).scalar_subquery().label("total")
    return _ListStatements(
        page=select(total, bookings)
        .join_from(page, bookings, bookings.c.id == page.c.id)
        .order_by(*_order(page.c.start_at, page.c.id, shape.newest_first)),
        count=select(func.count()).select_from(hits),
    )


def _order(start_at: Any, booking_id: Any, newest_first: bool) -> tuple[Any, Any]:
    return (start_at.desc(), booking_id.desc()) if newest_first else (start_at, booking_id)


# The statements every intake and every move runs, built once: their SQL is compiled once
# and each call only binds its values (building them per call cost more than running them).
_BUSINESS = select(businesses).where(businesses.c.id == bindparam("business_id"))
_H = "history_"
_BOOKING_WITH_HISTORY = (
    select(bookings, *(c.label(f"{_H}{c.name}") for c in booking_history.c))
    .outerjoin(booking_history, booking_history.c.booking_id == bookings.c.id)
    .where(
        bookings.c.id == bindparam("booking_id"),
        bookings.c.business_id == bindparam("business_id"),
    )
    .order_by(booking_history.c.id)
)
_CHUNK = (
    select(bookings.c.id)
    .where(
        bookings.c.business_id == bindparam("business_id"),
        # A row-value comparison: both databases read it as a range of the index on
        # (business_id, start_at, id), so each chunk starts where the last one ended.
        tuple_(bookings.c.start_at, bookings.c.id)
        > tuple_(bindparam("after_start", type_=bookings.c.start_at.type), bindparam("after_id")),
        bookings.c.start_at < bindparam("end", type_=bookings.c.start_at.type),
    )
    .order_by(bookings.c.start_at, bookings.c.id)
    .limit(bindparam("chunk"))
    .subquery("chunk")
)
_CHUNK_WITH_HISTORY = (
    select(bookings, *(c.label(f"{_H}{c.name}") for c in booking_history.c))
    .join_from(_CHUNK, bookings, bookings.c.id == _CHUNK.c.id)
    .outerjoin(booking_history, booking_history.c.booking_id == bookings.c.id)
    .order_by(bookings.c.start_at, bookings.c.id, booking_history.c.id)
)
_INTAKE_KEY = select(intake_keys.c.fingerprint, intake_keys.c.booking_id).where(
    intake_keys.c.business_id == bindparam("business_id"),
    intake_keys.c.key == bindparam("key"),
)
_BY_PAYMENT = select(bookings.c.id).where(
    bookings.c.business_id == bindparam("business_id"),
    bookings.c.payment_provider == bindparam("provider"),
    bookings.c.transaction_id == bindparam("transaction_id"),
)
_STORED = (
    bookings.c.id,
    bookings.c.business_id,
    bookings.c.payment_provider,
    bookings.c.transaction_id,
)
_INSERT_BOOKING = insert(bookings).returning(*_STORED)
_INSERT_HISTORY = insert(booking_history)
_INSERT_KEY = insert(intake_keys)
_OVERLAPPING = (
    select(bookings)
    .where(
        bookings.c.business_id == bindparam("business_id"),
        bookings.c.id != bindparam("booking_id"),
        bookings.c.status.in_([Status.PENDING.value, Status.CONFIRMED.value]),
        bookings.c.start_at < bindparam("end_at", type_=bookings.c.start_at.type),
        bookings.c.end_at > bindparam("start_at", type_=bookings.c.end_at.type),
        # bounds the index scan: nothing lasts longer than a day
        bookings.c.start_at > bindparam("a_day_before", type_=bookings.c.start_at.type),
    )
    .order_by(bookings.c.start_at)
)
_CUSTOMER_RECORD = (
    select(bookings.c.status, func.count().label("n"))
    .where(
        bookings.c.business_id == bindparam("business_id"),
        bookings.c.customer_email == bindparam("email"),
    )
    .group_by(bookings.c.status)
)
_MARK_REFUNDED = (
    update(bookings)
    .where(
        bookings.c.id == bindparam("booking_id"),
        bookings.c.business_id == bindparam("of_business"),
        bookings.c.refund_state == RefundState.OWED.value,
    )
    .values(
        refund_state=RefundState.ISSUED.value,
        refund_amount=bindparam("refund_amount"),
        refund_issued_at=bindparam("at"),
        payment_status=bindparam("payment_status"),
        updated_at=bindparam("at"),
    )
)
# The refunds still owed, the longest owed first: by when the booking was cancelled.
_CANCELLED_AT = (
    select(func.max(booking_history.c.at))
    .where(
        booking_history.c.booking_id == bookings.c.id,
        booking_history.c.to_status == Status.CANCELLED.value,
        booking_history.c.note.is_(None),
    )
    .scalar_subquery()
)
_OWED = and_(
    bookings.c.business_id == bindparam("business_id"),
    bookings.c.refund_state == RefundState.OWED.value,
)
_REFUNDS_OWED = (
    select(bookings)
    .where(_OWED)
    .order_by(_CANCELLED_AT, bookings.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_REFUNDS_OWED_COUNT = select(func.count()).select_from(bookings).where(_OWED)
_PG_INSERT_BOOKING = (
    postgresql.insert(bookings)
    .on_conflict_do_nothing(constraint="uq_bookings_payment")
    .returning(*_STORED)
)
_PG_INSERT_KEY = (
    postgresql.insert(intake_keys).on_conflict_do_nothing().returning(intake_keys.c.key)
)
# The money follows the move as core.payments.after_move says: a paid booking cancelled
# owes its refund; a cash booking completed is paid.
_OWES = and_(
    bindparam("cancelling", type_=Boolean()),
    bookings.c.payment_status == PaymentStatus.PAID.value,
    bookings.c.refund_state == RefundState.NONE.value,
)
_MOVE = (
    update(bookings)
    .where(
        bookings.c.id == bindparam("booking_id"),
        bookings.c.business_id == bindparam("of_business"),
        bookings.c.status == bindparam("expected"),
    )
    .values(
        status=bindparam("target"),
        updated_at=bindparam("at"),
        refund_state=case((_OWES, RefundState.OWED.value), else_=bookings.c.refund_state),
        refund_amount=case((_OWES, bookings.c.amount), else_=bookings.c.refund_amount),
        payment_status=case(
            (
                and_(
                    bindparam("completing", type_=Boolean()),
                    bookings.c.payment_status == PaymentStatus.DUE.value,
                ),
                PaymentStatus.PAID.value,
            ),
            else_=bookings.c.payment_status,
        ),
    )
)
_RESCHEDULE = (
    update(bookings)
    .where(
        bookings.c.id == bindparam("booking_id"),
        bookings.c.business_id == bindparam("of_business"),
        bookings.c.status == bindparam("expected"),
        bookings.c.start_at == bindparam("old_start", type_=bookings.c.start_at.type),
    )
    .values(
        start_at=bindparam("start_at", type_=bookings.c.start_at.type),
        end_at=bindparam("end_at", type_=bookings.c.end_at.type),
        updated_at=bindparam("at"),
    )
)
