"""Calendar invitations (iCalendar, RFC 5545 / iMIP RFC 6047) for a booking's emails.

One VEVENT per booking with a stable UID, so each later email updates the same calendar
entry: the received email sends SEQUENCE 0 (tentative), the confirmation SEQUENCE 1, the
cancellation SEQUENCE 2 with METHOD:CANCEL, and each move to another start two more
(core.calendar.sequence: the owner's feed shows the same UID and SEQUENCE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from icalendar import Calendar, Event, vCalAddress

from core.calendar import counted, one_line, uid
from core.lifecycle import Status
from core.model import Booking, Business
from core.notifications import MailKind

__all__ = ["INVITES", "Invite", "Method", "calendar", "invite_for", "one_line", "uid"]

PRODID = "-//Juneplum//Booking desk//EN"


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


@dataclass(frozen=True)
class Invite:
    """An iCalendar object and the iTIP method the MIME part must repeat."""

    method: Method
    ics: bytes


# kind -> (METHOD, the status its SEQUENCE counts from): SEQUENCE only grows, so clients
# apply them in order (core.calendar.sequence); None: the booking's status as it is now.
INVITES: dict[MailKind, tuple[Method, Status | None]] = {
    MailKind.CREATED: (Method.REQUEST, Status.PENDING),
    MailKind.CONFIRMED: (Method.REQUEST, Status.CONFIRMED),
    MailKind.CANCELLED: (Method.CANCEL, Status.CANCELLED),
    MailKind.RESCHEDULED: (Method.REQUEST, None),
}
CALENDAR_STATUS = {Status.PENDING: "TENTATIVE", Status.CONFIRMED: "CONFIRMED"}


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
    method, counts_from = INVITES[kind]
    status = counts_from or booking.status
    return Invite(
        method,
        calendar(
            booking,
            business,
            method=method,
            sequence=counted(status, len(booking.reschedules)),
            status=CALENDAR_STATUS.get(status, "CANCELLED"),
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
