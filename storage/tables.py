"""The tables. Migrations in storage/migrations create them; keep the two in step."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
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
    # Inkress signs its webhooks with this (HMAC): it must be kept as given, not as a digest.
    Column("inkress_secret", String(200)),
    Column("gct_rate", Money),  # percent; empty or 0: no GCT
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
    Column("payment_status", String(32), nullable=False),  # "partially_refunded"
    Column("notes", Text),
    Column("search_text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The refund record (core.model.Refund): payment_status follows it.
    Column("refund_state", String(16), nullable=False, server_default="none"),
    Column("refund_amount", Money),
    Column("refund_issued_at", UTCDateTime),
    Column("needs_review", Boolean, nullable=False, server_default=false()),
    Column("review_reason", Text),
    UniqueConstraint(
        "business_id", "payment_provider", "transaction_id", name="uq_bookings_payment"
    ),
    # Scans of one business in time order stay inside this index: it also holds the search text.
    Index("ix_bookings_business_start", "business_id", "start_at", "id", "search_text"),
    Index("ix_bookings_business_status_start", "business_id", "status", "start_at"),
    # A card's line of customer history counts the customer's bookings with the business.
    Index("ix_bookings_business_customer", "business_id", "customer_email"),
    Index("ix_bookings_business_refund", "business_id", "refund_state"),
    # The owner's day planner: open bookings that ended, pending ones by age (storage.owners_day).
    Index("ix_bookings_status_end", "status", "end_at"),
    Index("ix_bookings_status_created", "status", "created_at"),
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
    Column("actor_id", String(64), nullable=False, server_default=""),
    Column("note", String(32)),  # a note (refund issued) keeps the status
    Column("moved_from", UTCDateTime),  # a reschedule's old start
    Column("moved_to", UTCDateTime),  # and its new one
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
    Column("actor_id", String(64), nullable=False, server_default=""),
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

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False),  # a Slack team; "" elsewhere
    Column("chat_id", String(128), nullable=False),
    Column("title", String(200), nullable=False),
    Column("business_id", Integer, ForeignKey("businesses.id")),  # None: not linked
    Column("linked_at", UTCDateTime),
    Column("unreachable_at", UTCDateTime),  # the platform said it's gone: nothing is sent
    Column("unreachable_reason", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("digest", String(8)),  # the morning digest's local time "07:30", "off"; empty: 08:00
    UniqueConstraint("platform", "workspace", "chat_id", name="uq_conversations_key"),
    Index("ix_conversations_business", "business_id"),
)

conversation_log = Table(
    "conversation_log",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("business_id", Integer, ForeignKey("businesses.id"), nullable=False),
    Column("action", String(16), nullable=False),  # linked, relinked, unlinked, unreachable
    Column("at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("detail", Text),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the code; never the code
    Column("business_id", Integer, ForeignKey("businesses.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("conversation_id", Integer, ForeignKey("conversations.id")),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("booking_id", BigId, ForeignKey("bookings.id"), nullable=False),
    Column("message_ref", String(64), nullable=False),  # Slack ts, Telegram message_id
    Column("posted_at", UTCDateTime, nullable=False),
    # A close-out prompt's bookings ("42,43"): its redraw shows them all. Empty: a card.
    Column("prompt", String(200)),
    # A message shows one booking, or (a close-out prompt) each of several.
    UniqueConstraint("conversation_id", "message_ref", "booking_id", name="uq_chat_messages_shown"),
    Index("ix_chat_messages_booking", "booking_id", "conversation_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("business_id", Integer, ForeignKey("businesses.id"), nullable=False),
    # None: about the business, not one booking (a conversation became unreachable)
    Column("booking_id", BigId, ForeignKey("bookings.id")),
    Column("kind", String(32), nullable=False),
    # An email address, or the conversation as "platform:chat" for a chat delivery.
    Column("recipient", String(320), nullable=False),
    # Never queue the same delivery twice: "<booking>:<kind>", "failed:<outbox id>", ...
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
    Column("channel", String(8), nullable=False, server_default="mail"),  # mail | chat
    Column("conversation_id", Integer, ForeignKey("conversations.id")),
    Column("data", JSON),  # a chat notice's words come from this
    Index("ix_outbox_channel_due", "channel", "status", "next_attempt_at"),
    # A conversation's deliveries go out in order: its lane.
    Index("ix_outbox_lane", "conversation_id", "status", "id"),
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

# Every event a payment provider sent, once: the unique key is what makes a duplicate or
# concurrent delivery change nothing. `applied_at` is empty while the event waits for its
# booking (a refund that came before its capture).
payment_events = Table(
    "payment_events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("kind", String(32), nullable=False),  # paid, refunded
    Column("transaction_id", String(200), nullable=False),
    Column("business_id", Integer, ForeignKey("businesses.id")),  # None: any (PayPal's ids)
    Column("amount", Money),
    Column("currency", String(3)),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("applied_at", UTCDateTime),
    Column("booking_id", BigId, ForeignKey("bookings.id")),
    UniqueConstraint("provider", "event_id", name="uq_payment_events_event"),
    Index("ix_payment_events_payment", "provider", "transaction_id"),
)

# A booking put in a close-out prompt in a conversation: once per conversation, ever, however
# many planners run (storage.owners_day).
closeout_prompts = Table(
    "closeout_prompts",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
    Column("booking_id", BigId, ForeignKey("bookings.id"), primary_key=True),
    Column("queued_at", UTCDateTime, nullable=False),
    Index("ix_closeout_prompts_booking", "booking_id"),
)

# Each business's calendar subscription URL: the token is shown once, only its digest kept.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("business_id", Integer, ForeignKey("businesses.id"), primary_key=True),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("with_contacts", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
)
