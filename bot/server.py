"""`juneplum serve`: the HTTP API and, when asked, the console, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from rich.console import Console

from bot import logs
from bot.api import build_api
from bot.app import Services
from bot.console import open_console, stdin_lines

log = logs.get("bot.server")


async def serve(services: Services, *, attach_console: bool, business: int | None) -> None:
    """Serve until a signal (or the console's `quit`) asks to stop."""
    settings = services.settings
    await services.businesses.all()  # fails fast, with a clear message, on an unmigrated database
    server = uvicorn.Server(
        uvicorn.Config(
            build_api(services),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    chat = await open_console(services, business, Console()) if attach_console else None
    log.info("serve.start", http=f"http://{settings.http_host}:{settings.http_port}")
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
    log.info("serve.stop")
