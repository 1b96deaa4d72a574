"""A booking's card: its words in the business's zone (across clock changes), the buttons its
status allows, and taps that fit Telegram and can't be forged into something else."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.cards import ActionId, Style, Tap, actions_for, card_for, read_tap
from core.lifecycle import Status
from core.model import (
    Booking,
    Business,
    Customer,
    CustomerRecord,
    HistoryEntry,
    Payment,
    PaymentStatus,
    Provider,
    Refund,
    RefundState,
    Service,
)
from tests.conftest import NOW, OTHER_OWNER, PAGE

SALON = Business(1, "Plum Salon", "America/New_York", "owner@plum.example")
LARGEST_ID = 999_999_999_999  # 12 digits: the most a tap carries


def booking(
    start: datetime,
    status: Status = Status.PENDING,
    *,
    booking_id: int = 42,
    paid: PaymentStatus = PaymentStatus.PAID,
    notes: str | None = None,
) -> Booking:
    created = HistoryEntry(NOW, PAGE, None, Status.PENDING)
    return Booking(
        id=booking_id,
        business_id=SALON.id,
        customer=Customer("Ana Silva", "ana@example.com", "+1 555 0100"),
        service=Service("Haircut", 45, Decimal("45.00")),
        start_at=start,
        status=status,
        payment=Payment(Provider.PAYPAL, "TX-1", Decimal("45.00"), "USD", paid),
        created_at=NOW,
        notes=notes,
        history=(created,),
        refund=stored_refund(status, paid),
    )


def stored_refund(status: Status, paid: PaymentStatus) -> Refund:
    """The refund record storage keeps for a booking with this status and payment."""
    if paid is PaymentStatus.REFUNDED:
        return Refund(RefundState.ISSUED, Decimal("45.00"), "USD", NOW)
    if status is Status.CANCELLED and paid is PaymentStatus.PAID:
        return Refund(RefundState.OWED, Decimal("45.00"), "USD")
    return Refund(RefundState.NONE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# The clock changes in New York: 2026-03-08 (EST -> EDT) and 2026-11-01 (EDT -> EST)


@pytest.mark.parametrize(
    ("start", "summary"),
    [
        ("2026-03-07T15:00Z", "Sat 7 Mar 2026, 10:00–10:45 EST"),
        ("2026-03-08T15:00Z", "Sun 8 Mar 2026, 11:00–11:45 EDT"),
        ("2026-03-08T06:00Z", "Sun 8 Mar 2026, 01:00–01:45 EST"),
        ("2026-03-08T07:00Z", "Sun 8 Mar 2026, 03:00–03:45 EDT"),
        ("2026-10-31T14:00Z", "Sat 31 Oct 2026, 10:00–10:45 EDT"),
        ("2026-11-01T14:00Z", "Sun 1 Nov 2026, 09:00–09:45 EST"),
        ("2026-11-01T05:00Z", "Sun 1 Nov 2026, 01:00–01:45 EDT"),
        ("2026-11-01T06:00Z", "Sun 1 Nov 2026, 01:00–01:45 EST"),  # the second 01:00
    ],
)
def test_a_card_tells_the_time_in_the_business_s_zone_with_the_zone_in_force_then(
    start: str, summary: str
) -> None:
    card = card_for(SALON, booking(at(start)), [], CustomerRecord())
    assert card.summary == f"Ana Silva · Haircut · {summary}"
    assert {f.key: f.value for f in card.fields}["when"] == summary


def test_the_two_one_o_clocks_of_the_november_change_are_told_apart() -> None:
    first = card_for(SALON, booking(at("2026-11-01T05:00Z")), [], CustomerRecord())
    second = card_for(SALON, booking(at("2026-11-01T06:00Z")), [], CustomerRecord())
    assert first.summary != second.summary
    assert first.summary.endswith("01:00–01:45 EDT")
    assert second.summary.endswith("01:00–01:45 EST")


@pytest.mark.parametrize(
    ("start", "shown"),
    [
        ("2026-03-08T06:30Z", "Sun 8 Mar 2026, 01:30 EST–03:15 EDT"),
        ("2026-11-01T05:30Z", "Sun 1 Nov 2026, 01:30 EDT–01:15 EST"),
    ],
)
def test_a_booking_across_a_clock_change_names_the_zone_of_its_start_and_of_its_end(
    start: str, shown: str
) -> None:
    card = card_for(SALON, booking(at(start)), [], CustomerRecord())
    assert card.summary.endswith(shown)


def test_who_changed_a_booking_and_when_is_told_in_the_zone_of_that_day() -> None:
    confirmed = HistoryEntry(at("2026-03-08T15:02Z"), OTHER_OWNER, Status.PENDING, Status.CONFIRMED)
    b = booking(at("2026-03-09T15:00Z"), Status.CONFIRMED)
    b = replace(b, history=(*b.history, confirmed))
    card = card_for(SALON, b, [], CustomerRecord())
    assert card.status_line == "Confirmed by Riley via Slack · Sun 8 Mar 2026, 11:02 EDT"
    assert card.history == (
        "Wed 25 Nov 2026, 09:00 EST: created as pending by the booking page",
        "Sun 8 Mar 2026, 11:02 EDT: pending → confirmed by Riley via Slack",
    )


# What a card shows


def test_a_pending_card_shows_who_what_when_the_money_and_that_it_waits_for_the_owner() -> None:
    start = at("2026-11-26T15:00Z")
    other = replace(
        booking(start, Status.CONFIRMED, booking_id=7), start_at=at("2026-11-26T15:30Z")
    )
    other = replace(other, customer=Customer("Bo Chen", "bo@example.com"))
    card = card_for(SALON, booking(start, notes="Allergic to lavender"), [other], CustomerRecord())
    assert (card.booking_id, card.title, card.status) == (42, "#42", Status.PENDING)
    assert card.status_line == "Pending — waiting for your confirmation"
    assert [(f.label, f.value) for f in card.brief_fields] == [
        ("Customer", "Ana Silva"),
        ("Service", "Haircut (45 min)"),
        ("When", "Thu 26 Nov 2026, 10:00–10:45 EST"),
        ("Price", "US$45.00"),
        ("Payment", "US$45.00 paid via PayPal (transaction TX-1)"),
        ("Notes", "Allergic to lavender"),
        ("Customer history", "First booking with you"),
    ]
    assert [f.key for f in card.fields if not f.brief] == ["email", "phone"]
    assert [f.key for f in card.brief_fields if not f.in_summary] == [
        "price",
        "payment",
        "notes",
        "history",
    ]
    assert card.warnings == ("Overlaps with #7 (Bo Chen, 10:30–11:15 EST, confirmed)",)
    assert card.refund is None


def test_a_card_without_notes_has_no_notes_line() -> None:
    card = card_for(SALON, booking(at("2026-11-26T15:00Z")), [], CustomerRecord())
    assert "notes" not in [f.key for f in card.fields]


@pytest.mark.parametrize(
    ("record", "line"),
    [
        (CustomerRecord(), "First booking with you"),
        (CustomerRecord(bookings=0), "First booking with you"),
        (CustomerRecord(bookings=2, completed=1), "2 bookings: 1 visit, 0 cancellations"),
        (CustomerRecord(4, completed=2, cancelled=1), "4 bookings: 2 visits, 1 cancellation"),
        (CustomerRecord(bookings=3, cancelled=3), "3 bookings: 0 visits, 3 cancellations"),
        (CustomerRecord(3, completed=2, no_shows=1),
         "3 bookings: 2 visits, 0 cancellations, 1 no-show"),
    ],
)  # fmt: skip
def test_the_customer_record_line_counts_visits_and_cancellations(
    record: CustomerRecord, line: str
) -> None:
    card = card_for(SALON, booking(at("2026-11-26T15:00Z")), [], record)
    (history,) = [f for f in card.fields if f.key == "history"]
    assert (history.label, history.value, history.brief) == ("Customer history", line, True)


def test_a_cancelled_paid_card_says_where_to_refund() -> None:
    card = card_for(SALON, booking(at("2026-11-26T15:00Z"), Status.CANCELLED), [], CustomerRecord())
    assert card.refund == (
        "Cancelling does not refund. To refund US$45.00, open transaction TX-1 in your PayPal "
        "dashboard: https://www.paypal.com/activity/payment/TX-1. Then press “Refund issued” "
        "(or type `refunded 42`)."
    )


# The buttons each status allows


@pytest.mark.parametrize(
    ("status", "paid", "buttons"),
    [
        (Status.PENDING, PaymentStatus.PAID,
         [("confirm", "Confirm", Style.PRIMARY), ("cancel", "Cancel", Style.DANGER),
          ("reschedule", "Reschedule", Style.PLAIN)]),
        (Status.CONFIRMED, PaymentStatus.PAID,
         [("complete", "Mark as completed", Style.PRIMARY), ("cancel", "Cancel", Style.DANGER),
          ("reschedule", "Reschedule", Style.PLAIN)]),
        (Status.CANCELLED, PaymentStatus.PAID,
         [("refund-issued", "Refund issued", Style.PLAIN)]),
        (Status.CANCELLED, PaymentStatus.REFUNDED, []),
        (Status.COMPLETED, PaymentStatus.PAID, []),
    ],
)  # fmt: skip
def test_each_status_offers_its_buttons_then_details(
    status: Status, paid: PaymentStatus, buttons: list[tuple[str, str, Style]]
) -> None:
    b = booking(at("2026-11-26T15:00Z"), status, paid=paid)
    card = card_for(SALON, b, [], CustomerRecord())
    assert [(a.id.value, a.label, a.style) for a in card.actions] == [
        *buttons,
        ("details", "View details", Style.PLAIN),
    ]
    assert [(a.id.value, a.label, a.style) for a in card.buttons] == buttons
    assert card.actions == actions_for(b)
    assert {a.tap for a in card.actions} == {Tap(a.id, 42, status) for a in card.actions}


# Taps


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(ActionId))
def test_every_tap_fits_telegram_s_64_bytes_and_reads_back_as_itself(
    action: ActionId, status: Status
) -> None:
    tap = Tap(action, LARGEST_ID, status)
    assert len(tap.value.encode()) <= 40
    assert read_tap(tap.value) == tap


def test_a_tap_reads_as_action_booking_and_the_status_drawn() -> None:
    assert Tap(ActionId.CONFIRM, 42, Status.PENDING).value == "confirm:42:pending"
    assert read_tap("refund-issued:7:cancelled") == Tap(ActionId.REFUND_ISSUED, 7, Status.CANCELLED)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "confirm",
        "confirm:42",
        "confirm:42:pending:more",
        "confirm::pending",
        "confirm:-42:pending",
        "confirm:4.2:pending",
        "confirm:0x2a:pending",
        "confirm:1234567890123:pending",
        "confirm:42:" + "pending" * 3,
        "CONFIRM:42:pending",
        "confirm:42:PENDING",
        " confirm:42:pending",
        "drop:42:pending",
        "confirm:42:nonsense",
        "complete:42:canceled",
        "x" * 65,
        "confirm:42:pending" + " " * 50,
        None,
        42,
        b"confirm:42:pending",
        ["confirm:42:pending"],
        {"action": "confirm", "booking": 42},
    ],
)
def test_a_malformed_oversized_or_unknown_tap_is_not_read(value: object) -> None:
    assert read_tap(value) is None


@pytest.mark.parametrize("value", ["confirm:42:pending\n", "confirm:٤٢:pending"])
def test_a_tap_that_is_not_exactly_as_drawn_is_not_read(value: str) -> None:
    assert read_tap(value) is None
