"""The planner of the owner's day: close-out prompts, nudges, the morning digest and the
refunds-owed nudge, queued as chat deliveries in the outbox (the lanes, leases and retries
alerts use).

Run every minute by any number of instances: each notice has a deterministic dedupe key
(`digest:<conversation>:<local date>`, `nudge:<conversation>:<booking>:<n>`), and a booking
is put in a close-out prompt once per conversation (`closeout_prompts`, its primary key), so
two planners at the same minute, or a restart, queue each once. What is due is read first (a
read: an idle minute takes no write lock); only what is missing is then written, with
ON CONFLICT DO NOTHING catching the other instance's rows. A notice is drawn when it is sent,
and dropped then if it is no longer worth sending (core.chat.ChatDesk.content).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from core import owners_day as day
from core.chat import ChatKind
from core.lifecycle import Status
from core.model import PaymentStatus
from core.notifications import RETRY_WINDOW, DeliveryStatus
from storage import rows
from storage.bookings import SqlBookingStore
from storage.database import Database
from storage.tables import bookings, businesses, closeout_prompts, conversations, outbox

CHAT = "chat"
# Nudges due by the start: the end bounds the index scan (no service lasts over a day).
_START_WINDOW = day.NUDGE_BEFORE_START + timedelta(days=1)


@dataclass(frozen=True)
class Planned:
    """What one planner tick queued."""

    closeouts: int = 0
    nudges: int = 0
    digests: int = 0
    refunds: int = 0

    @property
    def total(self) -> int:
        return self.closeouts + self.nudges + self.digests + self.refunds


@dataclass(frozen=True)
class _Linked:
    id: int
    business_id: int
    recipient: str


class SqlOwnersDay:
    """Queues the notices of the owner's day that fell due."""

    def __init__(self, db: Database, store: SqlBookingStore) -> None:
        self._db = db
        self._store = store
        self._postgres = db.dialect == "postgresql"

    async def plan(self, now: datetime) -> Planned:
        """Queue everything due at `now` that isn't queued yet."""
        closeouts = await self.plan_closeouts(now)
        nudges = await self.plan_nudges(now)
        digests, refunds = await self.plan_daily(now)
        return Planned(closeouts, nudges, digests, refunds)

    # Close-out prompts

    async def plan_closeouts(self, now: datetime) -> int:
        """One prompt per conversation for the open bookings that ended and weren't asked
        about there, when at least one of them ended 15 minutes ago or more: bookings
        ending within 15 minutes of each other arrive as one message."""
        ended = (
            select(bookings.c.id, bookings.c.business_id, bookings.c.end_at)
            .where(
                bookings.c.status.in_([s.value for s in day.OPEN]),
                bookings.c.end_at > now - day.CLOSEOUT_LOOKBACK,
                bookings.c.end_at <= now,
            )
            .order_by(bookings.c.end_at, bookings.c.id)
        )

        def read(conn: Connection) -> dict[int, tuple[_Linked, list[Any]]]:
            found = conn.execute(ended).all()
            if not found:
                return {}
            linked = _linked(conn, {r.business_id for r in found})
            asked = {
                (r.conversation_id, r.booking_id)
                for r in conn.execute(
                    select(closeout_prompts).where(
                        closeout_prompts.c.booking_id.in_([r.id for r in found])
                    )
                ).all()
            }
            wanted: dict[int, tuple[_Linked, list[Any]]] = {}
            for conversation in linked:
                mine = [
                    r
                    for r in found
                    if r.business_id == conversation.business_id
                    and (conversation.id, r.id) not in asked
                ]
                if any(r.end_at <= now - day.CLOSEOUT_AFTER for r in mine):
                    wanted[conversation.id] = (conversation, mine)
            return wanted

        wanted = await self._db.read(read)
        if not wanted:
            return 0

        def write(conn: Connection) -> int:
            marks = [
                {"conversation_id": c, "booking_id": r.id, "queued_at": now}
                for c, (_, mine) in wanted.items()
                for r in mine
            ]
            taken = conn.execute(
                self._insert(closeout_prompts)
                .values(marks)
                .on_conflict_do_nothing()
                .returning(closeout_prompts.c.conversation_id, closeout_prompts.c.booking_id)
            ).all()
            ours: dict[int, set[int]] = defaultdict(set)
            for t in taken:
                ours[t.conversation_id].add(t.booking_id)
            deliveries = []
            for c, (conversation, mine) in wanted.items():
                ended = [r for r in mine if r.id in ours[c]]  # in order of their end
                for first in range(0, len(ended), day.CLOSEOUT_GROUP):
                    group = ended[first : first + day.CLOSEOUT_GROUP]
                    # The first booking's end is in the key: a booking moved after its
                    # prompt is asked about again after its new end, under a new key.
                    key = f"closeout:{c}:{group[0].id}:{group[0].end_at:%Y%m%dT%H%M}"
                    deliveries.append(
                        _delivery(
                            conversation,
                            ChatKind.CLOSEOUT,
                            key,
                            {"bookings": [r.id for r in group]},
                            now,
                        )
                    )
            return self._queue(conn, deliveries)

        return await self._db.write(write)

    # Nudges

    async def plan_nudges(self, now: datetime) -> int:
        """Each paid pending booking's nudge that fell due (the later one only, after downtime),
        once per conversation."""
        waiting = select(bookings).where(
            bookings.c.status == Status.PENDING.value,
            bookings.c.payment_status == PaymentStatus.PAID.value,  # "a paid booking"
            or_(
                # due by the start: within a day of it (the end bounds the index scan)
                and_(bookings.c.end_at > now, bookings.c.end_at <= now + _START_WINDOW),
                # due by age: arrived over 2 hours ago (looking back a day)
                and_(
                    bookings.c.created_at <= now - day.NUDGE_AFTER_BOOKING,
                    bookings.c.created_at > now - day.NUDGE_AFTER_BOOKING - day.NUDGE_LOOKBACK,
                    bookings.c.start_at > now,
                ),
            ),
        )

        def read(conn: Connection) -> list[dict[str, Any]]:
            due = []
            for row in conn.execute(waiting).all():
                booking = rows.booking(row)
                n = day.nudge_due(booking, now)
                if n is not None:
                    due.append((booking, n))
            if not due:
                return []
            linked = _linked(conn, {b.business_id for b, _ in due})
            return [
                _delivery(
                    c,
                    ChatKind.NUDGE,
                    f"nudge:{c.id}:{b.id}:{n}",
                    {"nudge": n},
                    now,
                    booking_id=b.id,
                )
                for b, n in due
                for c in linked
                if c.business_id == b.business_id
            ]

        return await self._queue_missing(await self._db.read(read))

    # The morning digest, and the refunds-owed nudge where the digest is off

    async def plan_daily(self, now: datetime) -> tuple[int, int]:
        """Each conversation's digest at its time (08:00 by default) in the business's zone;
        where the digest is off, refunds owed for more than 3 days are named at 08:00.
        Returns (digests, refund nudges) queued."""
        query = select(
            conversations.c.id,
            conversations.c.business_id,
            conversations.c.platform,
            conversations.c.chat_id,
            conversations.c.digest,
            businesses.c.timezone,
        ).join(businesses, businesses.c.id == conversations.c.business_id)
        query = query.where(conversations.c.unreachable_at.is_(None))

        def read(conn: Connection) -> list[tuple[ChatKind, dict[str, Any]]]:
            due = []
            for r in conn.execute(query).all():
                setting = day.DigestSetting.read(r.digest)
                zone = _zone(r.timezone)
                found = day.daily_due(setting.at or day.DIGEST_DEFAULT, zone, now)
                if found is None:
                    continue
                local_day, due_at = found
                kind = ChatKind.DIGEST if setting.at is not None else ChatKind.REFUNDS
                linked = _Linked(r.id, r.business_id, f"{r.platform}:{r.chat_id}")
                prefix = "digest" if kind is ChatKind.DIGEST else "refunds"
                data = {"day": local_day.isoformat(), "due_at": due_at.isoformat()}
                key = f"{prefix}:{r.id}:{local_day.isoformat()}"
                due.append((kind, _delivery(linked, kind, key, data, now)))
            return due

        due = await self._db.read(read)
        if not due:
            return 0, 0
        keys = [d["dedupe_key"] for _, d in due]
        queued = await self._db.read(lambda conn: _queued(conn, keys))
        digests = [d for k, d in due if k is ChatKind.DIGEST and d["dedupe_key"] not in queued]
        refunds = [d for k, d in due if k is ChatKind.REFUNDS and d["dedupe_key"] not in queued]
        owing = set()
        for business_id in sorted({d["business_id"] for d in refunds}):
            # a refunds nudge only where some refund is overdue
            owed = await self._store.refunds_owed(business_id, 1, day.REFUNDS_LISTED)
            if day.refunds_overdue(owed.bookings, now):
                owing.add(business_id)
        refunds = [d for d in refunds if d["business_id"] in owing]
        if not digests and not refunds:
            return 0, 0

        def write(conn: Connection) -> tuple[int, int]:
            return self._queue(conn, digests), self._queue(conn, refunds)

        return await self._db.write(write)

    # Writing

    def _insert(self, table: Any) -> Any:
        return (postgresql if self._postgres else sqlite).insert(table)

    async def _queue_missing(self, deliveries: list[dict[str, Any]]) -> int:
        """Queue the deliveries not queued yet: a read first, so a minute with nothing new
        takes no write lock."""
        if not deliveries:
            return 0
        keys = [d["dedupe_key"] for d in deliveries]
        queued = await self._db.read(lambda conn: _queued(conn, keys))
        missing = [d for d in deliveries if d["dedupe_key"] not in queued]
        if not missing:
            return 0
        return await self._db.write(lambda conn: self._queue(conn, missing))

    def _queue(self, conn: Connection, deliveries: Sequence[dict[str, Any]]) -> int:
        if not deliveries:
            return 0
        statement = (
            self._insert(outbox)
            .values(list(deliveries))
            .on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
            .returning(outbox.c.id)
        )
        return len(conn.execute(statement).all())


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _linked(conn: Connection, business_ids: set[int]) -> list[_Linked]:
    """The linked, reachable conversations of these businesses."""
    found = conn.execute(
        select(
            conversations.c.id,
            conversations.c.business_id,
            conversations.c.platform,
            conversations.c.chat_id,
        )
        .where(
            conversations.c.business_id.in_(sorted(business_ids)),
            conversations.c.unreachable_at.is_(None),
        )
        .order_by(conversations.c.id)
    ).all()
    return [_Linked(r.id, r.business_id, f"{r.platform}:{r.chat_id}") for r in found]


def _queued(conn: Connection, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for first in range(0, len(keys), 500):
        chunk = list(keys[first : first + 500])
        found.update(
            conn.execute(select(outbox.c.dedupe_key).where(outbox.c.dedupe_key.in_(chunk)))
            .scalars()
            .all()
        )
    return found


def _delivery(
    conversation: _Linked,
    kind: ChatKind,
    key: str,
    data: dict[str, Any],
    now: datetime,
    *,
    booking_id: int | None = None,
) -> dict[str, Any]:
    """An outbox row for one conversation, due now."""
    return {
        "business_id": conversation.business_id,
        "booking_id": booking_id,
        "kind": kind.value,
        "recipient": conversation.recipient,
        "dedupe_key": key,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "retry_until": now + RETRY_WINDOW,
        "created_at": now,
        "channel": CHAT,
        "conversation_id": conversation.id,
        "data": data,
    }
