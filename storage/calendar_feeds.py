"""Each business's calendar feed: its secret token (only a SHA-256 digest is stored), its
contacts switch, and the bookings and the version a feed is drawn from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select, update

from core.lifecycle import Status
from core.model import Booking, Note
from storage import rows
from storage.database import Database
from storage.tables import booking_history, bookings, calendar_feeds, events

FEED_STATUSES = (Status.PENDING, Status.CONFIRMED)
# Longer than any transaction that writes an event takes from its start to its commit: an
# event older than this is settled (no event with a lower id can still commit).
SETTLE = timedelta(minutes=10)


@dataclass(frozen=True)
class FeedVersion:
    """What a business's feed is drawn from, read without reading a booking.

    `floor` is the latest event id settled (older than SETTLE): every event still to commit
    has a higher id. `latest` and `recent` are the highest id and the number of events above
    the floor. On PostgreSQL ids come from a sequence and commit out of order, so the highest
    id alone could stay put while an earlier id commits; the count above a fixed floor can't:
    every commit there adds one (events are never deleted), and a moved floor changes the
    version by itself.
    """

    floor: int
    latest: int
    recent: int

    @property
    def key(self) -> str:
        return f"{self.floor}.{self.latest}.{self.recent}"


@dataclass(frozen=True)
class FeedAccess:
    """What a token opens: one business's feed, with or without customers' contacts."""

    business_id: int
    with_contacts: bool


@dataclass(frozen=True)
class FeedEntry:
    """A booking as a feed shows it (without its history): how many times it was moved (for
    its SEQUENCE) and when it last changed."""

    booking: Booking
    reschedules: int
    updated_at: datetime


class SqlCalendarFeeds:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def issue(self, business_id: int, digest: str, at: datetime) -> None:
        """Store a new token's digest for a business, replacing any earlier one (which then
        opens nothing); the contacts switch is kept."""

        def work(conn: Connection) -> None:
            changed = conn.execute(
                update(calendar_feeds)
                .where(calendar_feeds.c.business_id == business_id)
                .values(token_digest=digest, created_at=at)
            ).rowcount
            if not changed:
                conn.execute(
                    calendar_feeds.insert().values(
                        business_id=business_id, token_digest=digest, created_at=at
                    )
                )

        await self._db.write(work)

    async def issued(self, business_id: int) -> bool:
        query = select(calendar_feeds.c.business_id).where(
            calendar_feeds.c.business_id == business_id
        )
        return await self._db.read(lambda conn: conn.execute(query).first() is not None)

    async def set_contacts(self, business_id: int, on: bool) -> bool:
        """Show customers' email and phone in the feed, or not; False when it has no feed."""
        statement = (
            update(calendar_feeds)
            .where(calendar_feeds.c.business_id == business_id)
            .values(with_contacts=on)
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def access(self, digest: str) -> FeedAccess | None:
        def work(conn: Connection) -> FeedAccess | None:
            found = conn.execute(_ACCESS, {"digest": digest}).first()
            return FeedAccess(found.business_id, bool(found.with_contacts)) if found else None

        return await self._db.read(work)

    async def version(self, business_id: int, now: datetime) -> FeedVersion:
        """The business's feed version at `now` (see FeedVersion): two index range reads of
        its events, the last SETTLE minutes' only."""

        def work(conn: Connection) -> FeedVersion:
            settled = {"business_id": business_id, "settled": now - SETTLE}
            floor = int(conn.execute(_FLOOR, settled).scalar() or 0)
            above = {"business_id": business_id, "floor": floor}
            latest, recent = conn.execute(_ABOVE, above).one()
            return FeedVersion(floor, int(latest or floor), int(recent))

        return await self._db.read(work)

    async def entries(self, business_id: int, start: datetime, end: datetime) -> list[FeedEntry]:
        """The pending and confirmed bookings starting in [start, end), in time order."""
        params = {"business_id": business_id, "start": start, "end": end}

        def work(conn: Connection) -> list[FeedEntry]:
            return [
                FeedEntry(rows.booking(r), int(r.reschedules), r.updated_at)
                for r in conn.execute(_ENTRIES, params).all()
            ]

        return await self._db.read(work)

    async def changed_since(self, business_id: int, version: int, limit: int) -> list[int] | None:
        """The bookings with an event after `version` (an event id: a FeedVersion's floor, so
        the events that committed late are read too), or None when more than `limit` changed
        (drawing the whole feed again is then as cheap)."""
        params = {"business_id": business_id, "version": version, "limit": limit + 1}

        def work(conn: Connection) -> list[int] | None:
            found = [int(i) for i in conn.execute(_CHANGED, params).scalars()]
            return None if len(found) > limit else found

        return await self._db.read(work)

    async def entries_of(
        self, business_id: int, booking_ids: list[int], start: datetime, end: datetime
    ) -> list[FeedEntry]:
        """Those of `booking_ids` the feed shows (pending or confirmed, starting in
        [start, end))."""
        params = {"business_id": business_id, "ids": booking_ids, "start": start, "end": end}

        def work(conn: Connection) -> list[FeedEntry]:
            return [
                FeedEntry(rows.booking(r), int(r.reschedules), r.updated_at)
                for r in conn.execute(_ENTRIES_OF, params).all()
            ]

        return await self._db.read(work) if booking_ids else []


_ACCESS = select(calendar_feeds.c.business_id, calendar_feeds.c.with_contacts).where(
    calendar_feeds.c.token_digest == bindparam("digest")
)
# Newest first down the (business_id, id) index, stopping at the first settled event.
_FLOOR = (
    select(events.c.id)
    .where(
        events.c.business_id == bindparam("business_id"),
        events.c.occurred_at < bindparam("settled", type_=events.c.occurred_at.type),
    )
    .order_by(events.c.id.desc())
    .limit(1)
)
_ABOVE = select(func.max(events.c.id), func.count()).where(
    events.c.business_id == bindparam("business_id"), events.c.id > bindparam("floor")
)
_RESCHEDULES = (
    select(func.count())
    .where(
        booking_history.c.booking_id == bookings.c.id,
        booking_history.c.note == Note.RESCHEDULED.value,
    )
    .correlate(bookings)
    .scalar_subquery()
    .label("reschedules")
)
_ENTRIES = (
    select(bookings, _RESCHEDULES)
    .where(
        bookings.c.business_id == bindparam("business_id"),
        bookings.c.status.in_([s.value for s in FEED_STATUSES]),
        bookings.c.start_at >= bindparam("start", type_=bookings.c.start_at.type),
        bookings.c.start_at < bindparam("end", type_=bookings.c.start_at.type),
    )
    .order_by(bookings.c.start_at, bookings.c.id)
)
_ENTRIES_OF = _ENTRIES.where(bookings.c.id.in_(bindparam("ids", expanding=True)))
_CHANGED = (
    select(events.c.booking_id)
    .where(
        events.c.business_id == bindparam("business_id"),
        events.c.id > bindparam("version"),
    )
    .distinct()
    .limit(bindparam("limit"))
)
