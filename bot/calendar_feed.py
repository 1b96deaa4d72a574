"""The owner's calendar feed: `GET /calendar/<token>.ics`, an iCalendar subscription a phone
polls every few minutes.

Cheap to poll: the ETag comes from the business's latest event id (one index probe: every
change of a booking writes an event in its own transaction), the day (the window's edges
move daily) and what else shows (the name, the zone, the contacts switch). A request whose
If-None-Match names it gets 304 without a booking read. A changed feed is drawn with the
icalendar library and kept, per business, until its ETag moves on, so the next phones
polling the same version get it from memory. Unknown or malformed tokens get a 404, one
answer for both.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from fastapi import FastAPI, Request, Response
from icalendar import Calendar, Event

from core import wording
from core.calendar import counted, one_line, uid
from core.clock import Clock
from core.desk import Desk
from core.errors import BusinessNotFound
from core.lifecycle import Status
from core.model import Business
from storage.calendar_feeds import FeedAccess, FeedEntry, SqlCalendarFeeds

PATH = "/calendar/{token}.ics"
MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//Juneplum//Booking desk feed//EN"
DAYS_BACK = 30
DAYS_AHEAD = 366  # a year ahead, counted in whole days from today (UTC)
REFRESH = timedelta(minutes=15)  # what the feed suggests to clients (REFRESH-INTERVAL)
KEPT = 16  # businesses whose latest feed is kept drawn
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
_STATUS = {Status.PENDING: "TENTATIVE", Status.CONFIRMED: "CONFIRMED"}
FORMAT = "1"  # bump when the feed's layout changes, so every ETag does


def new_token() -> str:
    """A feed token: 32 characters of A-Z a-z 0-9 _ - (192 random bits)."""
    return secrets.token_urlsafe(24)


def token_digest(token: str) -> str:
    """Tokens are stored only as digests."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + PATH.format(token=token)


@dataclass(frozen=True)
class Drawn:
    etag: str
    body: bytes


class CalendarFeed:
    """Draws and serves feeds; holds the latest of a few businesses in memory."""

    def __init__(self, feeds: SqlCalendarFeeds, desk: Desk, clock: Clock, domain: str) -> None:
        self.feeds = feeds
        self.desk = desk
        self.clock = clock
        self.domain = domain  # the mail sender's: UIDs are the invitations' own
        self._kept: OrderedDict[int, Drawn] = OrderedDict()

    async def answer(self, token: str, if_none_match: str | None) -> Response:
        """The feed for a token, 304 when the client has it already, 404 when no feed."""
        access = await self._access(token)
        if access is None:
            return Response(status_code=404, content="No such calendar.\n", media_type="text/plain")
        try:
            business = await self.desk.business(access.business_id)
        except BusinessNotFound:
            return Response(status_code=404, content="No such calendar.\n", media_type="text/plain")
        today = self.clock.now().date()
        version = await self.feeds.version(business.id)
        etag = self.etag(business, access, version, today.isoformat())
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if if_none_match is not None and _matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        kept = self._kept.get(business.id)
        if kept is None or kept.etag != etag:
            start = datetime.combine(today - timedelta(days=DAYS_BACK), time(0), tzinfo=UTC)
            end = datetime.combine(today + timedelta(days=DAYS_AHEAD), time(0), tzinfo=UTC)
            entries = await self.feeds.entries(business.id, start, end)
            kept = Drawn(etag, self.draw(business, entries, access.with_contacts))
            self._kept[business.id] = kept
            if len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        self._kept.move_to_end(business.id)
        return Response(content=kept.body, media_type=MEDIA_TYPE, headers=headers)

    async def _access(self, token: str) -> FeedAccess | None:
        if not _TOKEN.fullmatch(token):
            return None
        return await self.feeds.access(token_digest(token))

    @staticmethod
    def etag(business: Business, access: FeedAccess, version: int, day: str) -> str:
        """A strong ETag from what a feed shows, computed without drawing it."""
        seed = "\x1f".join(
            (FORMAT, str(business.id), str(version), day, business.name, business.timezone,
             str(access.with_contacts))
        )  # fmt: skip
        return f'"{hashlib.sha256(seed.encode()).hexdigest()[:32]}"'

    def draw(self, business: Business, entries: list[FeedEntry], with_contacts: bool) -> bytes:
        """The VCALENDAR: one VEVENT per booking, with the invitations' UID and SEQUENCE."""
        cal = Calendar()
        cal.add("prodid", PRODID)
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        name = wording.CALENDAR_FEED_NAME.format(business=one_line(business.name))
        cal.add("x-wr-calname", name)
        cal.add("name", name)
        cal.add("x-wr-timezone", business.timezone)
        cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", REFRESH)
        for entry in entries:
            cal.add_component(self._event(entry, with_contacts))
        body: bytes = cal.to_ical()
        return body

    def _event(self, entry: FeedEntry, with_contacts: bool) -> Event:
        b = entry.booking
        event = Event()
        event.add("uid", uid(b, self.domain))
        event.add("sequence", counted(b.status, entry.reschedules))
        event.add("dtstamp", entry.updated_at.astimezone(UTC))
        event.add("last-modified", entry.updated_at.astimezone(UTC))
        event.add("created", b.created_at.astimezone(UTC))
        event.add("dtstart", b.start_at.astimezone(UTC))
        event.add("dtend", b.end_at.astimezone(UTC))
        event.add("summary", one_line(wording.calendar_event_summary(b)))
        event.add("description", wording.calendar_event_description(b, with_contacts))
        event.add("status", _STATUS.get(b.status, "CANCELLED"))
        event.add("transp", "OPAQUE")
        return event


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match names our ETag (or `*`); a weak W/ prefix compares the same."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip().removeprefix("W/")
        if tag in (etag, "*"):
            return True
    return False


def mount(app: FastAPI, feed: CalendarFeed) -> None:
    """Add the feed's route to the HTTP server (its limits apply as to every route)."""

    async def calendar(token: str, request: Request) -> Response:
        return await feed.answer(token, request.headers.get("if-none-match"))

    app.add_api_route(
        PATH,
        calendar,
        methods=["GET"],
        summary="The business's calendar feed (iCalendar), for the owner's phone",
        response_class=Response,
        responses={
            200: {"content": {"text/calendar": {}}, "description": "The feed"},
            304: {"description": "Not modified since the ETag in If-None-Match"},
            404: {"description": "No such calendar (an unknown or rotated token)"},
        },
    )
