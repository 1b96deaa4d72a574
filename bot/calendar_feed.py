"""The owner's calendar feed: `GET /calendar/<token>.ics`, an iCalendar subscription a phone
polls every few minutes.

Cheap to poll: the ETag comes from the business's events (storage.calendar_feeds.FeedVersion:
two short index reads; every change of a booking writes an event in its own transaction, and
one that commits after a later id is still seen), the day (the window's edges move daily) and
what else shows (the name, the zone, the contacts switch). A request whose
If-None-Match names it gets 304 without a booking read. A changed feed is drawn with the
icalendar library and kept, per business, until its ETag moves on, so the next phones
polling the same version get it from memory, and the next change draws only the bookings it
touched (their events above the last draw's settled floor). Unknown or malformed tokens get
a 404, one answer for both.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fastapi import FastAPI, Request, Response
from icalendar import Calendar, Event

from core import wording
from core.calendar import counted, one_line, uid
from core.clock import Clock
from core.desk import Desk
from core.errors import BusinessNotFound
from core.lifecycle import Status
from core.model import Business
from storage.calendar_feeds import FeedAccess, FeedEntry, FeedVersion, SqlCalendarFeeds

PATH = "/calendar/{token}.ics"
MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//Juneplum//Booking desk feed//EN"
DAYS_BACK = 30
DAYS_AHEAD = 366  # a year ahead, counted in whole days from today (UTC)
REFRESH = timedelta(minutes=15)  # what the feed suggests to clients (REFRESH-INTERVAL)
KEPT = 16  # businesses whose latest feed is kept drawn
REDRAWN_ALONE = 2000  # changed bookings drawn alone; more, and the whole window is read again
_END = b"END:VCALENDAR\r\n"
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


@dataclass
class Drawn:
    """A business's feed as last drawn: its ETag and body (and, once asked for, the body
    gzipped), and each event's bytes by booking in time order (`order`), so that a change
    draws only the bookings it touched and a new day only the day it adds."""

    etag: str
    version: FeedVersion  # the business's events when drawn
    basis: tuple[str, str, bool]  # name, zone, contacts: what else every event depends on
    window: tuple[datetime, datetime]
    events: dict[int, tuple[tuple[datetime, int], bytes]]
    body: bytes
    gzipped: bytes | None = None


class CalendarFeed:
    """Draws and serves feeds; holds the latest of a few businesses in memory."""

    def __init__(self, feeds: SqlCalendarFeeds, desk: Desk, clock: Clock, domain: str) -> None:
        self.feeds = feeds
        self.desk = desk
        self.clock = clock
        self.domain = domain  # the mail sender's: UIDs are the invitations' own
        self._kept: OrderedDict[int, Drawn] = OrderedDict()
        # One draw per business at a time: phones polling together wait for the same one.
        self._drawing: dict[int, asyncio.Lock] = {}

    async def answer(
        self, token: str, if_none_match: str | None, accept_encoding: str | None = None
    ) -> Response:
        """The feed for a token, 304 when the client has it already, 404 when no feed;
        gzipped for a client that takes it (calendar apps do)."""
        access = await self._access(token)
        if access is None:
            return _not_found()
        try:
            business = await self.desk.business(access.business_id)
        except BusinessNotFound:
            return _not_found()
        now = self.clock.now()
        today = now.date()
        version = await self.feeds.version(business.id, now)  # before the bookings, always
        etag = self.etag(business, access, version, today.isoformat())
        zipped = "gzip" in (accept_encoding or "").lower()
        shown = _variant(etag, zipped)
        headers = {"ETag": shown, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
        if if_none_match is not None and _matches(if_none_match, shown):
            return Response(status_code=304, headers=headers)
        kept = self._kept.get(business.id)
        if kept is None or kept.etag != etag:
            async with self._drawing.setdefault(business.id, asyncio.Lock()):
                # Read again: a request that drew while this one waited may have drawn a
                # later version, which this one then serves too.
                version = await self.feeds.version(business.id, now)
                etag = self.etag(business, access, version, today.isoformat())
                kept = self._kept.get(business.id)
                if kept is None or kept.etag != etag:
                    kept = await self._draw(business, access, version, etag, today, kept)
                    self._kept[business.id] = kept
                    if len(self._kept) > KEPT:
                        self._kept.popitem(last=False)
            headers["ETag"] = _variant(etag, zipped)
        self._kept.move_to_end(business.id)
        if zipped:
            if kept.gzipped is None:  # once per draw, on a thread: a big feed is megabytes
                kept.gzipped = await asyncio.to_thread(gzip.compress, kept.body, 6, mtime=0)
            headers["Content-Encoding"] = "gzip"
            return Response(content=kept.gzipped, media_type=MEDIA_TYPE, headers=headers)
        return Response(content=kept.body, media_type=MEDIA_TYPE, headers=headers)

    async def _access(self, token: str) -> FeedAccess | None:
        if not _TOKEN.fullmatch(token):
            return None
        return await self.feeds.access(token_digest(token))

    @staticmethod
    def etag(business: Business, access: FeedAccess, version: FeedVersion, day: str) -> str:
        """A strong ETag from what a feed shows, computed without drawing it."""
        seed = "\x1f".join(
            (FORMAT, str(business.id), version.key, day, business.name, business.timezone,
             str(access.with_contacts))
        )  # fmt: skip
        return f'"{hashlib.sha256(seed.encode()).hexdigest()[:32]}"'

    async def _draw(
        self,
        business: Business,
        access: FeedAccess,
        version: FeedVersion,
        etag: str,
        today: date,
        kept: Drawn | None,
    ) -> Drawn:
        """The feed at `version`. After a first draw of the whole window, only what moved is
        read and drawn again: the bookings with events since the last draw, and on a new day
        the day the window gains (the day it loses is dropped). Drawing runs on a thread, so
        a big feed never stalls the loop."""
        start = datetime.combine(today - timedelta(days=DAYS_BACK), time(0), tzinfo=UTC)
        end = datetime.combine(today + timedelta(days=DAYS_AHEAD), time(0), tzinfo=UTC)
        basis = (business.name, business.timezone, access.with_contacts)
        changed = None
        if (
            kept is not None
            and kept.basis == basis
            and version.floor >= kept.version.floor
            and start >= kept.window[0]
        ):
            # From the floor kept, not its latest id: an event with a lower id than that
            # may have committed since (PostgreSQL), and it is above the floor.
            since = kept.version.floor
            changed = await self.feeds.changed_since(business.id, since, REDRAWN_ALONE)
        events: dict[int, tuple[tuple[datetime, int], bytes]] = {}
        if kept is None or changed is None:
            entries = await self.feeds.entries(business.id, start, end)
        else:
            gone = set(changed)
            events = {i: e for i, e in kept.events.items() if i not in gone and e[0][0] >= start}
            entries = await self.feeds.entries_of(business.id, changed, start, end)
            if end > kept.window[1]:
                entries += await self.feeds.entries(business.id, kept.window[1], end)

        def draw() -> bytes:
            events.update(self._events(entries, access.with_contacts))
            ordered = b"".join(e for _, e in sorted(events.values()))
            return self._calendar(business) + ordered + _END

        body = await asyncio.to_thread(draw)
        return Drawn(etag, version, basis, (start, end), events, body)

    def _calendar(self, business: Business) -> bytes:
        """The VCALENDAR's own lines, up to its first event."""
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
        whole: bytes = cal.to_ical()
        return whole.removesuffix(_END)

    def _events(
        self, entries: list[FeedEntry], with_contacts: bool
    ) -> dict[int, tuple[tuple[datetime, int], bytes]]:
        drawn = {}
        for entry in entries:
            b = entry.booking
            ics: bytes = self._event(entry, with_contacts).to_ical()
            drawn[b.id] = ((b.start_at, b.id), ics)
        return drawn

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


def _variant(etag: str, zipped: bool) -> str:
    """Each encoding is its own representation, with its own strong ETag."""
    return etag.removesuffix('"') + '-gz"' if zipped else etag


def _not_found() -> Response:
    return Response(status_code=404, content="No such calendar.\n", media_type="text/plain")


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
        headers = request.headers
        return await feed.answer(
            token, headers.get("if-none-match"), headers.get("accept-encoding")
        )

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
