"""The money in use today and how it is written, as the Unicode CLDR (through Babel) knows it."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import ClassVar

from babel.core import Locale, UnknownLocaleError, get_global
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_territory_currencies,
)

# Legal tender in some territory today (~150 codes), not every code ISO 4217 has ever had:
# no withdrawn money (DEM, VEF), funds (USN, CHE), metals (XAU) or XXX / XTS. Read once,
# ~5 ms after Babel's import: every booking's payment is checked against it.
CODES = frozenset(
    code
    for territory in get_global("territory_currencies")
    for code in get_territory_currencies(territory, tender=True)
)


def is_currency(code: str) -> bool:
    """Whether `code` (any case) is money in use, e.g. USD, EUR, JMD."""
    return code.upper() in CODES


class CldrMoney:
    """core.money's rule from the CLDR: each currency's minor units, its home's separators
    (the English of the country that issues it where the CLDR has one: en_JM for JMD, en_IN's
    lakh grouping for INR; else that country's own language, pt_BR for BRL; else English),
    and a mark that names it: the CLDR's international-English symbol (US$, CA$, JP¥, €, £;
    each names one currency) or else the code, except JMD's J$ (the CLDR writes a bare $ in
    Jamaica, where the Bank of Jamaica writes J$)."""

    LOCAL_MARKS: ClassVar[dict[str, str]] = {"JMD": "J$"}

    def minor_units(self, currency: str) -> int:
        return _minor_units(currency.upper())

    def written(self, amount: Decimal, currency: str) -> str:
        code = currency.upper()
        locale, pattern = _home(code)
        number = format_currency(amount, code, format=pattern, locale=locale, currency_digits=True)
        mark = _mark(code)
        return f"{mark} {number}" if mark[-1].isalpha() or mark[-1] == "." else f"{mark}{number}"


@functools.cache
def _minor_units(code: str) -> int:
    return int(get_currency_precision(code))


@functools.cache
def _mark(code: str) -> str:
    if code in CldrMoney.LOCAL_MARKS:
        return CldrMoney.LOCAL_MARKS[code]
    return str(get_currency_symbol(code, "en_001"))


@functools.cache
def _home(code: str) -> tuple[Locale, str]:
    """The locale whose separators the currency is written with, and its number pattern
    (the locale's currency pattern without the symbol: grouping and separators only)."""
    territory = code[:2]  # ISO 4217: a national currency's code starts with its country's
    locale = Locale("en")
    for candidate in (f"en_{territory}", f"und_{territory}"):
        try:
            locale = Locale.parse(candidate)
            break
        except (UnknownLocaleError, ValueError):
            continue
    standard = locale.currency_formats["standard"].pattern.split(";")[0]
    return locale, "".join(c for c in standard if c in "#0,.")
