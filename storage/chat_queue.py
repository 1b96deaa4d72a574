"""Chat deliveries, queued in the transaction of the event that causes them.

One INSERT ... SELECT writes a delivery per linked, reachable conversation of the business
(none when nothing is linked), so an event costs the same statements however many
conversations there are, and on PostgreSQL it joins a move's one statement
(`storage.writes.one_statement`) like the mail does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    String,
    bindparam,
    cast,
    exists,
    insert,
    literal,
    or_,
    select,
    true,
)

from core.chat import ChatKind, chat_for
from core.events import Event
from core.notifications import RETRY_WINDOW, DeliveryStatus
from storage.tables import chat_messages, conversations, outbox
from storage.writes import Rows

CHANNEL = "chat"


class ChatQueue:
    """Event hook: the chat deliveries each event causes (see `core.chat.chat_for`)."""

    def __init__(self, retry_window: timedelta = RETRY_WINDOW) -> None:
        self.retry_window = retry_window

    def __call__(self, new_events: Sequence[Event]) -> list[Rows]:
        everyone: list[dict[str, Any]] = []
        showing: list[dict[str, Any]] = []
        for event in new_events:
            for kind, data in chat_for(event):
                row = self.delivery(
                    business_id=event.business_id,
                    booking_id=event.booking_id,
                    kind=kind,
                    data=data,
                    at=event.occurred_at,
                )
                # A redraw goes only where the booking is shown (or its card is on its way).
                (showing if kind is ChatKind.REDRAW else everyone).append(row)
        return [
            Rows(QUEUE_FOR_ALL, everyone, fanout=True),
            Rows(QUEUE_WHERE_SHOWN, showing, fanout=True),
        ]

    def delivery(
        self,
        *,
        business_id: int,
        booking_id: int | None,
        kind: ChatKind,
        data: dict[str, Any],
        at: datetime,
    ) -> dict[str, Any]:
        """The parameters of one delivery to each conversation; its dedupe key ends in the
        conversation's id. A booking's card is posted to a conversation once, ever."""
        prefix = (
            f"card:{booking_id}:" if kind is ChatKind.CARD else f"{kind.value}:{uuid.uuid4().hex}:"
        )
        return {
            "business_id": business_id,
            "booking_id": booking_id,
            "kind": kind.value,
            "dedupe_prefix": prefix,
            "data": data,
            "at": at,
            "retry_until": at + self.retry_window,
        }


def _queue(where: ColumnElement[bool]) -> Insert:
    """An INSERT ... SELECT of one delivery per linked, reachable conversation matching."""
    return insert(outbox).from_select(
        [
            "business_id",
            "booking_id",
            "kind",
            "recipient",
            "dedupe_key",
            "status",
            "attempts",
            "next_attempt_at",
            "retry_until",
            "created_at",
            "channel",
            "conversation_id",
            "data",
        ],
        select(
            conversations.c.business_id,
            bindparam("booking_id", type_=outbox.c.booking_id.type),
            bindparam("kind", type_=outbox.c.kind.type),
            conversations.c.platform + literal(":") + conversations.c.chat_id,
            bindparam("dedupe_prefix", type_=String) + cast(conversations.c.id, String),
            literal(DeliveryStatus.PENDING.value, type_=outbox.c.status.type),
            literal(0, type_=Integer),
            bindparam("at", type_=outbox.c.next_attempt_at.type),
            bindparam("retry_until", type_=outbox.c.retry_until.type),
            bindparam("at", type_=outbox.c.created_at.type),
            literal(CHANNEL, type_=outbox.c.channel.type),
            conversations.c.id,
            bindparam("data", type_=outbox.c.data.type),
        ).where(
            conversations.c.business_id == bindparam("business_id", type_=Integer),
            conversations.c.unreachable_at.is_(None),
            where,
        ),
    )


_SHOWN = exists().where(
    chat_messages.c.conversation_id == conversations.c.id,
    chat_messages.c.booking_id == bindparam("booking_id", type_=outbox.c.booking_id.type),
)
# The card's delivery, found by its unique dedupe key (see `ChatQueue.delivery`).
_CARD_ON_ITS_WAY = exists().where(
    outbox.c.dedupe_key
    == literal("card:")
    + cast(bindparam("booking_id", type_=outbox.c.booking_id.type), String)
    + literal(":")
    + cast(conversations.c.id, String)
)

# Built once: every event with chat deliveries runs one of them.
QUEUE_FOR_ALL = _queue(true())
QUEUE_WHERE_SHOWN = _queue(or_(_SHOWN, _CARD_ON_ITS_WAY))
