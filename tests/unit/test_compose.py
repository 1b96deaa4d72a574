"""A booking turned into an email: headers, both bodies, the calendar invite; parsed back."""

from __future__ import annotations

import email
import email.policy
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage, Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component

from bot.mail.compose import POLICY, compose
from bot.mail.ics import uid
from core.lifecycle import Status
from core.model import (
    Actor,
    ActorKind,
    Booking,
    Business,
    Channel,
    Customer,
    HistoryEntry,
    Payment,
    PaymentStatus,
    Provider,
    Refund,
    RefundState,
    Service,
)
from core.notifications import MailKind

NY = ZoneInfo("America/New_York")
BUSINESS = Business(7, "Plum Salon", "America/New_York", "owner@plum.example")
MAIL_FROM = "desk@juneplum.example"
MESSAGE_ID = "<jp.42.1@juneplum.example>"
OWNER = Actor(ActorKind.OWNER, Channel.SLACK, "Sam")
CUSTOMER = Actor(ActorKind.CUSTOMER, Channel.API, "Ana Silva")
BOOKING_KINDS = [k for k in MailKind if k is not MailKind.CHAT_UNREACHABLE]
CUSTOMER_KINDS = [k for k in BOOKING_KINDS if not k.to_owner]
OWNER_KINDS = [k for k in BOOKING_KINDS if k.to_owner]
INVITE_KINDS = [MailKind.CREATED, MailKind.CONFIRMED, MailKind.CANCELLED, MailKind.RESCHEDULED]


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in New York, as the UTC instant bookings store."""
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


START = ny(2026, 3, 3, 10)  # Tuesday 3 March 2026, 10:00 EST
NOW = START - timedelta(hours=24)


def booking(
    *,
    name: str = "Ana Silva",
    service: str = "Haircut",
    start: datetime = START,
    status: Status = Status.PENDING,
    notes: str | None = "Short on the sides",
    history: tuple[HistoryEntry, ...] = (),
    provider: Provider = Provider.PAYPAL,
    payment_status: PaymentStatus = PaymentStatus.PAID,
    phone: str | None = "+1 555 0100",
) -> Booking:
    return Booking(
        id=42,
        business_id=BUSINESS.id,
        customer=Customer(name, "ana@example.com", phone),
        service=Service(service, 45, Decimal("45.00")),
        start_at=start,
        status=status,
        payment=Payment(provider, "TX-123", Decimal("1045.50"), "USD", payment_status),
        created_at=START - timedelta(days=2),
        notes=notes,
        history=history,
        refund=(
            Refund(RefundState.ISSUED, Decimal("1045.50"), "USD", NOW)
            if payment_status is PaymentStatus.REFUNDED
            else Refund(RefundState.NONE)
        ),
    )


def cancelled(by: Actor, reason: str | None) -> Booking:
    entry = HistoryEntry(NOW, by, Status.PENDING, Status.CANCELLED, reason)
    return booking(status=Status.CANCELLED, history=(entry,))


def failed_for(kind: MailKind) -> MailKind | None:
    return MailKind.CONFIRMED if kind is MailKind.DELIVERY_FAILED else None


def built(
    kind: MailKind,
    b: Booking | None = None,
    business: Business = BUSINESS,
    *,
    now: datetime = NOW,
) -> Message:
    return compose(
        kind,
        b or booking(),
        business,
        message_id=MESSAGE_ID,
        mail_from=MAIL_FROM,
        failed_kind=failed_for(kind),
        now=now,
    )


def sent(
    kind: MailKind,
    b: Booking | None = None,
    business: Business = BUSINESS,
    *,
    now: datetime = NOW,
) -> EmailMessage:
    """The email as a recipient's client parses it."""
    raw = built(kind, b, business, now=now).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def calendar_part(msg: EmailMessage) -> EmailMessage:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    assert isinstance(part, EmailMessage)
    return part


def invite(msg: EmailMessage) -> Calendar:
    content = calendar_part(msg).get_content()
    assert isinstance(content, str)
    return Calendar.from_ical(content)


def moment(event: Component, name: str) -> datetime:
    value = event.decoded(name)
    assert isinstance(value, datetime)
    return value


def addresses(msg: EmailMessage, header: str) -> list[str]:
    return [a.addr_spec for a in msg[header].addresses]


def structure(msg: EmailMessage) -> list[str]:
    return [p.get_content_type() for p in msg.walk()]


# Headers


@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_every_kind_has_the_headers_and_both_bodies(kind: MailKind) -> None:
    msg = sent(kind)

    assert addresses(msg, "From") == [MAIL_FROM]
    assert msg["From"].addresses[0].display_name == "Plum Salon"
    assert msg["Message-ID"] == MESSAGE_ID
    assert msg["Date"].datetime == NOW
    assert msg["X-Juneplum-Kind"] == kind.value
    assert msg["Subject"]
    assert body(msg, "plain").strip()
    assert body(msg, "html").lstrip().startswith("<!DOCTYPE html>")
    assert "#42" in body(msg, "plain")
    assert "#42" in body(msg, "html")


@pytest.mark.parametrize("kind", CUSTOMER_KINDS)
def test_customer_emails_go_to_the_customer_and_replies_reach_the_owner(kind: MailKind) -> None:
    msg = sent(kind)

    assert addresses(msg, "To") == ["ana@example.com"]
    assert msg["To"].addresses[0].display_name == "Ana Silva"
    assert addresses(msg, "Reply-To") == ["owner@plum.example"]


@pytest.mark.parametrize("kind", OWNER_KINDS)
def test_owner_emails_go_to_the_owner_and_replies_reach_the_customer(kind: MailKind) -> None:
    msg = sent(kind)

    assert addresses(msg, "To") == ["owner@plum.example"]
    assert addresses(msg, "Reply-To") == ["ana@example.com"]
    assert "Reply to this email to write to the customer" in body(msg, "plain")
    assert "Reply to this email to write to the customer" in body(msg, "html")


@pytest.mark.parametrize(
    ("kind", "now", "subject"),
    [
        (MailKind.CREATED, NOW, "Booking received: Haircut on Tue 3 Mar, 10:00"),
        (MailKind.CONFIRMED, NOW, "Booking confirmed: Haircut on Tue 3 Mar, 10:00"),
        (MailKind.CANCELLED, NOW, "Booking cancelled: Haircut on Tue 3 Mar, 10:00"),
        (MailKind.REMINDER_24H, START - timedelta(hours=24), "Reminder: Haircut tomorrow at 10:00"),
        (MailKind.REMINDER_24H, ny(2026, 3, 3, 7), "Reminder: Haircut today at 10:00"),
        (
            MailKind.REMINDER_30M,
            START - timedelta(minutes=30),
            "Reminder: Haircut in 30 minutes (10:00)",
        ),
        (
            MailKind.REMINDER_30M,
            START - timedelta(minutes=12, seconds=10),
            "Reminder: Haircut in 12 minutes (10:00)",
        ),
        (
            MailKind.OWNER_NEW_BOOKING,
            NOW,
            "New booking #42: Ana Silva, Haircut on Tue 3 Mar, 10:00",
        ),
        (MailKind.DELIVERY_FAILED, NOW, "Email to Ana Silva failed (#42, confirmed)"),
    ],
)
def test_subjects_say_what_it_is_in_the_business_zone(
    kind: MailKind, now: datetime, subject: str
) -> None:
    assert sent(kind, now=now)["Subject"] == subject


def test_the_from_name_keeps_quotes_and_ampersands_intact() -> None:
    business = Business(7, 'Plum & Pine "Studio"', "America/New_York", "owner@plum.example")

    msg = sent(MailKind.CONFIRMED, business=business)

    sender = msg["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ('Plum & Pine "Studio"', MAIL_FROM)
    assert msg["Reply-To"].addresses[0].display_name == 'Plum & Pine "Studio"'


@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_a_name_with_a_line_break_cannot_inject_headers(kind: MailKind) -> None:
    evil = "Ana\r\nBcc: evil@x"
    business = Business(7, "Plum\nBcc: evil@x", "America/New_York", "owner@plum.example")
    b = booking(name=evil, service="Haircut\r\nBcc: evil@x")

    raw = built(kind, b, business).as_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    headers, _, _ = raw.partition(b"\r\n\r\n")
    assert msg["Bcc"] is None
    assert b"\nBcc:" not in headers
    assert len(msg["To"].addresses) == 1
    assert len(msg["Reply-To"].addresses) == 1
    assert "\n" not in msg["Subject"]
    assert "\r" not in msg["Subject"]


def test_control_characters_are_stripped_from_subjects() -> None:
    b = booking(name="Ana\x07 \x1b[31mSilva\u2028x", service="Hair\tcut\x00")

    msg = sent(MailKind.OWNER_NEW_BOOKING, b)

    assert msg["Subject"] == "New booking #42: Ana [31mSilva x, Hair cut on Tue 3 Mar, 10:00"


def test_only_the_top_level_declares_mime_version_and_the_message_is_7bit() -> None:
    b = booking(name="Ana Simões", notes="Café ☕ " + "long line " * 20)

    raw = built(MailKind.CREATED, b).as_bytes()

    assert raw.count(b"MIME-Version:") == 1
    assert raw.isascii()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["To"].addresses[0].display_name == "Ana Simões"
    assert "Café ☕" in body(msg, "plain")
    assert "Ana Simões" in str(invite(msg).walk("VEVENT")[0]["ATTENDEE"].params["CN"])


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        built(MailKind.CREATED, now=datetime(2026, 3, 2, 15, 0))  # noqa: DTZ001


# MIME structure and the calendar invite


@pytest.mark.parametrize(
    ("kind", "method", "sequence", "status"),
    [
        (MailKind.CREATED, "REQUEST", 0, "TENTATIVE"),
        (MailKind.CONFIRMED, "REQUEST", 1, "CONFIRMED"),
        (MailKind.CANCELLED, "CANCEL", 2, "CANCELLED"),
    ],
)
def test_invites_update_one_event_per_booking(
    kind: MailKind, method: str, sequence: int, status: str
) -> None:
    msg = sent(kind)

    part = calendar_part(msg)
    assert part.get_param("method") == method
    assert part.get_content_charset() == "utf-8"
    cal = invite(msg)
    assert cal["METHOD"] == method
    assert cal["VERSION"] == "2.0"
    assert cal["PRODID"]
    [event] = cal.walk("VEVENT")
    assert event["UID"] == "booking-42@juneplum.example" == uid(booking(), "juneplum.example")
    assert event["SEQUENCE"] == sequence
    assert event["STATUS"] == status
    assert moment(event, "DTSTART") == START
    assert moment(event, "DTSTART").utcoffset() == timedelta(0)
    assert moment(event, "DTEND") == START + timedelta(minutes=45)
    assert moment(event, "DTSTAMP") == NOW
    assert event["SUMMARY"] == "Haircut at Plum Salon"
    assert event["ORGANIZER"] == "mailto:owner@plum.example"
    assert event["ORGANIZER"].params["CN"] == "Plum Salon"
    assert event["ATTENDEE"] == "mailto:ana@example.com"


@pytest.mark.parametrize("kind", INVITE_KINDS)
def test_invites_are_an_alternative_and_an_invite_ics_attachment(kind: MailKind) -> None:
    msg = sent(kind)

    assert structure(msg) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/ics",
    ]
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    inline = calendar_part(msg).get_content()
    assert attachment.get_content() == inline.encode()


@pytest.mark.parametrize("kind", [k for k in BOOKING_KINDS if k not in INVITE_KINDS])
def test_other_emails_are_text_and_html_only(kind: MailKind) -> None:
    assert structure(sent(kind)) == ["multipart/alternative", "text/plain", "text/html"]


# Times across daylight saving


@pytest.mark.parametrize(
    ("start", "shown", "utc_hour"),
    [
        (ny(2026, 3, 8, 10), "Sun 8 Mar 2026, 10:00 EDT", 14),
        (ny(2026, 11, 1, 10), "Sun 1 Nov 2026, 10:00 EST", 15),
    ],
)
@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_times_are_in_the_business_zone_with_its_abbreviation(
    kind: MailKind, start: datetime, shown: str, utc_hour: int
) -> None:
    msg = sent(kind, booking(start=start), now=start - timedelta(hours=24))

    assert shown in body(msg, "plain")
    assert shown in body(msg, "html")
    if kind is not MailKind.DELIVERY_FAILED:
        assert "10:00" in msg["Subject"]
    if kind in INVITE_KINDS:
        [event] = invite(msg).walk("VEVENT")
        assert moment(event, "DTSTART") == start
        assert moment(event, "DTSTART").astimezone(UTC).hour == utc_hour


# Content per kind


def test_created_confirms_the_payment_and_the_booking() -> None:
    msg = sent(MailKind.CREATED)

    for text in (body(msg, "plain"), body(msg, "html")):
        assert "US$1,045.50" in text
        assert "PayPal" in text
        assert "TX-123" in text
        assert "Haircut" in text
        assert "45 min" in text
        assert "Tue 3 Mar 2026, 10:00 EST" in text
        assert "#42" in text
        assert "Short on the sides" in text


def test_created_names_inkress_payments() -> None:
    assert "Inkress" in body(sent(MailKind.CREATED, booking(provider=Provider.INKRESS)), "plain")


def test_a_cancellation_by_the_business_gives_the_reason_and_who_refunds() -> None:
    msg = sent(MailKind.CANCELLED, cancelled(OWNER, "Stylist is ill"))

    for text in (body(msg, "plain"), body(msg, "html")):
        assert "Plum Salon has cancelled your booking #42" in text
        assert "Stylist is ill" in text
        assert "handled by Plum Salon" in text
        assert "US$1,045.50" in text


def test_a_cancellation_by_the_customer_says_so() -> None:
    msg = sent(MailKind.CANCELLED, cancelled(CUSTOMER, None))

    text = body(msg, "plain")
    assert "As you asked, your booking #42 has been cancelled." in text
    assert "Reason" not in text
    assert "handled by Plum Salon" in text


def test_a_refunded_cancellation_says_it_was_refunded() -> None:
    entry = HistoryEntry(NOW, OWNER, Status.PENDING, Status.CANCELLED, None)
    b = booking(status=Status.CANCELLED, history=(entry,), payment_status=PaymentStatus.REFUNDED)

    assert "has been refunded" in body(sent(MailKind.CANCELLED, b), "plain")


def test_reminders_say_when() -> None:
    day_before = sent(MailKind.REMINDER_24H, now=START - timedelta(hours=24))
    half_hour = sent(MailKind.REMINDER_30M, now=START - timedelta(minutes=30))

    assert "is tomorrow at 10:00" in body(day_before, "plain")
    assert "in 30 minutes (10:00)" in body(half_hour, "html")
    assert "Tue 3 Mar 2026, 10:00 EST" in body(half_hour, "plain")


def test_the_owner_gets_everything_to_act_on_a_new_booking() -> None:
    msg = sent(MailKind.OWNER_NEW_BOOKING)

    for text in (body(msg, "plain"), body(msg, "html")):
        for needed in (
            "Ana Silva",
            "ana@example.com",
            "+1 555 0100",
            "Haircut",
            "Tue 3 Mar 2026, 10:00 EST",
            "US$1,045.50",
            "PayPal",
            "TX-123",
            "Short on the sides",
            "#42",
            "confirm 42",
        ):
            assert needed in text, needed


def test_delivery_failed_names_the_customer_the_booking_and_the_email() -> None:
    msg = sent(MailKind.DELIVERY_FAILED)

    for text in (body(msg, "plain"), body(msg, "html")):
        assert "Ana Silva" in text
        assert "ana@example.com" in text
        assert "#42" in text
        assert "booking confirmed" in text


@pytest.mark.parametrize(
    ("kind", "failed_kind"),
    [
        (MailKind.DELIVERY_FAILED, None),
        (MailKind.CONFIRMED, MailKind.CREATED),
        (MailKind.DELIVERY_FAILED, MailKind.OWNER_NEW_BOOKING),
    ],
)
def test_failed_kind_goes_with_delivery_failed_only(
    kind: MailKind, failed_kind: MailKind | None
) -> None:
    with pytest.raises(ValueError, match="failed_kind"):
        compose(
            kind,
            booking(),
            BUSINESS,
            message_id=MESSAGE_ID,
            mail_from=MAIL_FROM,
            failed_kind=failed_kind,
            now=NOW,
        )


# Escaping


@pytest.mark.parametrize("kind", BOOKING_KINDS)
def test_html_escapes_what_customers_type(kind: MailKind) -> None:
    script = "<script>alert(1)</script>"
    entry = HistoryEntry(NOW, CUSTOMER, Status.PENDING, Status.CANCELLED, script)
    b = booking(name=f"Ana {script}", notes=script, history=(entry,))

    msg = sent(kind, b)

    html = body(msg, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"Ana {script}" in body(msg, "plain")


def test_the_cancel_reason_is_escaped_in_html() -> None:
    msg = sent(MailKind.CANCELLED, cancelled(OWNER, '<script>x</script> & "more"'))

    html = body(msg, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt; &amp; &#34;more&#34;" in html
    assert '<script>x</script> & "more"' in body(msg, "plain")


# Packaging


def test_templates_load_from_any_working_directory(tmp_path: Path) -> None:
    code = (
        "from tests.unit.test_compose import MailKind, built;"
        "print(built(MailKind.CREATED)['Subject'])"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": str(root), "PYTHONWARNINGS": "error"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Booking received: Haircut on Tue 3 Mar, 10:00"


def test_long_non_ascii_names_fold_within_the_line_limit() -> None:
    msg = built(MailKind.OWNER_NEW_BOOKING, booking(name="渡辺" * 100))
    raw = msg.as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert "渡辺渡辺" in str(parsed["Reply-To"]).replace(" ", "")


def test_ascii_that_looks_like_an_encoded_word_is_shown_as_typed() -> None:
    msg = built(MailKind.CREATED, booking(name="=?utf-8?q?evil=40bank=2Ecom?="))
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert "evil@bank.com" not in str(parsed["To"])


@pytest.mark.parametrize(
    "value",
    [
        "Booking confirmed: Cut on Tue 3 Mar, 10:00",
        "tab\tinside  and  double  spaces ",
        " leading space",
        "x" * (78 - len("Subject: ")),  # exactly the longest line written as is
        "x" * (79 - len("Subject: ")),  # one longer: folded as compat32 folds it
        "a " * 40,
        "=?utf-8?q?looks_encoded?=",
        "bell\x07 and \x0b vertical tab",  # control characters: compat32's own way
        "",
    ],
)
def test_headers_are_written_exactly_as_compat32_writes_them(value: str) -> None:
    ours = Message(policy=POLICY)
    theirs = Message(policy=email.policy.compat32.clone(linesep="\r\n"))
    for msg in (ours, theirs):
        msg["Subject"] = value
        msg.set_payload("x")
    assert ours.as_bytes() == theirs.as_bytes()
    assert ours.as_string() == theirs.as_string()


def test_bodies_survive_quoted_printable_whatever_they_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Boundaries made predictable, and the notes hold those very lines; "=", trailing
    # whitespace at every column a line can end in, a lone CR, "From ", a dot, non-ASCII.
    monkeypatch.setattr(secrets, "token_hex", lambda _: "0123456789abcdef")
    near_the_edge = [("a" * n) + " " for n in range(45, 66)] + [("b" * n) + "\t" for n in (63, 64)]
    lines = ["a=b  ", "--=_alt_0123456789abcdef", "--=_mix_0123456789abcdef--", *near_the_edge]
    lines += ["From here", ".", "word " * 40, "Zoë 渡辺"]
    b = booking(notes="\n".join(lines[:3]) + "\ntail  \rlone\n" + "\n".join(lines[3:]))

    raw = built(MailKind.CREATED, b).as_bytes()

    assert raw.isascii()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    encoded = [str(p.get_payload()) for p in msg.walk() if not p.is_multipart()]
    too_long = [line for text in encoded for line in text.splitlines() if len(line) > 76]
    assert too_long == []  # RFC 2045: encoded lines of 76 characters at most
    bare_space = [
        line for text in encoded for line in text.splitlines() if line.endswith((" ", "\t"))
    ]
    assert bare_space == []  # and whitespace ending a line encoded, or decoders drop it
    assert structure(msg) == structure(sent(MailKind.CREATED))  # the boundaries held
    encodings = {str(p["Content-Transfer-Encoding"]) for p in msg.walk() if not p.is_multipart()}
    assert encodings == {"quoted-printable", "base64"}
    shown = body(msg, "plain").splitlines()
    for line in [*lines, "tail  ", "lone"]:  # the template indents notes; each line ends whole
        assert any(s.endswith(line) for s in shown), line


def test_a_cash_booking_s_emails_say_it_is_due_and_its_cancellation_owes_nothing() -> None:
    due = booking(provider=Provider.CASH, payment_status=PaymentStatus.DUE)
    for kind in (MailKind.CREATED, MailKind.OWNER_NEW_BOOKING):
        for subtype in ("plain", "html"):
            text = body(sent(kind, due), subtype)
            assert "Due at the appointment" in text and "US$1,045.50" in text
            assert "Transaction ID" not in text
    entry = HistoryEntry(NOW, OWNER, Status.PENDING, Status.CANCELLED, None)
    cancelled_due = booking(
        status=Status.CANCELLED,
        history=(entry,),
        provider=Provider.CASH,
        payment_status=PaymentStatus.DUE,
    )
    text = body(sent(MailKind.CANCELLED, cancelled_due), "plain")
    assert "Nothing was paid, so there is nothing to refund." in text
    assert "handled by" not in text
