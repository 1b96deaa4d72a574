"""Telegram taps: from a callback_query update arriving at the webhook to the bot's
answerCallbackQuery request reaching the Bot API, with a million bookings in the database.

    .venv/bin/python -m bench.telegram_callbacks                    # 1,000,000 bookings, ~5 min
    .venv/bin/python -m bench.telegram_callbacks --bookings 100000 --big 10000 --taps 300
    .venv/bin/python -m bench.telegram_callbacks --workdir /tmp/tg --keep   # load once, then reuse

What it does:

1. loads a fresh SQLite file as bench.intake_and_queries does (200 businesses, one with
   100,000 bookings; real migrations, then ANALYZE), unless `--workdir` already holds one that
   `--keep` left;
2. serves the app as `juneplum serve` does with PUBLIC_URL set (uvicorn, the Telegram surface's
   webhook route on it, python-telegram-bot's Application running), its Bot API pointed at a
   minimal Bot API served by a child process, which notes when each request arrives
   (CLOCK_MONOTONIC, one clock for both processes);
3. links a chat to a typical business and to the big one, and taps Confirm on pending bookings
   of each: one callback_query update every `--gap` ms (50: several owners
   tapping at once), written to the webhook over a kept-alive
   connection as Telegram would. A tap's time is from the moment its update is written to the
   moment its answerCallbackQuery request leaves (handed to the HTTP client's connection):
   the webhook, the update queue, the handler, the chat layer (conversation, guarded move,
   card), the toast. The edit that follows the toast is not in it. Beside it, until the Bot
   API process has read the request (that adds the loopback and the other process's turn).

Target: p99 under 10 ms. Printed beside the load average and the speed reference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, select, update

from bench.intake_and_queries import Shape, plan_businesses, prepare, typical_business
from bench.machine import load_average, speed_reference
from bot import logs
from bot.app import Services, build_services
from bot.server import http_server, listen
from bot.settings import Settings
from bot.telegram.surface import SECRET_HEADER, WEBHOOK_PATH
from core.chat import ConversationKey, Person, Platform
from core.lifecycle import Status
from storage.tables import bookings

TARGET_P99_MS = 10.0
TOKEN = "7000001:AAH-bench-token-0123456789abcdef"  # noqa: S105 - the bench's own fake
SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 - the bench's own fake
WARM_UP = 30  # taps not counted: the first ones fill caches and pools


# The Bot API, in a child process: answers what the bot asks, notes when taps are answered.


def bot_api(port: int, pipe: Pipe) -> None:
    """Serve a minimal Bot API on `port` until the parent closes the pipe."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    answered: dict[str, float] = {}
    ids = itertools.count(1)

    async def answer(request: Request) -> JSONResponse:
        arrived = time.monotonic()
        method = request.path_params["method"]
        if method == "answerCallbackQuery":
            body = (await request.body()).decode()
            query = dict(p.split("=", 1) for p in body.split("&") if "=" in p)
            answered[query.get("callback_query_id", "")] = arrived
            return JSONResponse({"ok": True, "result": True})
        if method == "getMe":
            me = {"id": 7000001, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
            return JSONResponse({"ok": True, "result": me})
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            message = {
                "message_id": next(ids),
                "date": int(time.time()),
                "chat": {"id": 501, "type": "private", "first_name": "Riley"},
                "text": "…",
            }
            return JSONResponse({"ok": True, "result": message})
        return JSONResponse({"ok": True, "result": True})

    async def records(request: Request) -> JSONResponse:
        return JSONResponse(answered)

    app = Starlette(
        routes=[
            Route("/records", records),
            Route("/bot{token}/{method}", answer, methods=["POST"]),
        ]
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        pipe.send("up")
        try:
            await asyncio.to_thread(pipe.recv_bytes)  # until the parent is done (EOF raises)
        finally:
            server.should_exit = True
            await task

    with contextlib.suppress(EOFError, OSError):
        asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def bot_api_process() -> AsyncIterator[str]:
    port = free_port()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=bot_api, args=(port, theirs))
    child.start()
    try:
        await asyncio.to_thread(ours.recv)
        yield f"http://127.0.0.1:{port}"
    finally:
        ours.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()


# The webhook, written to as Telegram would: one kept-alive connection, one update at a time.


class Webhook:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Webhook:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def request(self, update: dict[str, Any]) -> bytes:
        body = json.dumps(update).encode()
        head = (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\n{SECRET_HEADER}: {SECRET}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def post(self, request: bytes) -> float:
        """Write a prepared request; when it was written (monotonic), once it is answered."""
        written = time.monotonic()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"the webhook answered {head[:40]!r}")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await self.reader.readexactly(length)
        return written

    def close(self) -> None:
        self.writer.close()


def tap_update(update_id: int, query_id: str, chat_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": {"id": 111, "is_bot": False, "first_name": "Riley"},
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Riley"},
                "text": "…",
            },
        },
    }


# The run.


@dataclass
class Figure:
    business: str
    samples: list[float]  # ms, until the answer is handed to the HTTP client to send
    arrived: list[float]  # ms, until the Bot API (another process) has read it

    @staticmethod
    def p(samples: list[float], q: float) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


def watch_answers(surface: Any) -> dict[str, float]:
    """When each answerCallbackQuery leaves: httpx's request hook, called as the request is
    handed to the connection. (Instrumentation: the hook goes on python-telegram-bot's own
    httpx client, which it doesn't expose.)"""
    leaving: dict[str, float] = {}

    async def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/answerCallbackQuery"):
            at = time.monotonic()
            fields = dict(parse_qsl(request.content.decode()))
            leaving[fields.get("callback_query_id", "")] = at

    client: httpx.AsyncClient = surface.app.bot.request._client
    client.event_hooks = {"request": [hook], "response": []}
    return leaving


async def pending_ids(services: Services, business_id: int, count: int) -> list[int]:
    now = datetime.now(UTC)
    query = (
        select(bookings.c.id)
        .where(
            bookings.c.business_id == business_id,
            bookings.c.status == Status.PENDING.value,
            bookings.c.start_at > now,
        )
        .limit(count)
    )

    def work(conn: Connection) -> list[int]:
        return list(conn.execute(query).scalars())

    return await services.db.read(work)


async def pending_again(services: Services, ids: list[int]) -> None:
    """Put the tapped bookings back, so a kept database can be tapped again (--keep)."""
    statement = update(bookings).where(bookings.c.id.in_(ids)).values(status="pending")
    await services.db.write(lambda conn: conn.execute(statement))


async def measure(
    url: str, taps: int, gap_ms: float, businesses: list[tuple[str, int]]
) -> list[Figure]:
    figures = []
    async with bot_api_process() as api_url:
        sock = listen("127.0.0.1", 0)
        port = sock.getsockname()[1]
        settings = Settings(
            database_url=url,
            telegram_bot_token=TOKEN,
            telegram_api_url=api_url,
            public_url=f"http://127.0.0.1:{port}",
            telegram_webhook_secret=SECRET,
            _env_file=None,
        )
        services = build_services(settings)
        (surface,) = services.surfaces
        server = http_server(services)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
                await asyncio.sleep(0.01)
            await surface.start()
            leaving = watch_answers(surface)
            webhook = await Webhook.open(port)
            update_ids = itertools.count(1)
            for n, (label, business_id) in enumerate(businesses):
                chat_id = 501 + n
                key = ConversationKey(Platform.TELEGRAM, "", str(chat_id))
                code = await services.chat.issue_link_code(business_id)
                await services.chat.link(key, Person("111", "Riley"), code)
                ids = await pending_ids(services, business_id, taps + WARM_UP)
                written: dict[str, float] = {}
                for booking_id in ids:
                    query_id = f"q{chat_id}-{booking_id}"
                    update = tap_update(
                        next(update_ids), query_id, chat_id, f"confirm:{booking_id}:pending"
                    )
                    written[query_id] = await webhook.post(webhook.request(update))
                    await asyncio.sleep(gap_ms / 1000)
                order = list(written)
                answered = await _answers(api_url, order)
                await pending_again(services, ids)
                missing = [q for q in order if q not in answered]
                if missing:
                    raise RuntimeError(f"{len(missing)} taps were never answered")
                timed = order[WARM_UP:]
                figures.append(
                    Figure(
                        label,
                        [(leaving[q] - written[q]) * 1000 for q in timed],
                        [(answered[q] - written[q]) * 1000 for q in timed],
                    )
                )
            webhook.close()
        finally:
            await surface.stop()
            server.should_exit = True
            await serving
            sock.close()
            await services.aclose()
    return figures


async def _answers(api_url: str, queries: list[str]) -> dict[str, float]:
    """When the Bot API received each tap's answer, once all have arrived (10 s at most)."""
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            answered: dict[str, float] = (await client.get(f"{api_url}/records")).json()
            if all(q in answered for q in queries):
                break
            await asyncio.sleep(0.1)
    return answered


async def run(args: argparse.Namespace, say: Console) -> list[Figure]:
    shape = Shape(args.bookings, args.businesses, args.big, args.seed)
    specs = plan_businesses(shape)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="juneplum-tg-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "telegram-bench.db"
    url = f"sqlite:///{path}"
    try:
        if not await asyncio.to_thread(path.exists):
            say.print(f"sqlite: migrating and loading {shape.bookings:,} bookings")
            await prepare("sqlite", url, specs, datetime.now(UTC), args.seed, say)
        else:
            say.print(f"sqlite: reusing {path}")
        await _count(url, say)
        typical = typical_business(specs)
        chosen = [
            (f"typical ({typical.size:,} bookings)", typical.id),
            (f"big ({specs[0].size:,} bookings)", specs[0].id),
        ]
        say.print(f"tapping Confirm {args.taps} times per business, one every {args.gap} ms")
        return await measure(url, args.taps, args.gap, chosen)
    finally:
        if not args.keep:
            await asyncio.to_thread(_remove, path, workdir if args.workdir is None else None)


def _remove(path: Path, workdir: Path | None) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


async def _count(url: str, say: Console) -> None:
    from storage.database import open_database

    db = open_database(url)
    try:
        total = await db.read(
            lambda conn: conn.execute(select(func.count()).select_from(bookings)).scalar_one()
        )
    finally:
        await db.dispose()
    say.print(f"sqlite: {total:,} bookings in the database")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.telegram_callbacks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--businesses", type=int, default=200)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--taps", type=int, default=500, help="timed taps per business")
    parser.add_argument("--gap", type=float, default=50.0, help="ms between taps")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes")
    parser.add_argument("--keep", action="store_true", help="keep the loaded file for a rerun")
    args = parser.parse_args(argv)
    say = Console(highlight=False)
    before = speed_reference()
    say.print(f"[dim]load average before: {load_average()}; speed reference {before:.0f} ms[/]")
    logs.configure("warning")  # what goes wrong is shown; nothing else
    figures = asyncio.run(run(args, say))
    table = Table(
        title="Telegram: callback_query in → answerCallbackQuery out", title_justify="left"
    )
    for column in (
        "business",
        "taps",
        "p50 ms",
        "p99 ms",
        "max ms",
        "target p99",
        "",
        "at the API",
    ):
        table.add_column(column)
    ok = True
    for f in figures:
        met = f.p(f.samples, 99) < TARGET_P99_MS
        ok &= met
        table.add_row(
            f.business, str(len(f.samples)), f"{f.p(f.samples, 50):.2f}",
            f"{f.p(f.samples, 99):.2f}", f"{max(f.samples, default=0):.2f}",
            f"< {TARGET_P99_MS:.0f} ms", "PASS" if met else "MISS",
            f"p50 {f.p(f.arrived, 50):.2f} · p99 {f.p(f.arrived, 99):.2f}",
        )  # fmt: skip
    say.print(table)
    say.print(
        f"[dim]load average after: {load_average()} ({os.cpu_count()} cores); speed reference "
        f"{before:.0f} ms before, {speed_reference():.0f} ms after (lower is faster).[/]"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
