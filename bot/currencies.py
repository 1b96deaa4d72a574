"""ISO 4217 currency codes, as the Unicode CLDR (through Babel) knows them."""

from __future__ import annotations

from babel.numbers import list_currencies

# Read once (~30 ms): every booking's payment is checked against it.
CODES = frozenset(list_currencies())


def is_currency(code: str) -> bool:
    """Whether `code` (any case) is an ISO 4217 code, e.g. USD, EUR, JMD."""
    return code.upper() in CODES
