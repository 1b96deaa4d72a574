"""Calendar invitations (iCalendar, RFC 5545 / iMIP RFC 6047) for a booking's emails.

One VEVENT per booking with a stable UID, so each later email updates the same calendar
entry: the received email sends SEQUENCE 0 (tentative), the confirmation SEQUENCE 1, the
cancellation SEQUENCE 2 with METHOD:CANCEL.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from icalendar import Calendar, Event, vCalAddress

from core.model import Booking, Business
from core.notifications import MailKind

PRODID = "-//Juneplum//Booking desk//EN"


def one_line(text: str) -> str:
    """Text safe for a header or a calendar field: control characters and line breaks become
    spaces, runs of whitespace one space. Names people typed pass through here."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return " ".join(cleaned.split())


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


@dataclass(frozen=True)
class Invite:
    """An iCalendar object and the iTIP method the MIME part must repeat."""

    method: Method
    ics: bytes


# kind -> (METHOD, SEQUENCE, STATUS); SEQUENCE only grows, so clients apply them in order.
INVITES: dict[MailKind, tuple[Method, int, str]] = {
    MailKind.CREATED: (Method.REQUEST, 0, "TENTATIVE"),
    MailKind.CONFIRMED: (Method.REQUEST, 1, "CONFIRMED"),
    MailKind.CANCELLED: (Method.CANCEL, 2, "CANCELLED"),
}


def uid(booking: Booking, domain: str = "juneplum.invalid") -> str:
    """The calendar UID: stable per booking, so updates replace the same event; the sender's
    domain keeps two installations' booking #5 apart in one customer's calendar."""
    return f"booking-{booking.id}@{domain}"


def invite_for(
    kind: MailKind,
    booking: Booking,
    business: Business,
    *,
    now: datetime,
    domain: str = "juneplum.invalid",
) -> Invite | None:
    """The invitation an email of this kind carries, or None for kinds without one."""
    if kind not in INVITES:
        return None
    method, sequence, status = INVITES[kind]
    return Invite(
        method,
        calendar(
            booking,
            business,
            method=method,
            sequence=sequence,
            status=status,
            now=now,
            domain=domain,
        ),
    )


def calendar(
    booking: Booking,
    business: Business,
    *,
    method: Method,
    sequence: int,
    status: str,
    now: datetime,
    domain: str = "juneplum.invalid",
) -> bytes:
    """A VCALENDAR with one VEVENT for the booking, times in UTC."""
    business_name = one_line(business.name)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method.value)

    event = Event()
    event.add("uid", uid(booking, domain))
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", booking.start_at.astimezone(UTC))
    event.add("dtend", booking.end_at.astimezone(UTC))
    event.add("summary", f"{one_line(booking.service.name)} at {business_name}")
    event.add("description", f"Booking {booking.ref} with {business_name}")
    event.add("status", status)

    organizer = vCalAddress(f"mailto:{business.owner_email}")
    organizer.params["cn"] = business_name
    event.add("organizer", organizer)

    attendee = vCalAddress(f"mailto:{booking.customer.email}")
    attendee.params["cn"] = one_line(booking.customer.name)
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["rsvp"] = "FALSE"
    event.add("attendee", attendee)

    cal.add_component(event)
    ics: bytes = cal.to_ical()
    return ics
