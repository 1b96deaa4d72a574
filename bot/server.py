"""`juneplum serve`: the HTTP API and, when asked, the console, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from rich.console import Console

from bot import logs
from bot.api import build_api
from bot.app import Services
from bot.console.chat import open_console, stdin_lines

log = logs.get("bot.server")


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handling: `serve` owns SIGINT/SIGTERM, so that after a
    signal the background jobs still finish and mark the emails in flight, and we exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(services: Services, *, attach_console: bool, business: int | None) -> None:
    """Serve until a signal (or the console's `quit`) asks to stop."""
    settings = services.settings
    await services.businesses.all()  # fails fast, with a clear message, on an unmigrated database
    server = _Server(
        uvicorn.Config(
            build_api(
                services.desk,
                services.businesses,
                max_body_bytes=settings.max_body_bytes,
            ),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    chat = None
    if attach_console:
        found = await services.businesses.all()
        chat = await open_console(services.desk, services.feed, found, business, Console())
    log.info("serve.start", http=f"http://{settings.http_host}:{settings.http_port}")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, server, sig)
    services.background.start()
    try:
        api_task = asyncio.create_task(server.serve(), name="http")
        if chat is None:
            await api_task
            return
        console_task = asyncio.create_task(chat.run(stdin_lines()), name="console")
        await asyncio.wait({api_task, console_task}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        console_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await console_task
        await api_task
    finally:
        # Finish and mark the emails in flight; bounded so SIGTERM stops us within 10 s.
        await services.background.stop(grace_seconds=8.0)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("serve.stop")


def _stop(server: uvicorn.Server, sig: signal.Signals) -> None:
    log.info("serve.signal", signal=sig.name)
    server.should_exit = True
