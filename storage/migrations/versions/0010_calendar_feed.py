"""Reschedules and the owner's calendar feed: a history note's old and new start, and each
business's secret feed token (only its SHA-256 digest) with its contacts switch.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_history") as batch:
        batch.add_column(sa.Column("moved_from", UTCDateTime))
        batch.add_column(sa.Column("moved_to", UTCDateTime))
    op.create_table(
        "calendar_feeds",
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id"), primary_key=True),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("with_contacts", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    # What 0009's code can't read: reschedule notes, their events and the rescheduled
    # emails not sent yet (the booking keeps its new start; its reminders are already planned).
    op.execute("DELETE FROM booking_history WHERE note = 'rescheduled'")
    op.execute("DELETE FROM events WHERE kind = 'booking.rescheduled'")
    op.execute("DELETE FROM outbox WHERE channel = 'mail' AND kind = 'rescheduled'")
    op.drop_table("calendar_feeds")
    with op.batch_alter_table("booking_history") as batch:
        batch.drop_column("moved_to")
        batch.drop_column("moved_from")
