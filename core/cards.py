"""A booking as every chat surface shows it: one card, as data, already in words.

Slack (Block Kit), Telegram (HTML and an inline keyboard) and the console (Rich) lay the same
card out their own way; none of them words anything itself. A card's buttons carry the status
the card was drawn for, so a tap on an outdated card never acts on a booking that has moved on
since (see `Tap`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core import wording
from core.lifecycle import NOT_BEFORE_START, RESCHEDULABLE, Move, Status, allowed_moves
from core.model import Booking, Business, CustomerRecord


class ActionId(StrEnum):
    """The stable ids of a card's buttons; surfaces put them in their payloads."""

    CONFIRM = "confirm"
    COMPLETE = "complete"
    CANCEL = "cancel"
    REFUND_ISSUED = "refund-issued"
    RESCHEDULE = "reschedule"
    DETAILS = "details"
    NO_SHOW = "no-show"

    @property
    def move(self) -> Move | None:
        return _MOVES.get(self)


_MOVES = {
    ActionId.CONFIRM: Move.CONFIRM,
    ActionId.COMPLETE: Move.COMPLETE,
    ActionId.CANCEL: Move.CANCEL,
    ActionId.NO_SHOW: Move.NO_SHOW,
}


class Style(StrEnum):
    PRIMARY = "primary"
    DANGER = "danger"
    PLAIN = "plain"


@dataclass(frozen=True)
class Tap:
    """A button press as it comes back from a surface: never trusted, always re-checked."""

    action: ActionId
    booking_id: int
    drawn: Status  # the booking's status when the card was drawn

    @property
    def value(self) -> str:
        """The payload a surface carries, e.g. 'confirm:42:pending' (at most 40 bytes, well
        inside Telegram's 64-byte callback data)."""
        return f"{self.action.value}:{self.booking_id}:{self.drawn.value}"


_TAP = re.compile(r"([a-z-]{1,16}):([0-9]{1,12}):([a-z_]{1,16})", re.ASCII)


def read_tap(value: object) -> Tap | None:
    """A tap from a surface's payload, or None when it isn't one of ours (forged, cut,
    malformed or from an older version): the caller answers that the button is stale."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    found = _TAP.fullmatch(value)
    if found is None:
        return None
    action, booking_id, drawn = found.groups()
    try:
        return Tap(ActionId(action), int(booking_id), Status(drawn))
    except ValueError:
        return None


@dataclass(frozen=True)
class CardAction:
    id: ActionId
    label: str
    style: Style
    tap: Tap

    @property
    def value(self) -> str:
        return self.tap.value


@dataclass(frozen=True)
class CardField:
    key: str  # stable: customer, email, phone, service, when, price, payment, subtotal, gct,
    # total, notes, history
    label: str
    value: str
    brief: bool = True  # shown on the card in a channel; False: only in the full details

    @property
    def in_summary(self) -> bool:
        """Said by the card's summary line already (who, what, when)."""
        return self.key in ("customer", "service", "when")


@dataclass(frozen=True)
class Card:
    """Everything a surface shows of one booking, worded once in core.wording."""

    booking_id: int
    status: Status
    title: str  # "#42"
    summary: str  # "Ana Silva · Haircut · Wed 25 Nov 2026, 15:00–15:45 EST"
    status_line: str  # "Confirmed by Riley via Slack · Wed 25 Nov, 10:02 EST"
    fields: tuple[CardField, ...]
    warnings: tuple[str, ...]  # a payment to check, overlaps: in words
    refund: str | None  # where to refund, or that it was marked refunded
    history: tuple[str, ...]  # every change, for the full details
    actions: tuple[CardAction, ...]

    @property
    def brief_fields(self) -> tuple[CardField, ...]:
        return tuple(f for f in self.fields if f.brief)

    @property
    def buttons(self) -> tuple[CardAction, ...]:
        """The actions that change something (Details aside)."""
        return tuple(a for a in self.actions if a.id is not ActionId.DETAILS)


def actions_for(booking: Booking, now: datetime | None = None) -> tuple[CardAction, ...]:
    """The buttons that fit the booking's status, in the order they are shown; No-show (and
    completing a pending booking) only once the appointment has started (`now` at or after
    its start)."""
    started = now is not None and now >= booking.start_at
    ids: list[ActionId] = [
        _ACTION_OF[m]
        for m in allowed_moves(booking.status)
        if started or (booking.status, m) not in NOT_BEFORE_START
    ]
    if booking.refund_owed:
        ids.append(ActionId.REFUND_ISSUED)
    if booking.status in RESCHEDULABLE:
        ids.append(ActionId.RESCHEDULE)
    ids.append(ActionId.DETAILS)
    return tuple(
        CardAction(
            i,
            wording.ACTION_LABELS[i.value],
            _STYLES.get(i, Style.PLAIN),
            Tap(i, booking.id, booking.status),
        )
        for i in ids
    )


_ACTION_OF = {move: action for action, move in _MOVES.items()}
_STYLES = {
    ActionId.CONFIRM: Style.PRIMARY,
    ActionId.COMPLETE: Style.PRIMARY,
    ActionId.CANCEL: Style.DANGER,
}


def card_for(
    business: Business,
    booking: Booking,
    overlaps: list[Booking],
    record: CustomerRecord,
    now: datetime | None = None,
) -> Card:
    """The card of a booking as it is now (`now`: whether No-show fits yet)."""
    zone = business.zone
    return Card(
        booking_id=booking.id,
        status=booking.status,
        title=booking.ref,
        summary=wording.summary(booking, zone),
        status_line=wording.status_line(booking, zone),
        fields=tuple(
            CardField(key, label, value, brief)
            for key, label, value, brief in wording.card_fields(
                booking, zone, record, business.gct_rate
            )
        ),
        warnings=(
            *((wording.review_line(booking.review_reason),) if booking.review_reason else ()),
            *(wording.overlap_line(o, zone) for o in overlaps),
        ),
        refund=wording.refund_line(booking, zone),
        history=tuple(wording.history_line(h, zone) for h in booking.history),
        actions=actions_for(booking, now),
    )
