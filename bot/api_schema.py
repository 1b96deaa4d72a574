"""The intake API's request and response shapes."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from bot.currencies import CODES, is_currency
from core.model import (
    Booking,
    Business,
    Customer,
    NewBooking,
    Payment,
    PaymentStatus,
    Provider,
    Service,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly


def _no_controls(value: str) -> str:
    """Refuse control characters: they could rewrite an owner's terminal or a mail header."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _no_controls_but_lines(value: str) -> str:
    """Free text may break lines and tab, nothing else."""
    _no_controls(value.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))
    return value.replace("\r\n", "\n")


def _ascii_mailbox(value: str) -> str:
    """The part before @ must be ASCII: we send without SMTPUTF8, so others can't be delivered."""
    if not value.partition("@")[0].isascii():
        raise ValueError("the part before @ must use ASCII letters only")
    return value


OneLine = AfterValidator(_no_controls)
NO_CONTROLS = "No control characters (Unicode category Cc)."
# The same rules as the validators, described for clients and schema-driven fuzzers.
ONE_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
LINES_PATTERN = r"^(?:[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\r\n)*$"  # tab, LF, CRLF
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    OneLine,
    Field(description=NO_CONTROLS, json_schema_extra={"pattern": ONE_LINE_PATTERN}),
]


def _iso_4217(value: str) -> str:
    if not is_currency(value):
        raise ValueError("not a currency in use: give its ISO 4217 code, e.g. USD, EUR, JMD")
    return value


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True),
    AfterValidator(_iso_4217),
    Field(
        description="The ISO 4217 code of money in use today (legal tender somewhere, by the "
        "Unicode CLDR): not XXX, XTS, a fund or withdrawn money. Any case; stored upper-case.",
        json_schema_extra={"enum": sorted(CODES)},
    ),
]


def _cents(value: Decimal) -> Decimal:
    """At least two decimals, as money is written: 4500 and 4500.0 become 4500.00."""
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal("0.01")) if isinstance(exponent, int) and exponent > -2 else value


Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=14,
        decimal_places=3,
        description='Money in major units as a decimal string, e.g. "45.00" (a JSON number is '
        "accepted too); at most 3 decimals, never negative.",
    ),
    AfterValidator(_cents),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 99_999_999_999},
                {"type": "string", "pattern": r"^[0-9]{1,11}(\.[0-9]{1,3})?$"},
            ],
            "description": 'Money in major units as a decimal string, e.g. "45.00" (a JSON '
            "number is accepted too); at most 3 decimals, never negative.",
        }
    ),
]


class CustomerIn(BaseModel):
    name: Name
    email: Annotated[EmailStr, StringConstraints(max_length=320), AfterValidator(_ascii_mailbox)]
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), OneLine] | None
    ) = None


class ServiceIn(BaseModel):
    name: Name
    duration_minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    price: Amount | None = None


class PaymentIn(BaseModel):
    provider: Literal["inkress", "paypal", "cash"] = Field(
        description="cash: paid at the appointment (the booking's payment is `due` until it "
        "is completed); no transaction id, and a repeat is recognised by its Idempotency-Key "
        "alone."
    )
    transaction_id: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
            OneLine,
            Field(
                description=f"The provider's id of the payment; not for cash. {NO_CONTROLS}",
                json_schema_extra={"pattern": ONE_LINE_PATTERN},
            ),
        ]
        | None
    ) = Field(default=None, validate_default=True)
    amount: Amount
    currency: Currency

    @field_validator("transaction_id", mode="after")
    @classmethod
    def _transaction_named(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("provider", "cash") != "cash":
            raise PydanticCustomError("missing", "Field required (only cash has none)")
        return value

    def to_domain(self, idempotency_key: str | None) -> Payment:
        """The payment; cash gets a transaction id of its own (bookings are unique per
        payment): from the Idempotency-Key, so a repeat is the same payment, else random."""
        provider = Provider(self.provider)
        if provider is not Provider.CASH:
            return Payment(provider, self.transaction_id or "", self.amount, self.currency)
        if idempotency_key:
            cash_id = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        else:
            cash_id = secrets.token_hex(16)
        return Payment(provider, f"cash-{cash_id}", self.amount, self.currency, PaymentStatus.DUE)


class BookingIn(BaseModel):
    """A paid booking from a booking page. `start` must carry its UTC offset."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "customer": {"name": "Ana Silva", "email": "ana@example.com", "phone": "+1 555"},
                "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
                "start": "2026-12-03T10:00:00-05:00",  # replaced: see example_start
                "payment": {
                    "provider": "paypal",
                    "transaction_id": "9XK12345AB678901C",
                    "amount": "45.00",
                    "currency": "USD",
                },
                "notes": "First visit",
            }
        }
    )

    customer: CustomerIn
    service: ServiceIn
    start: Annotated[
        AwareDatetime,
        Strict(),  # a string: a JSON number was taken for seconds since 1970
        Field(description="ISO 8601 with its UTC offset; in the future, at most two years ahead."),
    ]
    payment: PaymentIn
    notes: (
        Annotated[
            str,
            StringConstraints(max_length=2000),
            AfterValidator(_no_controls_but_lines),
            Field(
                description="Line breaks and tabs allowed; no other control characters.",
                json_schema_extra={"pattern": LINES_PATTERN},
            ),
        ]
        | None
    ) = None

    def fingerprint(self) -> str:
        """A digest of the request's meaning, to tell a repeat from a reused key.

        Spellings of the same value digest alike: "45.00", 45.0 and 45 are one amount, and
        a start is one instant whatever offset it is written with.
        """
        meaning = self.model_dump(mode="json")
        meaning["start"] = self.start.astimezone(UTC).isoformat()
        meaning["payment"]["amount"] = _plain(self.payment.amount)
        if self.service.price is not None:
            meaning["service"]["price"] = _plain(self.service.price)
        canonical = json.dumps(meaning, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_domain(self, idempotency_key: str | None) -> NewBooking:
        return NewBooking(
            customer=Customer(self.customer.name, str(self.customer.email), self.customer.phone),
            service=Service(self.service.name, self.service.duration_minutes, self.service.price),
            start_at=self.start,
            payment=self.payment.to_domain(idempotency_key),
            notes=self.notes or None,
            idempotency_key=idempotency_key,
            fingerprint=self.fingerprint(),
        )


def example_start(now: datetime) -> str:
    """The example's start: tomorrow at 10:00 in New York, so it never goes stale."""
    new_york = ZoneInfo("America/New_York")
    tomorrow = now.astimezone(new_york).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(10), new_york).isoformat()


def _plain(amount: Decimal) -> str:
    """One text per amount: no exponent, no trailing zeros ("4500.00" -> "4500")."""
    return format(amount.normalize(), "f")


class CancelIn(BaseModel):
    reason: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=500),
            AfterValidator(_no_controls_but_lines),
            Field(
                description="Line breaks and tabs allowed; no other control characters.",
                json_schema_extra={"pattern": LINES_PATTERN},
            ),
        ]
        | None
    ) = None


class HistoryOut(BaseModel):
    at: datetime
    by: str
    channel: str
    from_status: str | None
    to_status: str
    reason: str | None
    note: str | None = None  # refund-issued, rescheduled: the status stays
    moved_from: datetime | None = None  # a reschedule's old start
    moved_to: datetime | None = None  # and its new one


class CustomerOut(BaseModel):
    name: str
    email: str
    phone: str | None


class ServiceOut(BaseModel):
    name: str
    duration_minutes: int
    price: Decimal | None


class RefundOut(BaseModel):
    """The booking's refund record: `owed` once a paid booking is cancelled, `issued` when
    the owner or the provider says it went back. Money as a plain decimal string."""

    state: Literal["none", "owed", "issued"]
    amount: str | None
    currency: str
    issued_at: datetime | None


class BookingOut(BaseModel):
    """A booking as the API answers it: plain fields (no email check on our own data), built
    from our own typed data without validation, and serialised by the endpoints themselves,
    so FastAPI doesn't validate it either."""

    id: int
    ref: str
    status: str
    customer: CustomerOut
    service: ServiceOut
    start: datetime
    start_local: str
    end: datetime
    payment: dict[str, str]
    refund: RefundOut
    needs_review: bool = Field(
        description="The payment didn't match the service's price or the business's currency"
    )
    review_reason: str | None
    notes: str | None
    created_at: datetime
    history: list[HistoryOut]

    @classmethod
    def of(cls, booking: Booking, business: Business) -> BookingOut:
        zone = business.zone
        return cls.model_construct(
            id=booking.id,
            ref=booking.ref,
            status=booking.status.value,
            customer=CustomerOut.model_construct(
                name=booking.customer.name,
                email=booking.customer.email,
                phone=booking.customer.phone,
            ),
            service=ServiceOut.model_construct(
                name=booking.service.name,
                duration_minutes=booking.service.duration_minutes,
                price=booking.service.price,
            ),
            start=booking.start_at,
            start_local=booking.start_at.astimezone(zone).isoformat(),
            end=booking.end_at,
            payment={
                "provider": booking.payment.provider.value,
                "transaction_id": booking.payment.transaction_id,
                "amount": str(booking.payment.amount),
                "currency": booking.payment.currency,
                "status": booking.payment.status.value,
            },
            refund=RefundOut.model_construct(
                state=booking.refund.state.value,
                amount=None if booking.refund.amount is None else str(booking.refund.amount),
                currency=booking.payment.currency,
                issued_at=booking.refund.issued_at,
            ),
            needs_review=booking.needs_review,
            review_reason=booking.review_reason,
            notes=booking.notes,
            created_at=booking.created_at,
            history=[
                HistoryOut.model_construct(
                    at=h.at,
                    by=h.actor.name or h.actor.kind.value,
                    channel=h.actor.channel.value,
                    from_status=h.from_status.value if h.from_status else None,
                    to_status=h.to_status.value,
                    reason=h.reason,
                    note=h.note.value if h.note else None,
                    moved_from=h.moved_from,
                    moved_to=h.moved_to,
                )
                for h in booking.history
            ],
        )


class ErrorOut(BaseModel):
    detail: str | list[dict[str, object]]
