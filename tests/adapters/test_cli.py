"""The `juneplum` command as a user runs it: a real process, from another directory."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import build_services
from bot.mail.transport import SmtpTransport
from bot.settings import Settings
from core.clock import FixedClock
from core.notifications import DeliveryStatus
from storage import migrate
from tests.conftest import NOW, PAGE, new_booking
from tests.smtp_server import SmtpServer

JUNEPLUM = str(Path(sys.executable).parent / "juneplum")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HTTP_"))}
    return clean | {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "LOG_LEVEL": "info"}


def run(
    env: dict[str, str], cwd: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [JUNEPLUM, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_business_add_prints_one_json_object_with_its_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, tmp_path, "migrate").returncode == 0
    added = run(
        env, tmp_path, "business", "add", "--name", "Zoë's Studio", "--timezone",
        "Europe/Paris", "--owner-email", "zoe@example.com", "--currency", "eur", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    data = json.loads(added.stdout)
    assert data["id"] == 1 and data["api_key"].startswith("jp_") and data["currency"] == "EUR"
    listed = run(env, tmp_path, "business", "list")
    assert "Zoë's Studio\tEurope/Paris\tEUR" in listed.stdout
    assert data["api_key"] not in listed.stdout + listed.stderr  # shown once, never again


def test_an_unknown_time_zone_is_refused_clearly(env: dict[str, str], tmp_path: Path) -> None:
    run(env, tmp_path, "migrate")
    refused = run(
        env, tmp_path, "business", "add", "--name", "X", "--timezone", "Mars/Olympus",
        "--owner-email", "x@example.com",
    )  # fmt: skip
    assert refused.returncode == 2
    assert "Unknown time zone “Mars/Olympus”" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert run(env, tmp_path, "business", "list").stdout.startswith("No businesses yet")
    not_money = run(
        env, tmp_path, "business", "add", "--name", "X", "--timezone", "UTC",
        "--owner-email", "x@example.com", "--currency", "ABC",
    )  # fmt: skip
    assert not_money.returncode == 2
    assert "“ABC” isn't a currency in use" in not_money.stderr


def test_an_unmigrated_database_gets_a_hint_not_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "cli.db").touch()  # there, but never migrated
    result = run(env, tmp_path, "business", "list")
    assert result.returncode == 1
    assert "juneplum migrate" in result.stderr and "Traceback" not in result.stderr
    assert str(tmp_path / "cli.db") in result.stderr


def test_a_database_that_is_not_there_is_named_and_not_created(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Run from another directory than the one `make run` used: the relative default path
    # points somewhere else, and the owner is told where, rather than shown an empty desk.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = env | {"DATABASE_URL": "sqlite:///var/juneplum.db"}
    for command in (["business", "list"], ["console"], ["demo"], ["serve"], ["serve", "--console"]):
        result = run(relative, elsewhere, *command)
        assert result.returncode == 2, command
        assert f"No database at {elsewhere / 'var' / 'juneplum.db'}" in result.stderr
        assert "juneplum migrate" in result.stderr and "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert run(relative, elsewhere, "migrate").returncode == 0  # migrate makes it
    assert run(relative, elsewhere, "business", "list").stdout.startswith("No businesses yet")


def test_demo_seeds_once_and_the_console_shows_it(env: dict[str, str], tmp_path: Path) -> None:
    run(env, tmp_path, "migrate")
    first = run(env, tmp_path, "demo")
    assert first.returncode == 0 and "seeded" in first.stderr
    second = run(env, tmp_path, "demo")
    assert second.returncode == 0 and "nothing changed" in second.stderr
    chat = run(env, tmp_path, "console", stdin="all\nsearch zoë\nquit\n")
    assert chat.returncode == 0, chat.stderr
    assert "All bookings — Plum & Pine Studio (demo)" in chat.stdout
    assert "Zoë Kowalski" in chat.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(base: str) -> bool:
    """Wait up to ~5 s for the server at `base` to answer /healthz; whether it did."""
    for _ in range(50):
        try:
            return httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def _serve(env: dict[str, str], cwd: Path, port: int, *args: str) -> subprocess.Popen[str]:
    """`juneplum serve` as a supervisor starts it, on `port`."""
    return subprocess.Popen(  # noqa: S603 - our own command
        [JUNEPLUM, "serve", *args],
        env=env | {"HTTP_PORT": str(port)},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _post_booking(base: str, key: str, name: str, txn: str) -> httpx.Response:
    """A paid booking two days ahead, as a booking page posts it."""
    body = {
        "customer": {"name": name, "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45},
        "start": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "payment": {"provider": "inkress", "transaction_id": txn, "amount": "4500.00",
                    "currency": "JMD"},
    }  # fmt: skip
    return httpx.post(f"{base}/api/bookings", json=body, headers={"Authorization": f"Bearer {key}"})


def test_serve_takes_a_booking_over_http_and_stops_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, tmp_path, "migrate")
    added = run(
        env, tmp_path, "business", "add", "--name", "Plum", "--timezone", "America/New_York",
        "--owner-email", "o@example.com", "--json",
    )  # fmt: skip
    key = json.loads(added.stdout)["api_key"]
    port = _free_port()
    server = _serve(env, tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        _healthy(base)
        created = _post_booking(base, key, "Ana", "INK-1")
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "pending"
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=15)
    assert server.returncode == 0
    assert key not in err  # secrets are never logged


def test_serve_with_the_console_serves_while_it_asks_which_business(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, tmp_path, "migrate")
    keys = []
    for name in ("Plum", "Kiwi"):
        added = run(
            env, tmp_path, "business", "add", "--name", name, "--timezone", "UTC",
            "--owner-email", "o@example.com", "--json",
        )  # fmt: skip
        keys.append(json.loads(added.stdout)["api_key"])
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603
        [JUNEPLUM, "serve", "--console"],
        env=env | {"HTTP_PORT": str(port), "LOG_FILE": str(tmp_path / "serve.log")},
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        healthy = _healthy(base)  # nobody has answered "Which business?" yet
        # A booking for Kiwi while the owner is still choosing: its alert must not be lost.
        created = _post_booking(base, keys[1], "Early Bird", "EARLY-1")
        assert server.stdin is not None
        server.stdin.write("2\n")
        server.stdin.flush()
        time.sleep(1.5)  # the console looks for new events every half second
        out, err = server.communicate("quit\n", timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
    assert healthy
    assert created.status_code == 201, created.text
    assert "Which business?" in out and "Kiwi" in out
    assert "New booking" in out and "Early Bird" in out
    assert server.returncode == 0, err


async def test_outbox_lists_pending_and_failed_mail_and_retries_a_failed_one(
    env: dict[str, str], tmp_path: Path, smtp: SmtpServer
) -> None:
    url = env["DATABASE_URL"]
    settings = Settings(database_url=url, _env_file=None)
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none")
    services = build_services(settings, clock=FixedClock(NOW), transport=transport)
    await migrate.upgrade(services.db)
    business = await services.businesses.add(
        name="Plum", timezone="UTC", owner_email="owner@plum.example", currency="USD",
        api_key="k-cli", at=NOW,
    )  # fmt: skip
    smtp.mailbox.refuse_recipients["ana@example.com"] = "550 No such user"
    await services.desk.intake(business, new_booking(), PAGE)
    await services.dispatcher.run_once()
    [failed] = await services.outbox.listing([DeliveryStatus.FAILED])
    await services.aclose()

    listed = await asyncio.to_thread(run, env, tmp_path, "outbox")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert [r[:5] for r in rows] == [
        [str(failed.id), "created", "ana@example.com", "failed", "1"],
    ]
    assert rows[0][5].startswith("550")
    retried = await asyncio.to_thread(run, env, tmp_path, "outbox", "retry", str(failed.id))
    assert retried.returncode == 0 and f"Delivery {failed.id} queued again" in retried.stdout
    again = await asyncio.to_thread(run, env, tmp_path, "outbox", "retry", str(failed.id))
    assert again.returncode == 2 and "No failed delivery" in again.stderr
    assert "\tpending\t" in (await asyncio.to_thread(run, env, tmp_path, "outbox")).stdout


def test_link_code_prints_one_json_object_and_stores_only_its_digest(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, tmp_path, "migrate")
    run(
        env, tmp_path, "business", "add", "--name", "Plum", "--timezone", "UTC",
        "--owner-email", "o@example.com",
    )  # fmt: skip
    issued = run(env, tmp_path, "business", "link-code", "1", "--json")
    assert issued.returncode == 0, issued.stderr
    code = json.loads(issued.stdout)["link_code"]
    assert 16 <= len(code) <= 64 and code.replace("-", "").replace("_", "").isalnum()
    assert code not in issued.stderr
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
    assert code.encode() not in stored
    assert hashlib.sha256(code.encode()).hexdigest().encode() in stored
    again = json.loads(run(env, tmp_path, "business", "link-code", "1", "--json").stdout)
    assert again["link_code"] != code
    plain = run(env, tmp_path, "business", "link-code", "1")
    assert "/bookings connect " in plain.stdout and "/start " in plain.stdout
    unknown = run(env, tmp_path, "business", "link-code", "7", "--json")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert "There is no business 7" in unknown.stderr and "Traceback" not in unknown.stderr


def test_an_inkress_secret_is_set_at_add_or_by_update_and_never_printed(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, tmp_path, "migrate")
    added = run(
        env, tmp_path, "business", "add", "--name", "Spa", "--timezone", "America/Jamaica",
        "--owner-email", "o@example.com", "--currency", "JMD", "--inkress-secret", "whsec_first_1",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    updated = run(env, tmp_path, "business", "update", "1", "--inkress-secret", "whsec_second_2")
    assert updated.returncode == 0, updated.stderr
    assert "Inkress secret set" in updated.stdout and "whsec_second_2" not in updated.stdout
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
    assert b"whsec_second_2" in stored
    unknown = run(env, tmp_path, "business", "update", "7", "--inkress-secret", "whsec_third_3")
    assert unknown.returncode == 2 and "There is no business 7" in unknown.stderr
    short = run(env, tmp_path, "business", "update", "1", "--inkress-secret", "x")
    assert short.returncode == 2 and "8 to 200" in short.stderr


def test_serve_with_slack_answers_slack_on_its_port_and_stops_within_ten_seconds(
    env: dict[str, str], tmp_path: Path
) -> None:
    token, secret = "xoxb-1-serve-test-token", "serve-test-signing-secret-1234"
    slack = env | {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": f"http://127.0.0.1:{_free_port()}/api/",  # nothing listens there
        "LOG_LEVEL": "debug",
    }
    run(env, tmp_path, "migrate")
    port = _free_port()
    server = _serve(slack, tmp_path, port, "--console-without-chat")  # Slack: no console
    try:
        base = f"http://127.0.0.1:{port}"
        assert _healthy(base)
        forged = httpx.post(
            f"{base}/slack/events",
            content="command=%2Fbookings&text=CUSTOMER-SECRET",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Slack-Request-Timestamp": str(int(time.time())),
                     "X-Slack-Signature": "v0=" + "0" * 64},
        )  # fmt: skip
        assert forged.status_code == 401
    finally:
        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=15)
    assert server.returncode == 0 and time.monotonic() - stopping < 10
    logged = out + err
    assert "serve.chat" in logged and "platform=slack" in logged
    for secret_text in (token, secret, "CUSTOMER-SECRET"):
        assert secret_text not in logged
