"""Slack buttons: from a signed button request arriving to its ack leaving, with a million
bookings in the database.

    .venv/bin/python -m bench.slack_acks                       # 1,000,000 bookings, ~4 minutes
    .venv/bin/python -m bench.slack_acks --bookings 100000 --presses 300
    .venv/bin/python -m bench.slack_acks --database var/slack-bench.db   # load once, then reuse

What it does:

1. loads a fresh SQLite file with the intake benchmark's bookings (`bench.intake_and_queries`:
   the real migrations, then a bulk load; business 1 holds a tenth of them);
2. starts a local server that answers Slack's Web API (`ok` to everything, a channel's
   members), builds the services with the real Slack surface pointed at it, links a channel
   to business 1, and serves the app as `juneplum serve` does (uvicorn, httptools);
3. presses Confirm on `--presses` different pending bookings, one every 20 ms, each a
   `block_actions` request signed as Slack signs it, and times:
   - in the server, from the request's arrival at the ASGI app to the last byte of the ack
     being handed to the socket (an ASGI wrapper);
   - at the client, the whole round trip;
   The confirm itself, the message's `chat.update` and the redraws run after the ack (lazy
   listeners), on the same event loop, as they do in production: they are in the figures
   only as far as they delay the next ack. Checks that every booking was confirmed.

Target: server p99 under 10 ms. The load average and a speed reference are printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.intake_and_queries import Shape, plan_businesses, prepare
from bench.machine import load_average, speed_reference
from bot import logs
from bot.app import build_services
from bot.server import http_server
from bot.settings import Settings
from core.chat import ConversationKey, Person, Platform
from core.lifecycle import Status
from storage.tables import bookings

SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 - the bench's own Slack
TOKEN = "xoxb-bench-token"  # noqa: S105
TEAM = "TBENCH"
TARGET_P99_MS = 10.0


def fake_slack() -> Starlette:
    async def api(request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if method == "conversations.members":
            return JSONResponse({"ok": True, "members": ["U1"], "response_metadata": {}})
        if method == "auth.test":
            return JSONResponse({"ok": True, "user_id": "UBOT", "bot_id": "B", "team_id": TEAM})
        return JSONResponse({"ok": True, "ts": "1700000000.000001", "channel": "C1"})

    async def respond(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/api/{method}", api, methods=["POST", "GET"]),
            Route("/respond", respond, methods=["POST"]),
        ]
    )


class AckTimer:
    """ASGI wrapper: each request's time from arrival to its last byte sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


def press(booking_id: int, respond_url: str) -> tuple[str, dict[str, str]]:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "owner", "name": "owner", "team_id": TEAM},
        "api_app_id": "A1",
        "token": "x",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": "C1",
            "is_ephemeral": False,
        },
        "trigger_id": "1.2.3",
        "team": {"id": TEAM, "domain": "bench"},
        "channel": {"id": "C1", "name": "desk"},
        "message": {"type": "message", "ts": "1700000000.000001", "text": "card"},
        "response_url": respond_url,
        "actions": [
            {
                "action_id": "jp_confirm",
                "block_id": "card",
                "type": "button",
                "value": f"confirm:{booking_id}:pending",
                "action_ts": "1700000001.000001",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={signature.hexdigest()}",
    }
    return body, headers


async def serve(app: ASGIApp) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None,
                            access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return server, task, f"http://{host}:{port}"


async def run(args: argparse.Namespace, say: Console) -> bool:
    say.print(f"speed reference {speed_reference():.1f} ms (lower is faster)")
    now = datetime.now(UTC)
    shape = Shape(args.bookings, businesses=200, big=args.bookings // 10, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.database) if args.database else Path(tmp) / "slack.db"
        url = f"sqlite:///{path.resolve()}"
        if not path.exists():
            await prepare("sqlite", url, plan_businesses(shape), now, shape.seed, say)
        slack_server, slack_task, slack_url = await serve(fake_slack())
        settings = Settings(
            database_url=url, mail_dir=Path(tmp) / "mail", slack_bot_token=TOKEN,
            slack_signing_secret=SECRET, slack_api_url=f"{slack_url}/api/", _env_file=None,
        )  # fmt: skip
        services = build_services(settings)
        try:
            code = await services.chat.issue_link_code(1)
            key = ConversationKey(Platform.SLACK, TEAM, "C1")
            assert (await services.chat.link(key, Person("U1", "owner"), code)).ok
            query = (
                select(bookings.c.id)
                .where(bookings.c.business_id == 1, bookings.c.status == Status.PENDING.value)
                .limit(args.presses)
            )
            pending = await services.db.read(lambda c: list(c.execute(query).scalars()))
            uvicorn_server = http_server(services)
            timer = AckTimer(uvicorn_server.config.app)  # type: ignore[arg-type]
            ours, our_task, our_url = await serve(timer)
            round_trips: list[float] = []
            async with httpx.AsyncClient(timeout=10) as client:
                for booking_id in pending:
                    body, headers = press(booking_id, f"{slack_url}/respond")
                    started = time.perf_counter()
                    answer = await client.post(f"{our_url}/slack/events", content=body,
                                               headers=headers)  # fmt: skip
                    round_trips.append(time.perf_counter() - started)
                    if answer.status_code != 200:
                        raise RuntimeError(f"Slack would see {answer.status_code}: {answer.text}")
                    await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)  # the last lazy listeners finish
            confirmed = await services.db.read(
                lambda c: c.execute(
                    select(bookings.c.id).where(
                        bookings.c.id.in_(pending), bookings.c.status == "confirmed"
                    )
                ).all()
            )
            ours.should_exit = True
            await our_task
        finally:
            await services.aclose()
            slack_server.should_exit = True
            await slack_task
    server_ms = sorted(t * 1000 for t in timer.times)
    client_ms = sorted(t * 1000 for t in round_trips)

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    p99 = pct(server_ms, 99)
    table = Table(title=f"Slack button acks ({args.bookings:,} bookings, SQLite)",
                  title_justify="left")  # fmt: skip
    for column in ("measure", "p50", "p99", "target", "load"):
        table.add_column(column)
    ok = p99 < TARGET_P99_MS and len(confirmed) == len(pending)
    table.add_row(
        "arrival → ack sent (server)", f"{statistics.median(server_ms):.2f} ms", f"{p99:.2f} ms",
        f"p99 < {TARGET_P99_MS:.0f} ms {'✓' if p99 < TARGET_P99_MS else '✗'}", load_average(),
    )  # fmt: skip
    table.add_row(
        "round trip (client, info)", f"{statistics.median(client_ms):.2f} ms",
        f"{pct(client_ms, 99):.2f} ms", "", "",
    )  # fmt: skip
    say.print(table)
    say.print(f"{len(confirmed)} of {len(pending)} pressed bookings confirmed (after the acks)")
    say.print(f"speed reference {speed_reference():.1f} ms")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--presses", type=int, default=500)
    parser.add_argument(
        "--database", help="a SQLite file to load once and reuse (its pending bookings run out)"
    )
    args = parser.parse_args(argv)
    with open(os.devnull, "w") as quiet:
        logs.configure("info", "console", quiet)
        return 0 if asyncio.run(run(args, Console())) else 1


if __name__ == "__main__":
    sys.exit(main())
