"""The durable outbox and the reminder plan: mail and chat deliveries are queued in the
transaction that causes them.

Claims are leases: PostgreSQL instances claim rows with FOR UPDATE SKIP LOCKED so any number of
them send each delivery once; on SQLite, write transactions are serialised, so one dispatcher
claims at a time. A claim whose holder died expires with its lease and is claimed again.

Mail and chat share the table, the leases, the marks and the retries; they differ in what a
claim takes. Emails are independent. A conversation's deliveries go out in order (a burst of
bookings is a burst of cards, in booking order), so a chat claim takes a conversation's lane
whole: only while no delivery of it is leased, and only from its oldest pending one when that
one is due (see `claim_chat`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    Row,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from core.chat import ChatKind, QueuedChat
from core.events import Event, EventKind
from core.lifecycle import Status
from core.model import Actor, ActorKind, Booking, Business, Channel, HistoryEntry
from core.notifications import (
    REMINDER_LEADS,
    RETRY_WINDOW,
    DeliveryStatus,
    MailKind,
    QueuedMail,
    mail_for,
    plan_reminders,
    reminder_still_useful,
)
from storage import rows
from storage.database import Database
from storage.event_feed import EventHook, record_events
from storage.tables import (
    booking_history,
    bookings,
    businesses,
    chat_messages,
    conversations,
    outbox,
    reminders,
)
from storage.writes import Guarded, Rows, insert_rows

MAILER = Actor(ActorKind.SYSTEM, Channel.SYSTEM, "mailer")


class MailQueue:
    """Event hook: the rows that queue each event's emails (and plan a new booking's
    reminders), inserted with the event, in its transaction."""

    def __init__(self, retry_window: timedelta = RETRY_WINDOW) -> None:
        self.retry_window = retry_window

    def __call__(self, new_events: Sequence[Event]) -> list[Rows]:
        mails: list[dict[str, Any]] = []
        planned: list[dict[str, Any]] = []
        for event in new_events:
            failed = event.data.get("outbox_id")
            mails.extend(
                self.mail(
                    business_id=event.business_id,
                    booking_id=event.booking_id,
                    kind=kind,
                    dedupe_key=_dedupe_key(event, kind),
                    failed_kind=MailKind(event.data["kind"]) if failed else None,
                    at=event.occurred_at,
                    data=_mail_data(event),
                )
                for kind in mail_for(event.kind)
            )
            if event.kind is EventKind.CREATED:
                start_at = datetime.fromisoformat(event.data["start_at"])
                planned.extend(
                    {
                        "booking_id": event.booking_id,
                        "kind": p.kind.value,
                        "due_at": p.due_at,
                        "state": "planned",
                    }
                    for p in plan_reminders(start_at, event.occurred_at)
                )
        return [Rows(_QUEUE_MAIL, mails), Rows(_INSERT_REMINDER, planned)]

    def mail(
        self,
        *,
        business_id: int,
        booking_id: int,
        kind: MailKind,
        dedupe_key: str,
        at: datetime,
        failed_kind: MailKind | None = None,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One email to queue (see `queue`), due at once and retried for the retry window;
        `data`, what the email needs of its event that the booking won't say when it is sent
        (which move a rescheduled email is about)."""
        return {
            "business_id": business_id,
            "booking_id": booking_id,
            "kind": kind.value,
            "to_owner": kind.to_owner,
            "dedupe_key": dedupe_key,
            "failed_kind": failed_kind.value if failed_kind else None,
            "data": data,
            "at": at,
            "retry_until": at + self.retry_window,
        }

    def business_mail(
        self,
        *,
        business_id: int,
        kind: MailKind,
        dedupe_key: str,
        data: dict[str, Any],
        at: datetime,
    ) -> dict[str, Any]:
        """An email to the owner about the business rather than one booking."""
        return {
            "business_id": business_id,
            "kind": kind.value,
            "dedupe_key": dedupe_key,
            "data": data,
            "at": at,
            "retry_until": at + self.retry_window,
        }

    @staticmethod
    def business_rows(mails: Sequence[dict[str, Any]]) -> Rows:
        return Rows(_QUEUE_BUSINESS_MAIL, mails)

    def queue(self, conn: Connection, mails: Sequence[dict[str, Any]]) -> None:
        """Queue emails. Each recipient is read by the INSERT itself (the customer's address
        on the booking, or the owner's on the business): one statement, not a read and a
        write."""
        insert_rows(conn, [Rows(_QUEUE_MAIL, mails)])


def _dedupe_key(event: Event, kind: MailKind) -> str:
    """Each email once: a booking's email of a kind once, each failure's report once, and
    each reschedule's email once (the nth move of a booking)."""
    failed = event.data.get("outbox_id")
    if failed:
        return f"failed:{failed}:{event.data['report']}"
    if event.kind is EventKind.RESCHEDULED:
        return f"{event.booking_id}:{kind}:{event.data['reschedules']}"
    return f"{event.booking_id}:{kind}"


def _mail_data(event: Event) -> dict[str, Any] | None:
    """A rescheduled email is about its own move (the nth), however late it is sent."""
    if event.kind is EventKind.RESCHEDULED:
        return {"reschedules": event.data["reschedules"]}
    return None


def replan_reminders(conn: Connection, booking_id: int, start_at: datetime, at: datetime) -> None:
    """A booking moved to `start_at`: its reminders planned again from `at`, in the caller's
    transaction. The old plan is dropped, and any reminder already queued but not yet sent
    is skipped, so nothing about the old time goes out."""
    conn.execute(reminders.delete().where(reminders.c.booking_id == booking_id))
    planned = [
        {"booking_id": booking_id, "kind": p.kind.value, "due_at": p.due_at, "state": "planned"}
        for p in plan_reminders(start_at, at)
    ]
    if planned:
        conn.execute(_INSERT_REMINDER, planned)
    conn.execute(
        update(outbox)
        .where(
            outbox.c.booking_id == booking_id,
            outbox.c.channel == MAIL,
            outbox.c.kind.in_([k.value for k, _ in REMINDER_LEADS]),
            outbox.c.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.SKIPPED.value, last_error="rescheduled")
    )


def _entry(row: Row[Any]) -> QueuedMail | QueuedChat:
    if row.channel == CHAT:
        return _chat_entry(row)
    return _mail_entry(row)


def _chat_entry(row: Row[Any]) -> QueuedChat:
    return QueuedChat(
        conversation_id=row.conversation_id,
        kind=ChatKind(row.kind),
        data=dict(row.data or {}),
        **_delivery(row),
    )


def _mail_entry(row: Row[Any]) -> QueuedMail:
    return QueuedMail(
        kind=MailKind(row.kind),
        failed_kind=MailKind(row.failed_kind) if row.failed_kind else None,
        data=dict(row.data) if row.data else None,
        **_delivery(row),
    )


def _delivery(row: Row[Any]) -> dict[str, Any]:
    """What every outbox row has, mail or chat."""
    return {
        "id": row.id,
        "business_id": row.business_id,
        "booking_id": row.booking_id,
        "recipient": row.recipient,
        "status": DeliveryStatus(row.status),
        "attempts": row.attempts,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at,
        "retry_until": row.retry_until,
        "last_error": row.last_error,
        "sent_at": row.sent_at,
    }


MAIL, CHAT = "mail", "chat"


class SqlOutbox:
    """Claiming, marking and listing queued mail and chat deliveries."""

    def __init__(
        self,
        db: Database,
        queue: MailQueue | None = None,
        *,
        event_hooks: Sequence[EventHook] | None = None,
    ) -> None:
        self._db = db
        self._queue = queue or MailQueue()
        # What a failed email's report causes: its email to the owner, and chat notices.
        self._hooks = list(event_hooks) if event_hooks is not None else [self._queue]
        self._postgres = db.dialect == "postgresql"

    async def claim(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[QueuedMail]:
        """Lease up to `limit` due emails to `owner`; nobody else sends them while it lasts."""
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.channel == MAIL,
                outbox.c.status == DeliveryStatus.PENDING.value,
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_until=now + lease, attempts=outbox.c.attempts + 1)
            .returning(*outbox.c)
        )

        def work(conn: Connection) -> list[QueuedMail]:
            claimed = conn.execute(statement).all()
            return sorted((_mail_entry(r) for r in claimed), key=lambda m: m.id)

        return await self._db.write(work)

    async def chat_due(self, now: datetime, platforms: Sequence[str]) -> bool:
        """Whether any chat delivery on `platforms` is due: a read, so an idle poll takes no
        write lock (SQLite has one for the whole file)."""
        query = (
            select(outbox.c.id)
            .join(conversations, conversations.c.id == outbox.c.conversation_id)
            .where(
                outbox.c.channel == CHAT,
                outbox.c.status == DeliveryStatus.PENDING.value,
                outbox.c.next_attempt_at <= now,
                conversations.c.platform.in_(list(platforms)),
            )
            .limit(1)
        )
        return await self._db.read(lambda conn: conn.execute(query).first() is not None)

    async def claim_chat(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        platforms: Sequence[str],
        lanes: int = 32,
        per_lane: int = 20,
    ) -> list[QueuedChat]:
        """Lease the due chat deliveries of up to `lanes` conversations on `platforms`, at
        most `per_lane` of each (paced sends must fit in the lease), each conversation's in
        order. A conversation is taken only when no delivery of it is
        leased and its oldest pending one is due, so its deliveries never overtake each
        other: after a retry-after, the rest of the lane waits behind the one refused."""

        def work(conn: Connection) -> list[QueuedChat]:
            # Conversations whose oldest pending delivery is due and none of whose deliveries
            # is leased: busy or waiting lanes never take the places of the ones ready.
            leased = func.max(case((outbox.c.lease_until >= now, 1), else_=0))
            head_due = func.min(outbox.c.id) == func.min(
                case((outbox.c.next_attempt_at <= now, outbox.c.id))
            )
            ready = (
                select(outbox.c.conversation_id)
                .join(conversations, conversations.c.id == outbox.c.conversation_id)
                .where(
                    outbox.c.channel == CHAT,
                    outbox.c.status == DeliveryStatus.PENDING.value,
                    conversations.c.platform.in_(list(platforms)),
                )
                .group_by(outbox.c.conversation_id)
                .having(and_(head_due, leased == 0))
                .order_by(func.min(outbox.c.id))
                .limit(lanes * 4)  # more than we take: another claimer may be holding some
            )
            candidates = [int(c) for c in conn.execute(ready).scalars().all()]
            if self._postgres and candidates:  # one claimer per conversation; others skip it
                # Lock no more than we take, oldest work first (a lock is held to the end).
                oldest_first = case(
                    {c: i for i, c in enumerate(candidates)}, value=conversations.c.id
                )
                locked = (
                    select(conversations.c.id)
                    .where(conversations.c.id.in_(candidates))
                    .order_by(oldest_first)
                    .limit(lanes)
                    .with_for_update(skip_locked=True, key_share=True)
                )
                candidates = [int(c) for c in conn.execute(locked).scalars().all()]
            candidates = candidates[:lanes]
            if not candidates:
                return []
            # Read again under the lock: another instance may have claimed one meanwhile.
            heads = conn.execute(
                select(
                    outbox.c.conversation_id,
                    func.min(outbox.c.id).label("head"),
                    leased.label("leased"),
                )
                .where(
                    outbox.c.conversation_id.in_(candidates),
                    outbox.c.status == DeliveryStatus.PENDING.value,
                )
                .group_by(outbox.c.conversation_id)
            ).all()
            free = [h for h in heads if not h.leased]
            if not free:
                return []
            due_heads = (
                conn.execute(
                    select(outbox.c.conversation_id).where(
                        outbox.c.id.in_([h.head for h in free]), outbox.c.next_attempt_at <= now
                    )
                )
                .scalars()
                .all()
            )
            if not due_heads:
                return []
            numbered = (
                select(
                    outbox.c.id,
                    func.row_number()
                    .over(partition_by=outbox.c.conversation_id, order_by=outbox.c.id)
                    .label("place"),
                )
                .where(
                    outbox.c.conversation_id.in_(list(due_heads)),
                    outbox.c.status == DeliveryStatus.PENDING.value,
                    outbox.c.next_attempt_at <= now,
                )
                .subquery()
            )
            rows = (
                select(numbered.c.id)
                .where(numbered.c.place <= per_lane)
                .order_by(numbered.c.id)
                .limit(limit)
            )
            claimed = conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(rows.scalar_subquery()))
                .values(lease_owner=owner, lease_until=now + lease, attempts=outbox.c.attempts + 1)
                .returning(*outbox.c)
            ).all()
            return sorted((_chat_entry(r) for r in claimed), key=lambda d: d.id)

        return await self._db.write(work)

    async def mark_sent_many(self, mail_ids: Sequence[int], owner: str, now: datetime) -> set[int]:
        """Mark several sent emails in one commit; the ids whose claim `owner` still held."""
        params = {"ids": list(mail_ids), "owner": owner, "now": now}
        return await self._db.write(
            lambda conn: set(conn.execute(_MARK_SENT, params).scalars().all())
        )

    async def bookings_for(
        self, mails: Sequence[QueuedMail]
    ) -> tuple[dict[int, Booking], dict[int, Business]]:
        """The bookings (with history) and businesses a batch of emails is about, in one read."""
        booking_ids = sorted({m.booking_id for m in mails if m.booking_id is not None})
        business_ids = sorted({m.business_id for m in mails})

        def work(conn: Connection) -> tuple[dict[int, Booking], dict[int, Business]]:
            found = conn.execute(select(bookings).where(bookings.c.id.in_(booking_ids))).all()
            changes = conn.execute(
                select(booking_history)
                .where(booking_history.c.booking_id.in_(booking_ids))
                .order_by(booking_history.c.id)
            ).all()
            firms = conn.execute(select(businesses).where(businesses.c.id.in_(business_ids))).all()
            history: dict[int, list[HistoryEntry]] = {}
            for change in changes:
                history.setdefault(change.booking_id, []).append(rows.history(change))
            return (
                {r.id: rows.booking(r, history.get(r.id, [])) for r in found},
                {r.id: rows.business(r) for r in firms},
            )

        return await self._db.read(work)

    async def mark_retry(
        self, mail_id: int, owner: str, next_attempt_at: datetime, error: str
    ) -> bool:
        statement = (
            update(outbox)
            .where(outbox.c.id == mail_id, outbox.c.lease_owner == owner)
            .values(
                next_attempt_at=next_attempt_at,
                lease_owner=None,
                lease_until=None,
                last_error=error[:500],
            )
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def mark_failed(self, mail: QueuedMail, owner: str, error: str, now: datetime) -> bool:
        """Give up on an email; a customer's failed email is reported to the owner, once."""
        statement = (
            update(outbox)
            .where(outbox.c.id == mail.id, outbox.c.lease_owner == owner)
            .values(
                status=DeliveryStatus.FAILED.value,
                lease_owner=None,
                lease_until=None,
                last_error=error[:500],
            )
        )

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount != 1:
                return False
            if not mail.kind.to_owner and mail.booking_id is not None:
                report = Event(
                    kind=EventKind.MAIL_FAILED,
                    business_id=mail.business_id,
                    booking_id=mail.booking_id,
                    occurred_at=now,
                    actor=MAILER,
                    data={
                        "outbox_id": mail.id,
                        "kind": mail.kind.value,
                        # each failure is reported once; a retried mail may fail again
                        "report": uuid.uuid4().hex[:16],
                        "error": error[:200],
                    },
                )
                record_events(conn, [report], self._hooks)
            return True

        return await self._db.write(work)

    async def mark_posted(
        self,
        delivery: QueuedChat,
        owner: str,
        message_ref: str,
        now: datetime,
        prompt: Sequence[int] = (),
    ) -> bool:
        """A card was posted: mark the delivery sent and remember its message (every later
        change redraws it), as one guarded change: one statement on PostgreSQL. Whether our
        claim still held; if it didn't, another sender has it and records its own post.

        A close-out prompt (`prompt`: its bookings) is remembered as showing each of them,
        so an answer to any redraws it whole."""
        shows: list[int | None] = [*prompt] or [delivery.booking_id]
        change = Guarded(
            _MARK_ONE_SENT,
            {"delivery_id": delivery.id, "owner": owner, "now": now},
            [
                Rows(
                    _RECORD_MESSAGE,
                    [
                        {
                            "conversation_id": delivery.conversation_id,
                            "booking_id": booking_id,
                            "message_ref": message_ref,
                            "posted_at": now,
                            "prompt": ",".join(str(i) for i in prompt) or None,
                        }
                        for booking_id in shows
                    ],
                )
            ],
        )
        return await self._db.write_guarded(change)

    async def mark_chat_failed(self, delivery_id: int, owner: str, error: str) -> bool:
        """Give up on a chat delivery (the platform refused it for good)."""
        statement = (
            update(outbox)
            .where(outbox.c.id == delivery_id, outbox.c.lease_owner == owner)
            .values(
                status=DeliveryStatus.FAILED.value,
                lease_owner=None,
                lease_until=None,
                last_error=error[:500],
            )
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def release(
        self, delivery_ids: Sequence[int], owner: str, next_attempt_at: datetime
    ) -> None:
        """Hand claimed deliveries back, untried (their attempt uncounted, their last error
        kept), due again at `next_attempt_at`: the rest of a lane behind one the platform
        asked us to retry later, or a lane stopped at shutdown."""
        if not delivery_ids:
            return
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(list(delivery_ids)), outbox.c.lease_owner == owner)
            .values(
                next_attempt_at=next_attempt_at,
                lease_owner=None,
                lease_until=None,
                attempts=outbox.c.attempts - 1,
            )
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def still_deliverable(self, delivery_id: int, owner: str, now: datetime) -> bool:
        """Whether a claimed chat delivery is still ours and still pending, and its
        conversation still linked to its business and reachable: checked just before each
        send, since an unlink, a relink or a "gone" may have come since the claim."""
        return await self._db.read(
            lambda conn: (
                conn.execute(
                    _DELIVERABLE, {"delivery_id": delivery_id, "owner": owner, "now": now}
                ).first()
                is not None
            )
        )

    async def skip(self, mail_id: int, owner: str, reason: str) -> None:
        """Drop an email that no longer makes sense (a reminder for a cancelled booking)."""
        statement = (
            update(outbox)
            .where(outbox.c.id == mail_id, outbox.c.lease_owner == owner)
            .values(status="skipped", lease_owner=None, lease_until=None, last_error=reason)
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def skip_queued(self, business_id: int, reason: str) -> int:
        """Drop every email still queued for a business (seeded demo data sends nothing)."""
        statement = (
            update(outbox)
            .where(
                outbox.c.business_id == business_id,
                outbox.c.status == DeliveryStatus.PENDING.value,
            )
            .values(status=DeliveryStatus.SKIPPED.value, last_error=reason)
        )
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def retry(self, mail_id: int, now: datetime) -> bool:
        """Send a failed email again, with a fresh retry window."""
        statement = (
            update(outbox)
            .where(outbox.c.id == mail_id, outbox.c.status == DeliveryStatus.FAILED.value)
            .values(
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                retry_until=now + self._queue.retry_window,
            )
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def listing(
        self, statuses: Sequence[DeliveryStatus], limit: int = 200
    ) -> list[QueuedMail | QueuedChat]:
        query = (
            select(outbox)
            .where(outbox.c.status.in_([s.value for s in statuses]))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return await self._db.read(lambda conn: [_entry(r) for r in conn.execute(query).all()])


class SqlReminders:
    """Turns reminders that fell due into queued mail, once, even with several instances."""

    def __init__(self, db: Database, queue: MailQueue | None = None) -> None:
        self._db = db
        self._queue = queue or MailQueue()
        self._postgres = db.dialect == "postgresql"

    async def queue_due(self, now: datetime, limit: int = 500) -> tuple[int, int]:
        """Queue due reminders that still make sense and skip the rest; (queued, skipped)."""
        due = (
            select(
                reminders.c.id,
                reminders.c.kind,
                reminders.c.booking_id,
                reminders.c.due_at,
                bookings.c.business_id,
                bookings.c.start_at,
                bookings.c.status,
            )
            .join(bookings, bookings.c.id == reminders.c.booking_id)
            .where(reminders.c.state == "planned", reminders.c.due_at <= now)
            .order_by(reminders.c.due_at)
            .limit(limit)
        )
        if self._postgres:
            due = due.with_for_update(of=reminders, skip_locked=True)

        def work(conn: Connection) -> tuple[int, int]:
            queued = skipped = 0
            for r in conn.execute(due).all():
                kind = MailKind(r.kind)
                useful = reminder_still_useful(kind, r.start_at, Status(r.status), now)
                changed = conn.execute(
                    update(reminders)
                    .where(and_(reminders.c.id == r.id, reminders.c.state == "planned"))
                    .values(state="queued" if useful else "skipped")
                )
                if changed.rowcount != 1:
                    continue
                if not useful:
                    skipped += 1
                    continue
                mail = self._queue.mail(
                    business_id=r.business_id,
                    booking_id=r.booking_id,
                    kind=kind,
                    # by its instant: a moved booking's reminders are new ones (a reminder
                    # is only planned ahead, so an instant that went out never comes back)
                    dedupe_key=f"{r.booking_id}:{kind}:{r.due_at:%Y%m%dT%H%M%S}",
                    at=now,
                )
                self._queue.queue(conn, [mail])
                queued += 1
            return queued, skipped

        return await self._db.write(work)


# Built once: every event that mails and every reminder due runs it.
_QUEUE_MAIL = insert(outbox).from_select(
    [
        "business_id",
        "booking_id",
        "kind",
        "recipient",
        "dedupe_key",
        "failed_kind",
        "data",
        "status",
        "attempts",
        "next_attempt_at",
        "retry_until",
        "created_at",
    ],
    select(
        bindparam("business_id", type_=outbox.c.business_id.type),
        bookings.c.id,
        bindparam("kind", type_=outbox.c.kind.type),
        case(
            (bindparam("to_owner", type_=Boolean), businesses.c.owner_email),
            else_=bookings.c.customer_email,
        ),
        bindparam("dedupe_key", type_=outbox.c.dedupe_key.type),
        bindparam("failed_kind", type_=outbox.c.failed_kind.type),
        bindparam("data", type_=outbox.c.data.type),
        literal(DeliveryStatus.PENDING.value, type_=outbox.c.status.type),
        literal(0, type_=Integer),
        bindparam("at", type_=outbox.c.next_attempt_at.type),
        bindparam("retry_until", type_=outbox.c.retry_until.type),
        bindparam("at", type_=outbox.c.created_at.type),
    )
    .join(businesses, businesses.c.id == bookings.c.business_id)
    .where(bookings.c.id == bindparam("booking_id")),
)
_QUEUE_BUSINESS_MAIL = insert(outbox).from_select(
    [
        "business_id",
        "kind",
        "recipient",
        "dedupe_key",
        "status",
        "attempts",
        "next_attempt_at",
        "retry_until",
        "created_at",
        "data",
    ],
    select(
        businesses.c.id,
        bindparam("kind", type_=outbox.c.kind.type),
        businesses.c.owner_email,
        bindparam("dedupe_key", type_=outbox.c.dedupe_key.type),
        literal(DeliveryStatus.PENDING.value, type_=outbox.c.status.type),
        literal(0, type_=Integer),
        bindparam("at", type_=outbox.c.next_attempt_at.type),
        bindparam("retry_until", type_=outbox.c.retry_until.type),
        bindparam("at", type_=outbox.c.created_at.type),
        bindparam("data", type_=outbox.c.data.type),
    ).where(businesses.c.id == bindparam("business_id", type_=Integer)),
)
_INSERT_REMINDER = insert(reminders)
# Every delivery is marked by one of these, built once.
_MARK_SENT = (
    update(outbox)
    .where(
        outbox.c.id.in_(bindparam("ids", expanding=True)),
        outbox.c.lease_owner == bindparam("owner"),
    )
    .values(
        status=DeliveryStatus.SENT.value,
        sent_at=bindparam("now"),
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )
    .returning(outbox.c.id)
)
_MARK_ONE_SENT = (
    update(outbox)
    .where(outbox.c.id == bindparam("delivery_id"), outbox.c.lease_owner == bindparam("owner"))
    .values(
        status=DeliveryStatus.SENT.value,
        sent_at=bindparam("now"),
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )
)
_RECORD_MESSAGE = insert(chat_messages)
_DELIVERABLE = (
    select(outbox.c.id)
    .join(conversations, conversations.c.id == outbox.c.conversation_id)
    .where(
        outbox.c.id == bindparam("delivery_id"),
        outbox.c.lease_owner == bindparam("owner"),
        outbox.c.lease_until > bindparam("now", type_=outbox.c.lease_until.type),
        outbox.c.status == DeliveryStatus.PENDING.value,
        conversations.c.business_id == outbox.c.business_id,
        conversations.c.unreachable_at.is_(None),
    )
)
