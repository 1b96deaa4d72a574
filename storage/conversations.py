"""Conversations, their links to businesses, link codes, and the messages that show bookings.

Linking is one transaction: the code is checked, spent and the conversation linked together,
so a code links exactly one conversation even when two try at once. A conversation the
platform says is gone is marked unreachable in one transaction with what that causes: its
queued deliveries skipped, a notice to the business's other conversations and an email to
the owner.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.chat import (
    LINK_CODE_TTL,
    ChatKind,
    Conversation,
    ConversationKey,
    LinkOutcome,
    LinkResult,
    NoticeKind,
    Platform,
)
from core.model import Actor, ActorKind, Channel
from core.notifications import DeliveryStatus, MailKind
from storage.chat_queue import QUEUE_FOR_ALL, ChatQueue
from storage.database import Database
from storage.outbox import MailQueue
from storage.tables import chat_messages, conversation_log, conversations, link_codes, outbox
from storage.writes import Rows, insert_rows

PLATFORM = Actor(ActorKind.SYSTEM, Channel.SYSTEM, "platform")


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        key=ConversationKey(Platform(row.platform), row.workspace, row.chat_id),
        business_id=row.business_id,
        title=row.title,
        unreachable=row.unreachable_at is not None,
    )


def _key_matches(key: ConversationKey) -> Any:
    return and_(
        conversations.c.platform == key.platform.value,
        conversations.c.workspace == key.workspace,
        conversations.c.chat_id == key.chat_id,
    )


class SqlConversations:
    """The core's Conversations port, and what chat delivery needs besides."""

    def __init__(
        self, db: Database, chat: ChatQueue | None = None, mail: MailQueue | None = None
    ) -> None:
        self._db = db
        self._chat = chat or ChatQueue()
        self._mail = mail or MailQueue()

    async def find(self, key: ConversationKey) -> Conversation | None:
        query = select(conversations).where(_key_matches(key))

        def work(conn: Connection) -> Conversation | None:
            row = conn.execute(query).first()
            return _conversation(row) if row else None

        return await self._db.read(work)

    async def by_ids(self, ids: list[int]) -> dict[int, Conversation]:
        query = select(conversations).where(conversations.c.id.in_(ids))
        return await self._db.read(
            lambda conn: {r.id: _conversation(r) for r in conn.execute(query).all()}
        )

    async def linked(self, business_id: int) -> list[Conversation]:
        query = (
            select(conversations)
            .where(conversations.c.business_id == business_id)
            .order_by(conversations.c.id)
        )
        return await self._db.read(
            lambda conn: [_conversation(r) for r in conn.execute(query).all()]
        )

    async def linked_in(self, platform: Platform, workspace: str) -> list[Conversation]:
        """The reachable conversations of one workspace (a Slack team) that are linked."""
        query = (
            select(conversations)
            .where(
                conversations.c.platform == platform.value,
                conversations.c.workspace == workspace,
                conversations.c.business_id.is_not(None),
                conversations.c.unreachable_at.is_(None),
            )
            .order_by(conversations.c.id)
        )
        return await self._db.read(
            lambda conn: [_conversation(r) for r in conn.execute(query).all()]
        )

    async def add_link_code(self, business_id: int, digest: str, at: datetime) -> None:
        values = {
            "digest": digest,
            "business_id": business_id,
            "created_at": at,
            "expires_at": at + LINK_CODE_TTL,
        }
        await self._db.write(lambda conn: conn.execute(insert(link_codes), values))

    async def link(
        self, key: ConversationKey, title: str, digest: str, actor: Actor, at: datetime
    ) -> LinkResult:
        for attempt in range(2):
            try:
                return await self._db.write(lambda conn: _link(conn, key, title, digest, actor, at))
            except _CodeTaken:
                return LinkResult(LinkOutcome.REFUSED)
            except IntegrityError:  # the same conversation linked twice at once: read again
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def unlink(self, key: ConversationKey, actor: Actor, at: datetime) -> int | None:
        def work(conn: Connection) -> int | None:
            row = conn.execute(select(conversations).where(_key_matches(key))).first()
            if row is None or row.business_id is None:
                return None
            changed = conn.execute(
                update(conversations)
                .where(conversations.c.id == row.id, conversations.c.business_id == row.business_id)
                .values(business_id=None, linked_at=None)
            ).rowcount
            if changed != 1:
                return None
            _skip_queued(conn, row.id, "the conversation was unlinked")
            _log(conn, row.id, row.business_id, "unlinked", actor, at)
            return int(row.business_id)

        return await self._db.write(work)

    async def record_message(
        self, conversation_id: int, booking_id: int, message_ref: str, at: datetime
    ) -> None:
        values = {
            "conversation_id": conversation_id,
            "booking_id": booking_id,
            "message_ref": message_ref,
            "posted_at": at,
        }

        def work(conn: Connection) -> None:
            found = conn.execute(
                select(chat_messages.c.id).where(
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.message_ref == message_ref,
                )
            ).first()
            if found is None:
                conn.execute(insert(chat_messages), values)

        await self._db.write(work)

    async def set_digest(self, conversation_id: int, setting: str) -> None:
        statement = (
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(digest=setting)
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def shown_in(
        self, conversation_id: int, booking_id: int
    ) -> list[tuple[str, list[int] | None]]:
        """The messages in a conversation that show a booking, oldest first, each with the
        bookings of the close-out prompt it is (None: the booking's card)."""
        query = (
            select(chat_messages.c.message_ref, chat_messages.c.prompt)
            .where(
                chat_messages.c.booking_id == booking_id,
                chat_messages.c.conversation_id == conversation_id,
            )
            .order_by(chat_messages.c.id)
        )
        return await self._db.read(
            lambda conn: [
                (r.message_ref, [int(i) for i in r.prompt.split(",")] if r.prompt else None)
                for r in conn.execute(query).all()
            ]
        )

    async def forget_message(self, conversation_id: int, message_ref: str) -> None:
        """A message someone deleted: nothing to redraw there any more."""
        statement = delete(chat_messages).where(
            chat_messages.c.conversation_id == conversation_id,
            chat_messages.c.message_ref == message_ref,
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def messages(self, conversation_id: int, booking_id: int) -> list[str]:
        """The messages in a conversation that show a booking, oldest first."""
        query = (
            select(chat_messages.c.message_ref)
            .where(
                chat_messages.c.booking_id == booking_id,
                chat_messages.c.conversation_id == conversation_id,
            )
            .order_by(chat_messages.c.id)
        )
        return await self._db.read(lambda conn: list(conn.execute(query).scalars().all()))

    async def mark_unreachable(self, conversation_id: int, reason: str, at: datetime) -> bool:
        """The platform says a conversation is gone: send it nothing more until it is linked
        again, and tell the owner in their other conversations and by email. Once."""

        def work(conn: Connection) -> bool:
            row = conn.execute(
                select(conversations).where(conversations.c.id == conversation_id)
            ).first()
            if row is None or row.business_id is None or row.unreachable_at is not None:
                return False
            conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(unreachable_at=at, unreachable_reason=reason[:200])
            )
            _skip_queued(conn, conversation_id, f"unreachable: {reason}"[:500])
            _log(conn, conversation_id, row.business_id, "unreachable", PLATFORM, at, reason)
            gone = _conversation(row)
            data = {
                "notice": NoticeKind.UNREACHABLE.value,
                "platform": gone.key.platform.channel.label,
                "title": gone.label,
                "reason": reason[:200],
            }
            notice = self._chat.delivery(
                business_id=row.business_id,
                booking_id=None,
                kind=ChatKind.NOTICE,
                data=data,
                at=at,
            )
            mail = self._mail.business_mail(
                business_id=row.business_id,
                kind=MailKind.CHAT_UNREACHABLE,
                dedupe_key=f"unreachable:{conversation_id}:{uuid.uuid4().hex[:16]}",
                data=data,
                at=at,
            )
            insert_rows(
                conn,
                [Rows(QUEUE_FOR_ALL, [notice], fanout=True), self._mail.business_rows([mail])],
            )
            return True

        return await self._db.write(work)


def _link(
    conn: Connection, key: ConversationKey, title: str, digest: str, actor: Actor, at: datetime
) -> LinkResult:
    code = conn.execute(select(link_codes).where(link_codes.c.digest == digest)).first()
    if code is None or code.used_at is not None or code.expires_at <= at:
        return LinkResult(LinkOutcome.REFUSED)
    row = conn.execute(select(conversations).where(_key_matches(key))).first()
    if row is not None and row.business_id not in (None, code.business_id):
        return LinkResult(LinkOutcome.ELSEWHERE, row.business_id)  # the code stays unspent
    if row is None:
        conversation_id = int(
            conn.execute(
                insert(conversations).returning(conversations.c.id),
                {
                    "platform": key.platform.value,
                    "workspace": key.workspace,
                    "chat_id": key.chat_id,
                    "title": title[:200],
                    "business_id": code.business_id,
                    "linked_at": at,
                    "created_at": at,
                },
            ).scalar_one()
        )
    else:
        conversation_id = row.id
        conn.execute(
            update(conversations)
            .where(conversations.c.id == row.id)
            .values(
                business_id=code.business_id,
                linked_at=row.linked_at if row.business_id is not None else at,
                unreachable_at=None,
                unreachable_reason=None,
                title=title[:200] or row.title,
            )
        )
    spent = conn.execute(
        update(link_codes)
        .where(link_codes.c.digest == digest, link_codes.c.used_at.is_(None))
        .values(used_at=at, conversation_id=conversation_id)
    ).rowcount
    if spent != 1:  # another conversation took it a moment ago: undo ours
        raise _CodeTaken
    again = row is not None and row.business_id == code.business_id
    _log(conn, conversation_id, code.business_id, "relinked" if again else "linked", actor, at)
    return LinkResult(LinkOutcome.RELINKED if again else LinkOutcome.LINKED, code.business_id)


class _CodeTaken(Exception):
    """Rolls the link back: the code was spent by another conversation meanwhile."""


def _skip_queued(conn: Connection, conversation_id: int, reason: str) -> None:
    conn.execute(
        update(outbox)
        .where(
            outbox.c.conversation_id == conversation_id,
            outbox.c.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.SKIPPED.value, last_error=reason, lease_owner=None)
    )


def _log(
    conn: Connection,
    conversation_id: int,
    business_id: int,
    action: str,
    actor: Actor,
    at: datetime,
    detail: str | None = None,
) -> None:
    conn.execute(
        insert(conversation_log),
        {
            "conversation_id": conversation_id,
            "business_id": business_id,
            "action": action,
            "at": at,
            "actor_kind": actor.kind.value,
            "channel": actor.channel.value,
            "actor_id": actor.person_id,
            "actor_name": actor.name,
            "detail": detail,
        },
    )
