"""ISO 4217 codes of the money in use today, as the Unicode CLDR (through Babel) knows it."""

from __future__ import annotations

from babel.core import get_global
from babel.numbers import get_territory_currencies

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
