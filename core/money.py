"""Money as people read it: one rule for every amount shown, wherever it is shown.

An amount is a Decimal (never a float) rounded to its currency's own minor units (JPY none,
JMD and USD two, BHD three), written with the currency's separators and a mark that names the
currency (`J$`, `US$`, `€`, or the ISO code), never a bare `$`: a Jamaican business may take
JMD and USD side by side. The API and CSV write amounts as plain decimal strings instead.

Why a port: minor units, separators and symbols are the Unicode CLDR's, which Babel carries,
and core is standard library only. Every sentence is worded in core.wording by plain functions
that cards, emails and notices all call, so rather than thread a formatter through each of
them the composition root installs the CLDR rule once at start-up (`use`), the way a process
sets its locale; it is stateless and the same for every business, so sharing it is safe.
Until then `PLAIN` stands in (ISO 4217 minor units, the code as the mark, English grouping):
core alone still writes honest amounts, and its unit tests need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol


class MoneyRule(Protocol):
    """How one currency's amounts are written (the CLDR's data, in the bot)."""

    def minor_units(self, currency: str) -> int:
        """Digits after the decimal point: 2 for JMD and USD, 0 for JPY."""
        ...

    def written(self, amount: Decimal, currency: str) -> str:
        """`amount` (not negative, already rounded to the minor units) with its mark."""
        ...


# ISO 4217 currencies whose minor unit is not 2 (the rest have cents).
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_ISO_MINOR_UNITS = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    "CLF": 4,
    "UYW": 4,
}


class PlainRule:
    """The standard-library stand-in: ISO 4217 minor units, '4,575.25 JMD'."""

    def minor_units(self, currency: str) -> int:
        return _ISO_MINOR_UNITS.get(currency.upper(), 2)

    def written(self, amount: Decimal, currency: str) -> str:
        return f"{amount:,} {currency.upper()}"


PLAIN = PlainRule()
_rule: MoneyRule = PLAIN


def use(rule: MoneyRule) -> None:
    """Install the rule every amount is written by (the bot's composition root does)."""
    global _rule
    _rule = rule


def rule() -> MoneyRule:
    return _rule


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` to the currency's minor units, halves away from zero (4.005 -> 4.01)."""
    exponent = Decimal(1).scaleb(-_rule.minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def shown(amount: Decimal, currency: str) -> str:
    """An amount as people read it: 'J$4,575.25', 'US$45.00', 'JP¥4,575', '-J$5.00'."""
    exact = rounded(amount, currency)
    text = _rule.written(abs(exact), currency)
    return f"-{text}" if exact < 0 else text


@dataclass(frozen=True)
class Money:
    """An amount in one currency; adding two currencies is refused, never converted."""

    amount: Decimal
    currency: str

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"can't add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return self + Money(-other.amount, other.currency)

    def __str__(self) -> str:
        return shown(self.amount, self.currency)

    @property
    def plain(self) -> str:
        """'4575.25': the API's and the CSV's form, in the currency's minor units."""
        return str(rounded(self.amount, self.currency))
