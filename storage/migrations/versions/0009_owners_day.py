"""The owner's day: a conversation's digest time, close-out prompts asked per conversation,
the messages that show a close-out prompt (one message may now show several bookings), and
the indexes the planner reads by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Not in batch mode: on SQLite that rebuilds the table, which others refer to.
    op.add_column("conversations", sa.Column("digest", sa.String(8)))
    with op.batch_alter_table("chat_messages") as messages:
        messages.add_column(sa.Column("prompt", sa.String(200)))
        messages.drop_constraint("uq_chat_messages_ref", type_="unique")
        messages.create_unique_constraint(
            "uq_chat_messages_shown", ["conversation_id", "message_ref", "booking_id"]
        )
    op.create_table(
        "closeout_prompts",
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversations.id"),
            primary_key=True,
        ),
        sa.Column("booking_id", BigId, sa.ForeignKey("bookings.id"), primary_key=True),
        sa.Column("queued_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_closeout_prompts_booking", "closeout_prompts", ["booking_id"])
    op.create_index("ix_bookings_status_end", "bookings", ["status", "end_at"])
    op.create_index("ix_bookings_status_created", "bookings", ["status", "created_at"])


def downgrade() -> None:
    # What 0006's code can't read: no-shows (back to confirmed: the appointment's time has
    # passed, the owner closes it again) and their events; the owner's day's deliveries.
    op.execute("UPDATE bookings SET status = 'confirmed' WHERE status = 'no_show'")
    op.execute("DELETE FROM booking_history WHERE to_status = 'no_show'")
    op.execute("DELETE FROM events WHERE kind = 'booking.no_show'")
    op.execute(
        "DELETE FROM outbox WHERE kind IN "
        "('chat.closeout', 'chat.nudge', 'chat.digest', 'chat.refunds')"
    )
    op.drop_index("ix_bookings_status_created", table_name="bookings")
    op.drop_index("ix_bookings_status_end", table_name="bookings")
    op.drop_index("ix_closeout_prompts_booking", table_name="closeout_prompts")
    op.drop_table("closeout_prompts")
    op.execute("DELETE FROM chat_messages WHERE prompt IS NOT NULL")
    with op.batch_alter_table("chat_messages") as messages:
        messages.drop_constraint("uq_chat_messages_shown", type_="unique")
        messages.create_unique_constraint(
            "uq_chat_messages_ref", ["conversation_id", "message_ref"]
        )
        messages.drop_column("prompt")
    op.drop_column("conversations", "digest")
