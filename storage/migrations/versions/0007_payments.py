"""Payments: the refund record stored with each booking, payments to review, the events
payment providers sent (each once), and each business's Inkress webhook secret.

The refund record was read from the status, the payment and the history until now: it is
filled in from them here (cancelled and paid: owed; refunded: issued, when it was marked).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import Money, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ALTER TABLE, never batch mode: on SQLite a batch copies the table, and the
    # bookings' search triggers (0004) would be lost with the old one.
    op.add_column(
        "bookings", sa.Column("refund_state", sa.String(16), nullable=False, server_default="none")
    )
    op.add_column("bookings", sa.Column("refund_amount", Money))
    op.add_column("bookings", sa.Column("refund_issued_at", UTCDateTime))
    op.add_column(
        "bookings",
        sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("bookings", sa.Column("review_reason", sa.Text))
    op.execute(
        "UPDATE bookings SET refund_state = 'owed', refund_amount = amount "
        "WHERE status = 'cancelled' AND payment_status = 'paid'"
    )
    op.execute(
        "UPDATE bookings SET refund_state = 'issued', refund_amount = amount, "
        "refund_issued_at = (SELECT max(h.at) FROM booking_history h "
        "WHERE h.booking_id = bookings.id AND h.note = 'refund-issued') "
        "WHERE payment_status = 'refunded'"
    )
    op.create_index("ix_bookings_business_refund", "bookings", ["business_id", "refund_state"])
    # `partially_refunded` is longer than 16 characters. SQLite keeps any length in a
    # VARCHAR; there the column keeps its declared type (see storage.tables).
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "bookings",
            "payment_status",
            type_=sa.String(32),
            existing_type=sa.String(16),
            existing_nullable=False,
        )
    op.add_column("businesses", sa.Column("inkress_secret", sa.String(200)))
    op.create_table(
        "payment_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("transaction_id", sa.String(200), nullable=False),
        sa.Column("business_id", sa.Integer, sa.ForeignKey("businesses.id")),
        sa.Column("amount", Money),
        sa.Column("currency", sa.String(3)),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("applied_at", UTCDateTime),
        sa.Column("booking_id", BigId, sa.ForeignKey("bookings.id")),
        sa.UniqueConstraint("provider", "event_id", name="uq_payment_events_event"),
    )
    op.create_index("ix_payment_events_payment", "payment_events", ["provider", "transaction_id"])


def downgrade() -> None:
    # What 0006's code can't read: the new payment statuses and the providers' channels.
    # Cash bookings stay (0006's code can't show them: downgrade only with none).
    op.execute("UPDATE bookings SET payment_status = 'paid' WHERE payment_status = 'due'")
    op.execute(
        "UPDATE bookings SET payment_status = 'refunded' "
        "WHERE payment_status = 'partially_refunded'"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "bookings",
            "payment_status",
            type_=sa.String(16),
            existing_type=sa.String(32),
            existing_nullable=False,
        )
    op.execute(
        "UPDATE booking_history SET channel = 'system' WHERE channel IN ('paypal', 'inkress')"
    )
    op.execute("UPDATE events SET channel = 'system' WHERE channel IN ('paypal', 'inkress')")
    op.drop_table("payment_events")
    op.drop_column("businesses", "inkress_secret")
    op.drop_index("ix_bookings_business_refund", table_name="bookings")
    for column in (
        "review_reason",
        "needs_review",
        "refund_issued_at",
        "refund_amount",
        "refund_state",
    ):
        op.drop_column("bookings", column)  # SQLite 3.35+ drops a column in place
