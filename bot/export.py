"""Bookings as CSV for the owner's accountant: one row per booking, money as plain decimals.

Money columns are exactly `currency`, `amount` (what was paid), `tax` (the GCT inside it, 0
when the business charges none), `refund_state` (none, owed, issued) and `refund_amount` (an
owed refund is the amount paid; 0 when there is none), each in the currency's minor units, so
a spreadsheet sums every money column without blanks. Text that people typed is written so a
spreadsheet never runs it as a formula (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterable
from decimal import Decimal
from typing import TextIO

from core import gct
from core.model import Booking, Business, RefundState
from core.money import Money, rounded

COLUMNS = (
    "id",
    "business_id",
    "business",
    "customer",
    "service",
    "start_local",
    "status",
    "payment_provider",
    "transaction_id",
    "currency",
    "amount",
    "tax",
    "refund_state",
    "refund_amount",
)


def row(business: Business, booking: Booking) -> list[str]:
    """One booking's cells, in COLUMNS order."""
    paid = booking.payment
    tax = Decimal(0)
    if gct.enabled(business.gct_rate) and business.gct_rate is not None:
        tax = gct.split(Money(paid.amount, paid.currency), business.gct_rate).tax.amount
    refund = booking.refund
    refunded = Decimal(0)
    if refund.state is RefundState.OWED:
        refunded = paid.amount
    elif refund.state is RefundState.ISSUED:
        refunded = refund.amount if refund.amount is not None else paid.amount
    return [
        str(booking.id),
        str(business.id),
        _text(business.name),
        _text(booking.customer.name),
        _text(booking.service.name),
        booking.start_at.astimezone(business.zone).isoformat(timespec="minutes"),
        booking.status.value,
        paid.provider.value,
        _text(paid.transaction_id),
        paid.currency,
        _plain(paid.amount, paid.currency),
        _plain(tax, paid.currency),
        refund.state.value,
        _plain(refunded, paid.currency),
    ]


async def write_csv(out: TextIO, bookings: AsyncIterable[tuple[Business, Booking]]) -> int:
    """The header and a row per booking, written as they come; how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    written = 0
    async for business, booking in bookings:
        writer.writerow(row(business, booking))
        written += 1
    return written


def _plain(amount: Decimal, currency: str) -> str:
    return str(rounded(amount, currency))


def _text(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
