"""The one rule for money shown to people: the CLDR's (as the bot installs it) and core's own."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.currencies import CldrMoney
from core import money
from core.money import Money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("4575.25", "JMD", "J$4,575.25"),
        ("45", "USD", "US$45.00"),
        ("1045.5", "USD", "US$1,045.50"),
        ("4575.5", "JPY", "JP¥4,576"),  # no minor units: rounded to whole yen
        ("12.3456", "BHD", "BHD 12.346"),  # three minor units, the code as the mark
        ("1234567.89", "INR", "₹12,34,567.89"),  # the lakh grouping of India's English
        ("1234.5", "BRL", "R$1.234,50"),  # Brazil's separators
        ("1234.5", "EUR", "€1,234.50"),
        ("1234.5", "TTD", "TTD 1,234.50"),  # no symbol of its own in the CLDR: the code
        ("0.005", "USD", "US$0.01"),  # halves away from zero
        ("-5", "JMD", "-J$5.00"),
    ],
)
def test_amounts_are_written_in_their_currency_s_own_way(
    amount: str, currency: str, shown: str
) -> None:
    assert money.shown(Decimal(amount), currency) == shown


def test_a_dollar_amount_always_names_its_dollar() -> None:
    rule = CldrMoney()
    for currency in ("JMD", "USD", "CAD", "AUD", "TTD", "BBD", "XCD", "HKD"):
        text = rule.written(Decimal("10.00"), currency)
        assert not text.startswith("$"), (currency, text)


def test_minor_units_come_from_the_currency() -> None:
    assert [money.rounded(Decimal("1.2345"), c) for c in ("JMD", "JPY", "KWD")] == [
        Decimal("1.23"),
        Decimal("1"),
        Decimal("1.235"),
    ]


def test_money_of_two_currencies_is_never_added() -> None:
    total = Money(Decimal("10.50"), "JMD") + Money(Decimal("0.25"), "JMD")
    assert total == Money(Decimal("10.75"), "JMD")
    assert str(total) == "J$10.75" and total.plain == "10.75"
    with pytest.raises(ValueError, match="USD"):
        _ = total + Money(Decimal("1"), "USD")


@pytest.fixture
def plain_rule() -> Iterator[None]:
    money.use(money.PLAIN)
    yield
    money.use(CldrMoney())


@pytest.mark.usefixtures("plain_rule")
def test_core_alone_writes_iso_minor_units_and_the_code() -> None:
    assert money.shown(Decimal("4575.25"), "JMD") == "4,575.25 JMD"
    assert money.shown(Decimal("4575.5"), "JPY") == "4,576 JPY"
    assert money.shown(Decimal("1.2"), "KWD") == "1.200 KWD"
    assert Money(Decimal("7"), "USD").plain == "7.00"
