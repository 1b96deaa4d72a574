"""Jamaica's General Consumption Tax (GCT) inside a paid amount.

A business that charges GCT sets its rate (`Business.gct_rate`, percent: 15 is the standard
rate). Booking pages in Jamaica show prices with the tax included, and the provider reports
what the customer paid, so the paid amount is the total: the tax is the part of it the rate
makes up, total x rate / (100 + rate), rounded to the currency's minor units; the subtotal is
the rest, so subtotal + tax is always exactly the total. Rounding is per booking, as each
receipt shows it, so a report's tax is the sum of its receipts' tax.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.money import Money, rounded

STANDARD_RATE = Decimal(15)
MAX_RATE = Decimal(100)


@dataclass(frozen=True)
class TaxSplit:
    """A paid total as subtotal + GCT."""

    rate: Decimal  # percent
    subtotal: Money
    tax: Money
    total: Money


def split(total: Money, rate: Decimal) -> TaxSplit:
    """The GCT inside `total` at `rate` percent; subtotal + tax == total."""
    tax = Money(rounded(total.amount * rate / (100 + rate), total.currency), total.currency)
    return TaxSplit(rate, total - tax, tax, total)


def enabled(rate: Decimal | None) -> bool:
    """Absent or 0 means the business does not charge GCT."""
    return rate is not None and rate > 0


def parse_rate(text: str) -> Decimal:
    """A rate as typed ('15', '16.5', '0' to stop charging), checked.

    Raises:
        ValueError: not a number from 0 up to (not including) 100, with two decimals at most;
            the message is plain words.
    """
    try:
        rate = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise ValueError(f"“{text}” isn't a percentage; e.g. 15 for 15% GCT, 0 for none.") from None
    if not rate.is_finite() or not 0 <= rate < MAX_RATE:
        raise ValueError("The GCT rate is a percentage from 0 up to 100; e.g. 15.")
    if rate != rate.quantize(Decimal("0.01")):
        raise ValueError("Give the GCT rate with two decimals at most; e.g. 16.5.")
    return rate.normalize() if rate else Decimal(0)


def percent(rate: Decimal) -> str:
    """'15%', '16.5%'."""
    return f"{rate.normalize():f}%"
