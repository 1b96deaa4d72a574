"""The chat layer: conversations linked to businesses, one-time link codes, the messages that
show each booking, chat deliveries in the outbox, history notes and who acted by platform id.

The outbox takes chat deliveries beside mail (`channel`), each in its conversation's lane,
and rows about a business rather than one booking (`booking_id` may be empty). On SQLite,
changing a column's nullability rebuilds the table (Alembic's batch mode).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id")),
        sa.Column("linked_at", UTCDateTime),
        sa.Column("unreachable_at", UTCDateTime),
        sa.Column("unreachable_reason", sa.String(200)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("platform", "workspace", "chat_id", name="uq_conversations_key"),
    )
    op.create_index("ix_conversations_business", "conversations", ["business_id"])
    op.create_table(
        "conversation_log",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_table(
        "link_codes",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id")),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), nullable=False),
        sa.Column("booking_id", BigId, sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("message_ref", sa.String(64), nullable=False),
        sa.Column("posted_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("conversation_id", "message_ref", name="uq_chat_messages_ref"),
    )
    op.create_index("ix_chat_messages_booking", "chat_messages", ["booking_id", "conversation_id"])
    with op.batch_alter_table("booking_history") as history:
        history.add_column(sa.Column("actor_id", sa.String(64), nullable=False, server_default=""))
        history.add_column(sa.Column("note", sa.String(32)))
    with op.batch_alter_table("events") as events:
        events.add_column(sa.Column("actor_id", sa.String(64), nullable=False, server_default=""))
    op.drop_index("ix_outbox_due", table_name="outbox")
    with op.batch_alter_table("outbox") as outbox:
        outbox.alter_column("booking_id", existing_type=BigId, nullable=True)
        outbox.add_column(sa.Column("channel", sa.String(8), nullable=False, server_default="mail"))
        outbox.add_column(sa.Column("conversation_id", sa.Integer))
        outbox.create_foreign_key(
            "fk_outbox_conversation", "conversations", ["conversation_id"], ["id"]
        )
        outbox.add_column(sa.Column("data", sa.JSON))
    op.create_index("ix_outbox_channel_due", "outbox", ["channel", "status", "next_attempt_at"])
    op.create_index("ix_outbox_lane", "outbox", ["conversation_id", "status", "id"])
    op.create_index("ix_bookings_business_customer", "bookings", ["business_id", "customer_email"])


def downgrade() -> None:
    # What 0005's code can't read: history notes (a refund marked issued) and their events;
    # the booking's payment keeps saying refunded. Deliveries to chats and about a business.
    op.execute("DELETE FROM booking_history WHERE note IS NOT NULL")
    op.execute("DELETE FROM events WHERE kind = 'booking.refund_issued'")
    op.drop_index("ix_bookings_business_customer", table_name="bookings")
    op.drop_index("ix_outbox_lane", table_name="outbox")
    op.drop_index("ix_outbox_channel_due", table_name="outbox")
    op.execute("DELETE FROM outbox WHERE channel <> 'mail' OR booking_id IS NULL")
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_constraint("fk_outbox_conversation", type_="foreignkey")
        outbox.drop_column("data")
        outbox.drop_column("conversation_id")
        outbox.drop_column("channel")
        outbox.alter_column("booking_id", existing_type=BigId, nullable=False)
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    with op.batch_alter_table("events") as events:
        events.drop_column("actor_id")
    with op.batch_alter_table("booking_history") as history:
        history.drop_column("note")
        history.drop_column("actor_id")
    op.drop_table("chat_messages")
    op.drop_table("link_codes")
    op.drop_table("conversation_log")
    op.drop_table("conversations")
