"""A booking as a calendar entry: the UID and SEQUENCE the customer's invitations and the
owner's calendar feed share, so both describe one event that every change updates."""

from __future__ import annotations

import unicodedata

from core.lifecycle import Status
from core.model import Booking

# SEQUENCE grows with every change a calendar should apply in order: a status's own step,
# and two more for each move to another start (so that a confirmation after a move still
# outranks the move's own invitation: pending 0, moved 2, confirmed 3, moved again 5...).
_STATUS_STEP = {Status.PENDING: 0, Status.CONFIRMED: 1, Status.COMPLETED: 1}
_FINAL_STEP = 2  # cancelled, and any other final status


def uid(booking: Booking, domain: str = "juneplum.invalid") -> str:
    """The calendar UID: stable per booking, so updates replace the same event; the sender's
    domain keeps two installations' booking #5 apart in one customer's calendar."""
    return f"booking-{booking.id}@{domain}"


def sequence(booking: Booking, status: Status | None = None) -> int:
    """The SEQUENCE of the booking's calendar entry as of `status` (its own by default).

    Derived from the history, never stored: each reschedule adds two, each status its step,
    so it only grows whatever order the changes come in.
    """
    return counted(status or booking.status, len(booking.reschedules))


def counted(status: Status, reschedules: int) -> int:
    """The SEQUENCE from a status and a number of reschedules (a feed counts them in SQL)."""
    return _STATUS_STEP.get(status, _FINAL_STEP) + 2 * reschedules


def one_line(text: str) -> str:
    """Text safe for a header or a calendar field: control characters and line breaks become
    spaces, runs of whitespace one space. Names people typed pass through here."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return " ".join(cleaned.split())
