"""The refund record and the payment status that follows it; a payment to review; how
Inkress's and PayPal's bodies are read (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.payments import inkress, paypal
from bot.payments.booking import BadEvent, NotOurs
from core import commands, payments
from core.lifecycle import Status
from core.model import (
    Booking,
    Business,
    Customer,
    NewBooking,
    Payment,
    PaymentStatus,
    Provider,
    RefundState,
    Service,
)
from tests import paypal_api
from tests.conftest import NOW

SALON = Business(1, "Plum Salon", "America/New_York", "owner@plum.example", "USD")


def booking(status: Status = Status.CONFIRMED, paid: PaymentStatus = PaymentStatus.PAID) -> Booking:
    return Booking(
        id=42,
        business_id=SALON.id,
        customer=Customer("Ana Silva", "ana@example.com"),
        service=Service("Haircut", 45, Decimal("45.00")),
        start_at=NOW + timedelta(days=1),
        status=status,
        payment=Payment(Provider.PAYPAL, "TX-1", Decimal("45.00"), "USD", paid),
        created_at=NOW,
    )


# The refund record


def test_cancelling_a_paid_booking_owes_the_whole_amount() -> None:
    cancelled = payments.after_move(booking(), Status.CANCELLED)
    assert cancelled.refund.state is RefundState.OWED
    assert cancelled.refund.amount == Decimal("45.00") and cancelled.refund_owed


def test_cancelling_a_cash_booking_owes_nothing_and_completing_it_records_it_paid() -> None:
    due = booking(paid=PaymentStatus.DUE)
    assert payments.after_move(due, Status.CANCELLED).refund.state is RefundState.NONE
    done = payments.after_move(due, Status.COMPLETED)
    assert done.payment.status is PaymentStatus.PAID and done.refund.state is RefundState.NONE


def test_the_owner_s_refund_issues_the_whole_amount() -> None:
    owed = payments.after_move(booking(), Status.CANCELLED)
    issued = payments.owner_refunded(owed, NOW)
    assert (issued.refund.state, issued.refund.amount) == (RefundState.ISSUED, Decimal("45.00"))
    assert issued.payment.status is PaymentStatus.REFUNDED and issued.refund.issued_at == NOW


def test_provider_refunds_add_up_and_never_pass_what_was_paid() -> None:
    first = payments.provider_refunded(booking(), Decimal("20.00"), NOW)
    assert first.payment.status is PaymentStatus.PARTIALLY_REFUNDED
    second = payments.provider_refunded(first, Decimal("30.00"), NOW)
    assert second.refund.amount == Decimal("45.00")
    assert second.payment.status is PaymentStatus.REFUNDED
    # Cancelled after a refund: nothing more is owed.
    assert payments.after_move(second, Status.CANCELLED).refund.state is RefundState.ISSUED


# A payment to review


def new(amount: str, currency: str = "USD", price: str | None = "45.00") -> NewBooking:
    return NewBooking(
        customer=Customer("Ana Silva", "ana@example.com"),
        service=Service("Haircut", 45, Decimal(price) if price else None),
        start_at=NOW + timedelta(days=1),
        payment=Payment(Provider.PAYPAL, "TX-1", Decimal(amount), currency),
    )


def test_an_exact_payment_needs_no_review_and_a_different_one_says_why() -> None:
    assert payments.review_reason(SALON, new("45.00")) is None
    assert payments.review_reason(SALON, new("45")) is None  # the same amount
    assert payments.review_reason(SALON, new("40.00", price=None)) is None  # no price to check
    assert payments.review_reason(SALON, new("40.00")) == (
        "Paid US$40.00, but the service's price is US$45.00."
    )
    assert payments.review_reason(SALON, new("45.00", "JMD")) == (
        "Paid J$45.00, but the business takes USD."
    )


# Inkress's money: a JSON number in major units, read exactly


@pytest.mark.parametrize(
    ("body", "currency", "expected"),
    [
        ("5250.75", "JMD", "5250.75"),  # the docs' own example: J$5,250.75
        ("5250", "JMD", "5250.00"),
        ("5250.5", "JMD", "5250.50"),
        ("0.1", "USD", "0.10"),
        ("12345678901.23", "JMD", "12345678901.23"),  # past a float's exact digits
        ("100", "JPY", "100"),  # no minor unit
    ],
)
def test_an_inkress_total_is_read_exactly_in_major_units(
    body: str, currency: str, expected: str
) -> None:
    total = json.loads(body, parse_float=Decimal)
    assert str(inkress.amount(total, currency)) == expected


@pytest.mark.parametrize(
    ("total", "currency"),
    [("525075", "JMD"), (-1, "JMD"), (Decimal("5250.755"), "JMD"), (True, "JMD"), (None, "JMD")],
)
def test_an_inkress_total_that_is_not_an_amount_is_refused(total: object, currency: str) -> None:
    with pytest.raises(BadEvent):
        inkress.amount(total, currency)


def test_an_inkress_body_keeps_every_number_exact() -> None:
    event = inkress.event_of(b'{"id": "e", "timestamp": 1, "event": {"total": 5250.75}}')
    assert event["event"]["total"] == Decimal("5250.75")


def test_an_inkress_signature_is_the_base64_hmac_of_the_raw_body_under_either_header() -> None:
    raw = b'{"id": "e"}'
    good = base64.b64encode(hmac.new(b"s3cret-value", raw, hashlib.sha256).digest()).decode()
    assert inkress.signed("s3cret-value", raw, {"x-inkress-webhook-signature": good})
    assert inkress.signed("s3cret-value", raw, {"x-inkress-signature": good})
    assert not inkress.signed("another-secret", raw, {"x-inkress-signature": good})
    assert not inkress.signed("s3cret-value", raw + b" ", {"x-inkress-signature": good})
    assert not inkress.signed("s3cret-value", raw, {})


def test_an_inkress_timestamp_must_be_within_five_minutes_either_way() -> None:
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    stamp = int(now.timestamp())
    assert inkress.fresh({"timestamp": stamp - 300}, now)
    assert inkress.fresh({"timestamp": stamp + 300}, now)
    assert not inkress.fresh({"timestamp": stamp - 301}, now)
    assert not inkress.fresh({"timestamp": str(stamp)}, now)
    assert not inkress.fresh({}, now)


# PayPal's bodies


def test_a_paypal_refund_names_its_capture_by_the_up_link() -> None:
    event = paypal_api.capture_refunded("0JF852973C016714D", "1Y107995YT783435V", value="0.99")
    refund = paypal.refund_of(event)
    assert refund.transaction_id == "0JF852973C016714D"
    assert (refund.amount, refund.currency) == (Decimal("0.99"), "USD")
    assert refund.at == datetime(2026, 11, 25, 14, 5, 2, tzinfo=UTC)


def test_a_paypal_order_is_read_into_the_booking_it_makes() -> None:
    capture = paypal.capture_of(paypal_api.capture_completed("C1", "O1"))
    order = paypal.order_booking(paypal_api.order("O1", "C1", business_id=7), capture)
    assert order.business_id == 7
    made = order.booking
    assert (made.customer.name, made.customer.email) == ("Ana Silva", "ana@example.com")
    assert (made.service.name, made.service.duration_minutes) == ("Haircut", 45)
    assert made.start_at == datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    assert made.payment == Payment(Provider.PAYPAL, "C1", Decimal("45.00"), "USD")


@pytest.mark.parametrize(
    "custom_id",
    ["7", "x|2026-11-26T10:00:00-05:00|45", "7|2026-11-26T10:00:00|45", "7|soon|45"],
)
def test_a_paypal_order_without_a_usable_custom_id_is_refused(custom_id: str) -> None:
    capture = paypal.capture_of(paypal_api.capture_completed("C1", "O1"))
    found = paypal_api.order("O1", "C1", business_id=7)
    found["purchase_units"][0]["custom_id"] = custom_id
    with pytest.raises(BadEvent):
        paypal.order_booking(found, capture)


@pytest.mark.parametrize("custom_id", [None, "", "  "])
def test_a_paypal_order_with_no_custom_id_is_not_ours(custom_id: str | None) -> None:
    capture = paypal.capture_of(paypal_api.capture_completed("C1", "O1"))
    found = paypal_api.order("O1", "C1", business_id=7)
    found["purchase_units"][0]["custom_id"] = custom_id
    with pytest.raises(NotOurs):
        paypal.order_booking(found, capture)


def test_refunds_is_a_view_of_the_command_language() -> None:
    today = NOW.date()
    assert commands.parse("refunds", today) == commands.ListRefunds()
    assert commands.parse("/bookings refunds page 2", today) == commands.ListRefunds(2)
    assert commands.parse("refunded 42", today) == commands.MarkRefunded(42)
