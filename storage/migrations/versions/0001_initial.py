"""Businesses, bookings, their history, the events stream and intake keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("owner_email", sa.String(320), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "bookings",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id"), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("customer_email", sa.String(320), nullable=False),
        sa.Column("customer_phone", sa.String(32)),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("duration_minutes", sa.Integer, nullable=False),
        sa.Column("price", Money),
        sa.Column("start_at", UTCDateTime, nullable=False),
        sa.Column("end_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_provider", sa.String(16), nullable=False),
        sa.Column("transaction_id", sa.String(200), nullable=False),
        sa.Column("amount", Money, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_status", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "business_id", "payment_provider", "transaction_id", name="uq_bookings_payment"
        ),
    )
    op.create_index(
        "ix_bookings_business_start", "bookings", ["business_id", "start_at", "search_text"]
    )
    op.create_index(
        "ix_bookings_business_status_start", "bookings", ["business_id", "status", "start_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        # Substring search of a rare term without scanning the business's every booking.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_bookings_search_trgm ON bookings USING gin (search_text gin_trgm_ops)"
        )
    op.create_table(
        "booking_history",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("booking_id", BigId, sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_booking_history_booking_id", "booking_history", ["booking_id"])
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id"), nullable=False),
        sa.Column("booking_id", BigId, sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_business_id", "events", ["business_id", "id"])
    op.create_table(
        "intake_keys",
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("booking_id", BigId, sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intake_keys")
    op.drop_table("events")
    op.drop_table("booking_history")
    op.drop_table("bookings")
    op.drop_table("businesses")
