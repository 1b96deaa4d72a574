"""GCT inside a paid amount: the arithmetic, and where a business that charges it sees it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core import gct
from core.cards import card_for
from core.model import Business, CustomerRecord, Payment, Provider
from core.money import Money
from core.notifications import MailKind
from tests.unit.test_cards import at, booking
from tests.unit.test_compose import BUSINESS, body, sent
from tests.unit.test_compose import booking as mail_booking

KINGSTON_START = at("2026-12-03T10:00:00-05:00")
KINGSTON = Business(3, "Blue Mountain Spa", "America/Jamaica", "owner@spa.example", "JMD")


@pytest.mark.parametrize(
    ("total", "currency", "rate", "subtotal", "tax"),
    [
        ("4575.25", "JMD", "15", "3978.48", "596.77"),  # 4575.25 x 15/115 = 596.771...
        ("115.00", "JMD", "15", "100.00", "15.00"),
        ("0.01", "USD", "15", "0.01", "0.00"),
        ("1000", "JPY", "15", "870", "130"),  # no minor units: whole yen
        ("100.00", "USD", "16.5", "85.84", "14.16"),  # 100 x 16.5/116.5 = 14.163...
    ],
)
def test_the_tax_is_the_rate_s_share_of_the_paid_total(
    total: str, currency: str, rate: str, subtotal: str, tax: str
) -> None:
    split = gct.split(Money(Decimal(total), currency), Decimal(rate))
    assert split.subtotal == Money(Decimal(subtotal), currency)
    assert split.tax == Money(Decimal(tax), currency)
    assert split.subtotal + split.tax == split.total == Money(Decimal(total), currency)


@pytest.mark.parametrize(
    ("typed", "rate"), [("15", Decimal(15)), ("16.50", Decimal("16.5")), ("0", Decimal(0))]
)
def test_a_rate_is_read_as_typed(typed: str, rate: Decimal) -> None:
    assert gct.parse_rate(typed) == rate


@pytest.mark.parametrize("typed", ["fifteen", "-1", "100", "NaN", "Infinity", "15.125", ""])
def test_a_bad_rate_is_refused_in_plain_words(typed: str) -> None:
    with pytest.raises(ValueError, match=r"GCT|percentage"):
        gct.parse_rate(typed)


def _jmd(amount: str) -> Payment:
    return Payment(Provider.INKRESS, "ORD-7", Decimal(amount), "JMD")


def test_the_details_show_subtotal_gct_and_total_when_the_business_charges_it() -> None:
    b = replace(booking(KINGSTON_START), business_id=3, payment=_jmd("4575.25"))
    charged = card_for(replace(KINGSTON, gct_rate=Decimal(15)), b, [], CustomerRecord())
    shown = {f.label: f.value for f in charged.fields}
    assert shown["Payment"].startswith("J$4,575.25 paid via Inkress")
    assert (shown["Subtotal"], shown["GCT 15%"], shown["Total"]) == (
        "J$3,978.48",
        "J$596.77",
        "J$4,575.25",
    )
    assert all(f.key not in ("subtotal", "gct", "total") for f in charged.brief_fields)
    for rate in (None, Decimal(0)):
        plain = card_for(replace(KINGSTON, gct_rate=rate), b, [], CustomerRecord())
        assert {f.key for f in plain.fields}.isdisjoint({"subtotal", "gct", "total"})


def test_the_booking_received_email_shows_the_gct_in_its_payment_section() -> None:
    b = replace(mail_booking(), payment=replace(mail_booking().payment, currency="JMD"))
    msg = sent(MailKind.CREATED, b, replace(BUSINESS, currency="JMD", gct_rate=Decimal(15)))
    text, html = body(msg, "plain"), body(msg, "html")
    # 1,045.50 x 15/115 = 136.369...
    assert "Amount:          J$1,045.50" in text
    assert "Subtotal:        J$909.13" in text and "GCT 15%:         J$136.37" in text
    assert "Total:           J$1,045.50" in text
    assert ">GCT 15%</td><td" in html and "J$136.37" in html
    untaxed = body(sent(MailKind.CREATED, b, replace(BUSINESS, currency="JMD")), "plain")
    assert "GCT" not in untaxed and "Subtotal" not in untaxed
