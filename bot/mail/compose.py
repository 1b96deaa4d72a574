"""Turn a booking into a complete email: headers, a text and an HTML body, a calendar invite.

MIME structure, the shape Google Calendar's own invitations have, which Gmail and Outlook both
turn into an invite card with buttons and every other client still shows readably:
multipart/mixed [ multipart/alternative [ text/plain, text/html, text/calendar; method=… ],
application/ics attachment invite.ics ]. Gmail and Outlook read the inline text/calendar
alternative; clients that ignore it (Apple Mail, webmail) offer the invite.ics attachment.
Emails without an invite are just multipart/alternative [ text/plain, text/html ].

Bodies are 7-bit clean (quoted-printable or base64 where needed), so no relay needs 8BITMIME.
"""

from __future__ import annotations

import binascii
import re
import secrets
from datetime import datetime, timedelta
from email import quoprimime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.mail.ics import invite_for, one_line
from core import wording
from core.lifecycle import Status
from core.model import ActorKind, Booking, Business, PaymentStatus, Provider, RefundState
from core.notifications import MailKind

KIND_HEADER = "X-Juneplum-Kind"
INVITE_FILENAME = "invite.ics"


class _Policy(Compat32):
    """compat32 with SMTP line endings, writing a header that is already one short line of
    printable ASCII as it is. compat32 runs every header through `Header` folding, which
    leaves those unchanged (checked on 230,000 random ones) and was ~40% of the CPU of
    writing a message out (py-spy, bench/mail_delivery)."""

    def fold(self, name: str, value: Any) -> str:
        if self._one_line(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if self._one_line(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)

    def _one_line(self, name: str, value: Any) -> bool:
        return (
            type(value) is str
            and value.isascii()
            and value.replace("\t", " ").isprintable()
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
        )


# The classic email classes with headers written already encoded: the modern EmailMessage API
# re-parses every header on assignment, which made composing 4x slower (bench/mail_delivery).
# Bodies quoted-printable (or base64), so the message is 7-bit and survives any relay.
POLICY = _Policy(linesep="\r\n")
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_NOT_IN_ADDR = frozenset(' <>,;"\r\n')

PROVIDER_NAMES = {Provider.PAYPAL: "PayPal", Provider.INKRESS: "Inkress", Provider.CASH: "Cash"}

# How the delivery-failed email names the email that bounced.
KIND_LABELS = {MailKind(k): label for k, label in wording.MAIL_KINDS.items()}

_templates = Environment(
    loader=PackageLoader("bot.mail", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def compose(
    kind: MailKind,
    booking: Booking,
    business: Business,
    *,
    message_id: str,
    mail_from: str,
    failed_kind: MailKind | None = None,
    now: datetime,
) -> Message:
    """The email of `kind` about `booking`, ready to send.

    `message_id` is used as is (`<...@...>`); `now` (aware) is the Date header, the calendar
    DTSTAMP and what "tomorrow" or "in 30 minutes" count from. `failed_kind` says which
    customer email bounced and goes with DELIVERY_FAILED only.

    Raises:
        ValueError: `now` is naive; `failed_kind` is missing for DELIVERY_FAILED, given for
            another kind, or names an email to the owner; an address is malformed.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if (kind is MailKind.DELIVERY_FAILED) != (failed_kind is not None):
        raise ValueError("failed_kind goes with DELIVERY_FAILED, and only with it")
    if failed_kind is not None and failed_kind.to_owner:
        raise ValueError(f"failed_kind must be an email to the customer, not {failed_kind}")

    business_name = one_line(business.name)
    _sendable(business.owner_email, booking.customer.email, mail_from)
    owner = _address(business_name, business.owner_email)
    customer = _address(one_line(booking.customer.name), booking.customer.email)
    subject = subject_for(kind, booking, business, failed_kind=failed_kind, now=now)
    context = _context(booking, business, subject=subject, failed_kind=failed_kind, now=now)

    body = MIMEMultipart("alternative", boundary=_boundary("alt"), policy=POLICY)
    body.attach(_part(_templates.get_template(f"{kind.value}.txt").render(context), "plain"))
    body.attach(_part(_templates.get_template(f"{kind.value}.html").render(context), "html"))
    msg: Message = body
    invite = invite_for(kind, booking, business, now=now, domain=mail_from.rpartition("@")[2])
    if invite is not None:
        body.attach(_part(invite.ics.decode("utf-8"), "calendar", method=invite.method.value))
        attachment = MIMEApplication(invite.ics, "ics", policy=POLICY, name=INVITE_FILENAME)
        attachment.add_header("Content-Disposition", "attachment", filename=INVITE_FILENAME)
        del attachment["MIME-Version"]
        del body["MIME-Version"]
        msg = MIMEMultipart(
            "mixed", boundary=_boundary("mix"), _subparts=[body, attachment], policy=POLICY
        )
    headers = {
        "To": owner if kind.to_owner else customer,
        "From": _address(business_name, mail_from),
        "Reply-To": customer if kind.to_owner else owner,
        "Subject": _unstructured(subject),
        "Date": format_datetime(now),
        "Message-ID": message_id,
        KIND_HEADER: kind.value,
        "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation auto-replies
    }
    return _headed(msg, headers)


def _sendable(*addresses: str) -> None:
    for address in addresses:
        if not address.isascii() or "@" not in address or any(c in address for c in _NOT_IN_ADDR):
            raise ValueError(f"can't send to or from {address!r}")


def _headed(msg: Message, headers: dict[str, str]) -> Message:
    """Our headers first, then MIME-Version and Content-Type."""
    structural = list(msg.items())
    for name, _ in structural:
        del msg[name]
    for name, value in [*headers.items(), *structural]:
        msg[name] = value
    return msg


def compose_for_business(
    kind: MailKind,
    business: Business,
    data: dict[str, Any],
    *,
    message_id: str,
    mail_from: str,
    now: datetime,
) -> Message:
    """An email to the owner about the business rather than one booking: a linked chat
    conversation that can no longer be reached (`data` says which, and why).

    Raises:
        ValueError: `kind` isn't about a business; an address is malformed.
    """
    if kind is not MailKind.CHAT_UNREACHABLE:
        raise ValueError(f"{kind} is about a booking")
    _sendable(business.owner_email, mail_from)
    business_name = one_line(business.name)
    title = one_line(str(data.get("title", "")))
    platform = one_line(str(data.get("platform", "")))
    subject = one_line(f"Alerts can't reach {title} on {platform}")
    context = {
        "subject": subject,
        "business_name": business_name,
        "business_id": business.id,
        "title": title,
        "notice": wording.unreachable(platform, title, one_line(str(data.get("reason", "")))),
    }
    msg = MIMEMultipart("alternative", boundary=_boundary("alt"), policy=POLICY)
    msg.attach(_part(_templates.get_template(f"{kind.value}.txt").render(context), "plain"))
    msg.attach(_part(_templates.get_template(f"{kind.value}.html").render(context), "html"))
    headers = {
        "To": _address(business_name, business.owner_email),
        "From": _address(business_name, mail_from),
        "Subject": _unstructured(subject),
        "Date": format_datetime(now),
        "Message-ID": message_id,
        KIND_HEADER: kind.value,
        "Auto-Submitted": "auto-generated",
    }
    return _headed(msg, headers)


def _address(name: str, addr: str) -> str:
    """'Name <addr>', the name quoted, or RFC 2047-encoded and folded (it is one line already).

    ASCII text that merely looks like an encoded word is encoded too, so no client decodes a
    customer's "=?utf-8?q?...?=" into something else.
    """
    if name.isascii() and "=?" not in name:
        return formataddr((name, addr))
    return f"{Header(name, _UTF8, header_name='To').encode()} <{addr}>"


def _unstructured(value: str) -> str:
    if value.isascii() and "=?" not in value:
        return value
    return Header(value, _UTF8, header_name="Subject").encode()


def _part(text: str, subtype: str, **params: str) -> MIMENonMultipart:
    """A text part, quoted-printable by binascii's C encoder (the email package's own, in
    Python, was a tenth of composing)."""
    part = MIMENonMultipart("text", subtype, policy=POLICY, charset="utf-8", **params)
    del part["MIME-Version"]
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(_quoted_printable(text))
    return part


def _quoted_printable(text: str) -> str:
    # Lone CRs become line breaks first: b2a_qp would keep one raw, and the space before it.
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, istext=True).decode("ascii")
    if _TOO_LONG.search(encoded):
        # b2a_qp writes a line's last space or tab as =20 / =09 after measuring the line,
        # which can take it to 78 characters; RFC 2045 says 76. Rare: the email package's
        # own encoder, in Python, for this text.
        encoded = quoprimime.body_encode(data.decode("latin-1"))
    return encoded


_TOO_LONG = re.compile(r"^[^\n]{77}", re.MULTILINE)


def _boundary(kind: str) -> str:
    """A multipart boundary no part can hold. Every leaf part is quoted-printable (where an
    "=" only ever starts a hex escape or a soft break, never "=_") or base64 (no "_" at all),
    so no line of theirs starts with "--=_"; and "alt" and "mix" are not prefixes of each
    other, so the outer boundary never matches the inner one's lines. Given, so writing the
    message out needn't search every part for a random one that is free."""
    return f"=_{kind}_{secrets.token_hex(8)}"


def subject_for(
    kind: MailKind,
    booking: Booking,
    business: Business,
    *,
    failed_kind: MailKind | None = None,
    now: datetime,
) -> str:
    """One line saying what the email is, the appointment in the business's zone."""
    zone = business.zone
    service = one_line(booking.service.name)
    name = one_line(booking.customer.name)
    at = short_when(booking.start_at, zone)
    match kind:
        case MailKind.CREATED:
            subject = f"Booking received: {service} on {at}"
        case MailKind.CONFIRMED:
            subject = f"Booking confirmed: {service} on {at}"
        case MailKind.CANCELLED:
            subject = f"Booking cancelled: {service} on {at}"
        case MailKind.RESCHEDULED:
            subject = f"Booking moved: {service} now on {at}"
        case MailKind.REMINDER_24H | MailKind.REMINDER_30M:
            subject = f"Reminder: {service} {relative_when(booking.start_at, zone, now)}"
        case MailKind.OWNER_NEW_BOOKING:
            subject = f"New booking {booking.ref}: {name}, {service} on {at}"
        case MailKind.DELIVERY_FAILED:
            failed = failed_kind.value if failed_kind else "unknown"
            subject = f"Email to {name} failed ({booking.ref}, {failed})"
        case MailKind.CHAT_UNREACHABLE:
            raise ValueError("a chat-unreachable email is about a business: compose_for_business")
    return one_line(subject)


def short_when(at: datetime, zone: ZoneInfo) -> str:
    """'Tue 3 Mar, 10:00' in the business's zone: a subject's short form of wording.when."""
    t = wording.local(at, zone)
    return f"{t:%a} {t.day} {t:%b}, {wording.clock_time(at, zone)}"


def relative_when(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """'in 30 minutes (10:00)' within the hour, else 'today/tomorrow at 10:00' or a date.

    Counted from `now`, so a reminder sent late after downtime still tells the truth.
    """
    left = at - now
    clock = wording.clock_time(at, zone)
    if timedelta(0) < left <= timedelta(hours=1):
        minutes = max(1, round(left.total_seconds() / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"in {minutes} {unit} ({clock})"
    days = (wording.local(at, zone).date() - wording.local(now, zone).date()).days
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    t = wording.local(at, zone)
    return f"on {t:%a} {t.day} {t:%b} at {clock}"


def duration(minutes: int) -> str:
    """'45 min', '1 h', '1 h 30 min'."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _context(
    booking: Booking,
    business: Business,
    *,
    subject: str,
    failed_kind: MailKind | None,
    now: datetime,
) -> dict[str, Any]:
    """Everything the templates show, already worded; templates only lay it out.

    Names are one line everywhere; notes and reasons keep their line breaks.
    """
    zone = business.zone
    payment = booking.payment
    cancellation = booking.cancellation
    moves = booking.reschedules
    moved_from = moves[-1].moved_from if moves else None
    return {
        "subject": subject,
        "business_name": one_line(business.name),
        "ref": booking.ref,
        "booking_id": booking.id,
        "status": booking.status.label,
        "pending": booking.status is Status.PENDING,
        "customer_name": one_line(booking.customer.name),
        "customer_email": booking.customer.email,
        "customer_phone": one_line(booking.customer.phone or ""),
        "service": one_line(booking.service.name),
        "duration": duration(booking.service.duration_minutes),
        "when": wording.when(booking.start_at, zone),
        "relative_when": relative_when(booking.start_at, zone, now),
        "notes": booking.notes or "",
        "amount": wording.money(payment.amount, payment.currency),
        "tax_lines": [
            (label, value) for _, label, value in wording.tax_lines(booking, business.gct_rate)
        ],
        "provider": PROVIDER_NAMES.get(payment.provider, payment.provider.value),
        "transaction_id": one_line(payment.transaction_id),
        "refunded": booking.refund.state is RefundState.ISSUED,
        "refund_line": wording.refund_done_line(
            booking,
            PROVIDER_NAMES.get(payment.provider, payment.provider.value),
            one_line(payment.transaction_id),
        ),
        "payment_line": wording.owner_payment_line(booking),
        "review_line": wording.review_line(one_line(booking.review_reason))
        if booking.review_reason
        else "",
        "due": payment.status is PaymentStatus.DUE,
        "by_customer": bool(cancellation and cancellation.actor.kind is ActorKind.CUSTOMER),
        "by_owner": bool(cancellation and cancellation.actor.kind is ActorKind.OWNER),
        "reason": (cancellation.reason or "") if cancellation else "",
        "failed_label": KIND_LABELS[failed_kind] if failed_kind else "",
        "moved_from": wording.when(moved_from, zone) if moved_from else "",
    }
