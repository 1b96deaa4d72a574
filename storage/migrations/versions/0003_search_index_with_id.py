"""The business/time index also holds the booking id, so a search never reads the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_bookings_business_start", table_name="bookings")
    op.create_index(
        "ix_bookings_business_start",
        "bookings",
        ["business_id", "start_at", "id", "search_text"],
    )


def downgrade() -> None:
    op.drop_index("ix_bookings_business_start", table_name="bookings")
    op.create_index(
        "ix_bookings_business_start", "bookings", ["business_id", "start_at", "search_text"]
    )
