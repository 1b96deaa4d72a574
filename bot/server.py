"""`juneplum serve`: the HTTP API and, when asked, the console, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from bot import calendar_feed, logs
from bot.api import build_api
from bot.app import Services
from bot.chat.surface import Surface
from bot.console.chat import console_choices, open_console, stdin_lines
from bot.errors import CannotStart
from bot.health import Health
from bot.http_limits import ClientLimits
from bot.payments import webhooks as payment_webhooks
from core.model import Business

log = logs.get("bot.server")


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handling: `serve` owns SIGINT/SIGTERM, so that after a
    signal the background jobs still finish and mark the emails in flight, and we exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class CannotServe(CannotStart):
    """The HTTP API can't listen."""


async def serve(services: Services, *, attach_console: bool, business: int | None) -> None:
    """Serve until a signal (or the console's `quit`) asks to stop; exit within 10 s of it."""
    settings = services.settings
    found = await services.businesses.all()  # fails fast and clearly on an unmigrated database
    if attach_console:
        console_choices(found, business)  # a console that can't open stops us before serving
    sock = listen(settings.http_host, settings.http_port)
    server = http_server(services)
    log.info("serve.start", http=f"http://{settings.http_host}:{settings.http_port}")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, services, server, sig)
    services.background.start()
    try:
        for surface in services.surfaces:
            await surface.start()
            log.info("serve.chat", platform=surface.platform.value)
        api_task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
        if not attach_console:
            await api_task
            return
        # The API and mail already serve while the console asks which business, if it must.
        console_task = asyncio.create_task(_console(services, found, business), name="console")
        await asyncio.wait({api_task, console_task}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        console_task.cancel()
        await api_task
        with contextlib.suppress(asyncio.CancelledError):
            await console_task  # a console that couldn't start says why (no business chosen)
    finally:
        # The emails and chat posts in flight finish and are marked (what is left is picked
        # up by the lease); then the chat surfaces stop receiving and close their clients.
        await services.background.stop(grace_seconds=GRACEFUL_MAIL_SECONDS)
        await asyncio.gather(*(_stopped(surface) for surface in services.surfaces))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        sock.close()
        log.info("serve.stop")


async def _console(services: Services, found: list[Business], business: int | None) -> None:
    chat = await open_console(services.chat, services.feed, found, business, Console())
    await chat.run(stdin_lines())


GRACEFUL_HTTP_SECONDS = 4
GRACEFUL_MAIL_SECONDS = 4.0  # together well under the 10 s a supervisor waits after SIGTERM
GRACEFUL_CHAT_SECONDS = 1.0  # the chat surfaces stop side by side


async def _stopped(surface: Surface) -> None:
    """Stop a chat surface within its share of the shutdown grace, whatever its state."""
    try:
        async with asyncio.timeout(GRACEFUL_CHAT_SECONDS):
            await surface.stop()
    except Exception as exc:
        log.warning(
            "serve.chat_stop_failed", platform=surface.platform.value, error=type(exc).__name__
        )


def http_server(services: Services, limits: ClientLimits | None = None) -> uvicorn.Server:
    """The intake API, the calendar feeds and the chat webhooks on uvicorn (httptools, bounded: see
    bot.http_limits), as `serve` runs them; the benchmark runs this too, and tests pass
    shorter limits."""
    limits = limits or ClientLimits()
    api = http_app(services)
    return _Server(
        uvicorn.Config(
            api,
            http=limits.protocol(),
            timeout_keep_alive=limits.keep_alive_seconds,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_HTTP_SECONDS,
        )
    )


def http_app(services: Services) -> FastAPI:
    """Every route the service answers: the intake API, the payment providers' webhooks, the
    calendar feed and the chat platforms' (each behind the API's body limit and outage
    handling)."""
    api = build_api(
        services.desk,
        services.businesses,
        Health(services.db),
        max_body_bytes=services.settings.max_body_bytes,
        payments=services.payments,
    )
    payment_webhooks.mount(
        api, services.payments, services.businesses, services.clock, services.paypal
    )
    calendar_feed.mount(api, services.calendar)
    for surface in services.surfaces:
        surface.mount(api)
    return api


def listen(host: str, port: int) -> socket.socket:
    """Bind the API's socket ourselves, so a busy port is one clear message, not a traceback."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)  # IPPROTO_TCP: asyncio then sets TCP_NODELAY
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError as exc:
        raise CannotServe(f"Can't listen on {host}:{port}: {exc.strerror or exc}.") from None
    return sock


def _stop(services: Services, server: uvicorn.Server, sig: signal.Signals) -> None:
    if server.should_exit:  # a second signal: don't wait for slow clients
        server.force_exit = True
    log.info("serve.signal", signal=sig.name)
    services.dispatcher.stop()  # no new mail claimed from now on
    server.should_exit = True
