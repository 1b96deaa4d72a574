"""The tables. Migrations in storage/migrations create them; keep the two in step."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from storage.types import Money, UTCDateTime

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

businesses = Table(
    "businesses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("owner_email", String(320), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("business_id", Integer, ForeignKey("businesses.id"), nullable=False),
    Column("customer_name", String(200), nullable=False),
    Column("customer_email", String(320), nullable=False),
    Column("customer_phone", String(32)),
    Column("service_name", String(200), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("price", Money),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("payment_provider", String(16), nullable=False),
    Column("transaction_id", String(200), nullable=False),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_status", String(16), nullable=False),
    Column("notes", Text),
    Column("search_text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "business_id", "payment_provider", "transaction_id", name="uq_bookings_payment"
    ),
    # Scans of one business in time order stay inside this index: it also holds the search text.
    Index("ix_bookings_business_start", "business_id", "start_at", "id", "search_text"),
    Index("ix_bookings_business_status_start", "business_id", "status", "start_at"),
)

booking_history = Table(
    "booking_history",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("booking_id", BigId, ForeignKey("bookings.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("business_id", Integer, ForeignKey("businesses.id"), nullable=False),
    Column("booking_id", BigId, ForeignKey("bookings.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_events_business_id", "business_id", "id"),
)

intake_keys = Table(
    "intake_keys",
    metadata,
    Column("business_id", Integer, ForeignKey("businesses.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("booking_id", BigId, ForeignKey("bookings.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("business_id", Integer, ForeignKey("businesses.id"), nullable=False),
    Column("booking_id", BigId, ForeignKey("bookings.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    # Never queue the same email twice: "<booking>:<kind>", or "failed:<outbox id>".
    Column("dedupe_key", String(64), nullable=False, unique=True),
    Column("failed_kind", String(32)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("retry_until", UTCDateTime, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("booking_id", BigId, ForeignKey("bookings.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    UniqueConstraint("booking_id", "kind", name="uq_reminders_booking_kind"),
    Index("ix_reminders_due", "state", "due_at"),
)
