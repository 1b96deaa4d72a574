"""Uvicorn's httptools protocol, bounded: a slow, idle or oversized client can't tie the
server up.

Uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but otherwise waits for a
request head as long as a client takes to send it, keeps every byte of it (a 64 MB header
stalled every other client for seconds), and has no cap on connections. Here, per
connection:

- a request head over `max_head_bytes`, or with more than `max_header_lines` lines, is
  answered `431` and the connection closed;
- a head not complete `head_seconds` after its first byte (or after the connection opened)
  closes the connection; so does a body that sends nothing for `body_seconds`;
- an idle keep-alive connection closes after `keep_alive_seconds` (uvicorn's own timer);
- at most `max_connections` at once: a connection over that is closed as it opens, so slow
  clients never use up the process's file descriptors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from bot import logs

log = logs.get("bot.http")

LINGER_SECONDS = 1.0


def connection_cap() -> int:
    """Half the file descriptors this process may open, at most 4,096: the rest is for the
    database, SMTP and the files a process needs."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, min(4096, soft // 2))


@dataclass(frozen=True)
class ClientLimits:
    max_head_bytes: int = 16 * 1024
    max_header_lines: int = 100
    head_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: int = 5  # an idle keep-alive connection closes (uvicorn's own timer)
    max_connections: int = 0  # 0: connection_cap()

    def protocol(self) -> type[HttpToolsProtocol]:
        """The protocol class for uvicorn.Config(http=...), bound to these limits."""
        limits = self if self.max_connections else _with_cap(self)
        return type("BoundedHttpTools", (BoundedHttpTools,), {"limits": limits})


def _with_cap(limits: ClientLimits) -> ClientLimits:
    return dataclasses.replace(limits, max_connections=connection_cap())


class _HeadTooLarge(Exception):
    pass


class BoundedHttpTools(HttpToolsProtocol):
    limits: ClientLimits = ClientLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._reading_head = True  # the next bytes are a request head
        self._head_bytes = 0
        self._header_lines = 0
        self._too_large = False
        self._discarding = False  # answered 431: what still comes is read and dropped
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            transport.abort()  # before it takes anything more than its descriptor, briefly
            return
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.limits.head_seconds, self._too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self.transport is None:  # refused in connection_made
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._reading_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(self.limits.head_seconds, self._too_slow)
        elif self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = self.loop.call_later(self.limits.body_seconds, self._too_slow)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._too_large:
                self._refuse_head()
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._reading_head and self._head_bytes > self.limits.max_head_bytes:
            self._refuse_head()  # a head still coming, already over the limit

    def on_message_begin(self) -> None:
        self._header_lines = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_lines += 1
        if self._header_lines > self.limits.max_header_lines:
            self._too_large = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.limits.max_head_bytes:
            self._too_large = True
            raise _HeadTooLarge
        self._reading_head, self._head_bytes = False, 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._body_timer = self.loop.call_later(self.limits.body_seconds, self._too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._reading_head = True  # keep-alive: the next request's head, when it comes
        super().on_response_complete()

    def _too_slow(self) -> None:
        """A head or a body that stopped coming: close (the app sees a disconnect)."""
        self._cancel_timers()
        if self.transport is not None and not self.transport.is_closing():
            log.info("http.too_slow", client=_peer(self.client), head=self._reading_head)
            self.transport.close()

    def _refuse_head(self) -> None:
        self._cancel_timers()
        log.info("http.head_too_large", client=_peer(self.client))
        body = (
            f'{{"detail": "Request head over {self.limits.max_head_bytes} bytes or '
            f'{self.limits.max_header_lines} header lines."}}'
        ).encode()
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[431],
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        # A lingering close: closing with the client's bytes unread would reset the
        # connection, and could destroy the 431 before the client reads it. Its bytes are
        # read and dropped for a moment, then the connection is closed whatever comes.
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.abort)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"
