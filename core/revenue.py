"""How much a business made: its bookings in a span of days, summed per currency.

The bookings are those whose appointment falls in the span (local days of the business), by
status: completed is revenue earned (less any refund issued on it), confirmed and pending are
still to come, cancelled is what was booked and called off. Refunds are read from each
booking's refund record (owed or issued), whatever its status. A status this module does not
know (one added later) counts as none of these. Currencies are never added together: a
business paid in JMD and USD gets a figure for each. With GCT, the tax inside completed
revenue is summed from each booking's own split (core.gct), as its receipt shows it.

`Tally` folds bookings one at a time, so a year of a busy business is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from core import gct
from core.lifecycle import Status
from core.model import Booking, RefundState
from core.money import Money
from core.periods import DaySpan

TOP_SERVICES = 3


@dataclass(frozen=True)
class Figure:
    """A number of bookings and their money."""

    count: int
    money: Money


@dataclass(frozen=True)
class ServiceFigure:
    name: str
    count: int
    money: Money


@dataclass(frozen=True)
class CurrencyRevenue:
    """One currency's figures; every Money in it is in `currency`."""

    currency: str
    completed: Figure  # earned: completed bookings, less refunds issued on them
    confirmed: Figure  # to come
    pending: Figure  # to come, once confirmed
    cancelled: Figure  # what the cancelled bookings had paid
    refunds_owed: Figure
    refunds_issued: Figure
    gct: Money | None  # the GCT inside `completed`, when the business charges it
    top_services: tuple[ServiceFigure, ...]  # by money earned and to come, most first


@dataclass(frozen=True)
class Revenue:
    span: DaySpan
    currencies: tuple[CurrencyRevenue, ...]  # the business's own currency first
    gct_rate: Decimal | None

    @property
    def empty(self) -> bool:
        return not self.currencies


@dataclass
class _Sums:
    currency: str
    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    tax: Decimal = Decimal(0)
    services: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    def add(self, key: str, amount: Decimal) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.amounts[key] = self.amounts.get(key, Decimal(0)) + amount

    def figure(self, key: str) -> Figure:
        return Figure(
            self.counts.get(key, 0), Money(self.amounts.get(key, Decimal(0)), self.currency)
        )


_TO_COME = {Status.CONFIRMED: "confirmed", Status.PENDING: "pending"}


class Tally:
    """Revenue figures, folded one booking at a time."""

    def __init__(self, span: DaySpan, gct_rate: Decimal | None, home_currency: str) -> None:
        self._span = span
        self._rate = gct_rate if gct.enabled(gct_rate) else None
        self._home = home_currency
        self._sums: dict[str, _Sums] = {}

    def _of(self, currency: str) -> _Sums:
        if currency not in self._sums:
            self._sums[currency] = _Sums(currency)
        return self._sums[currency]

    def add(self, booking: Booking) -> None:
        paid = booking.payment
        sums = self._of(paid.currency)
        refund = booking.refund
        refunded = Decimal(0)
        if refund.state is not RefundState.NONE and refund.amount is not None:
            key = "refunds_owed" if refund.state is RefundState.OWED else "refunds_issued"
            self._of(refund.currency or paid.currency).add(key, refund.amount)
            if refund.state is RefundState.ISSUED and refund.currency in ("", paid.currency):
                refunded = refund.amount
        earned: Decimal | None = None
        if booking.status is Status.COMPLETED:
            earned = paid.amount - refunded
            sums.add("completed", earned)
            if self._rate is not None:
                sums.tax += gct.split(Money(earned, paid.currency), self._rate).tax.amount
        elif booking.status in _TO_COME:
            earned = paid.amount
            sums.add(_TO_COME[booking.status], earned)
        elif booking.status is Status.CANCELLED:
            sums.add("cancelled", paid.amount)
        if earned is not None:
            count, amount = sums.services.get(booking.service.name, (0, Decimal(0)))
            sums.services[booking.service.name] = (count + 1, amount + earned)

    def add_all(self, bookings: Iterable[Booking]) -> Tally:
        for booking in bookings:
            self.add(booking)
        return self

    def result(self) -> Revenue:
        order = sorted(self._sums, key=lambda c: (c != self._home, c))
        return Revenue(self._span, tuple(self._figures(self._sums[c]) for c in order), self._rate)

    def _figures(self, sums: _Sums) -> CurrencyRevenue:
        ranked = sorted(sums.services.items(), key=lambda item: (-item[1][1], item[0]))
        return CurrencyRevenue(
            currency=sums.currency,
            completed=sums.figure("completed"),
            confirmed=sums.figure("confirmed"),
            pending=sums.figure("pending"),
            cancelled=sums.figure("cancelled"),
            refunds_owed=sums.figure("refunds_owed"),
            refunds_issued=sums.figure("refunds_issued"),
            gct=Money(sums.tax, sums.currency) if self._rate is not None else None,
            top_services=tuple(
                ServiceFigure(name, count, Money(amount, sums.currency))
                for name, (count, amount) in ranked[:TOP_SERVICES]
            ),
        )
