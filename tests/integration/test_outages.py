"""While the database is down or its disk is full, the API answers 503 with Retry-After,
writes nothing, and carries on by itself when the database is back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.api import build_api
from bot.app import Services, build_services
from bot.health import Health
from bot.mail.transport import SmtpTransport
from bot.settings import Settings
from core.clock import FixedClock
from core.notifications import DeliveryStatus
from storage import migrate
from storage.tables import booking_history, bookings, events, intake_keys, outbox
from tests.conftest import PAGE, _migrated, _plum_salon, _truncate, new_booking
from tests.integration.http_server import serving
from tests.smtp_server import SmtpServer
from tests.tcp_proxy import TcpProxy

PLUM = {"Authorization": "Bearer jp_test_key_plum"}


def booking(n: int) -> dict[str, Any]:
    return {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
        "start": "2026-11-26T10:00:00-05:00",
        "payment": {
            "provider": "paypal",
            "transaction_id": f"OUT-{n}",
            "amount": "45.00",
            "currency": "USD",
        },
    }


async def rows(services: Services) -> dict[str, int]:
    tables = (bookings, booking_history, events, intake_keys, outbox)

    def work(conn: Any) -> dict[str, int]:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
        }

    return await services.db.read(work)


@contextlib.asynccontextmanager
async def api_of(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = build_api(
        services.desk,
        services.businesses,
        Health(services.db),
        max_body_bytes=1 << 20,
        payments=services.payments,
    )
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as client,
    ):
        yield client


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert "nothing was saved" in answer.json()["detail"]


async def test_a_postgresql_outage_is_a_503_and_the_api_recovers_by_itself(
    postgres_url: str,
    clock: FixedClock,
    tmp_path: Path,
    process_logs: Callable[[], None],
    capfd: pytest.CaptureFixture[str],
) -> None:
    process_logs()
    await _truncate(postgres_url)
    server = make_url(postgres_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.open()
    through_proxy = server.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        async for services in _migrated(through_proxy, clock, tmp_path):
            await _plum_salon(services)
            async with api_of(services) as api:
                first = await api.post("/api/bookings", json=booking(1), headers=PLUM)
                assert first.status_code == 201
                before = await rows(services)

                await proxy.close()  # connections reset, new ones refused
                health = await api.get("/healthz")
                assert (health.status_code, health.json()) == (
                    503,
                    {"status": "unavailable", "failed": {"database": "unreachable"}},
                )
                for _ in range(3):
                    assert_unavailable(
                        await api.post("/api/bookings", json=booking(2), headers=PLUM)
                    )
                    assert_unavailable(
                        await api.post(f"/api/bookings/{first.json()['id']}/cancel", headers=PLUM)
                    )
                    assert_unavailable(
                        await api.get(f"/api/bookings/{first.json()['id']}", headers=PLUM)
                    )

                await proxy.open()  # the server is back: the same request now succeeds
                again = await api.post("/api/bookings", json=booking(2), headers=PLUM)
                assert again.status_code == 201, again.text
                assert (await api.get("/healthz")).json() == {"status": "ok"}
                after = await rows(services)
    finally:
        await proxy.close()
    # exactly one more booking, with its history, event and mail: nothing half-written
    assert after == {
        name: count + (2 if name == "outbox" else 1) for name, count in before.items()
    } | {"intake_keys": 0}
    # one warning when the outage started, one line when it ended: not one per request
    err = capfd.readouterr().err
    said = [line for line in err.splitlines() if "database." in line]
    assert len(said) == 2, err
    assert "database.unavailable" in said[0] and "reason=unreachable" in said[0]
    assert "database.back" in said[1] and "failed_attempts=9" in said[1]
    assert "Traceback" not in err


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A file system of `size` (a tmpfs mount: needs root)."""
    where.mkdir()
    mounted = subprocess.run(  # noqa: S603
        ["/usr/bin/mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"can't mount a small file system here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["/usr/bin/umount", "-l", str(where)], check=False)  # noqa: S603


def fill(disk: Path) -> Path:
    """Take every free byte of `disk`."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:  # unbuffered: nothing left to fail on close
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
async def test_a_full_disk_is_a_503_and_the_api_carries_on_once_there_is_space(
    clock: FixedClock, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "small", "16m") as disk:
        async for services in _migrated(f"sqlite:///{disk / 'juneplum.db'}", clock, tmp_path):
            await _plum_salon(services)
            async with api_of(services) as api:
                first = await api.post("/api/bookings", json=booking(1), headers=PLUM)
                assert first.status_code == 201
                before = await rows(services)

                filler = fill(disk)
                for _ in range(3):
                    assert_unavailable(
                        await api.post("/api/bookings", json=booking(2), headers=PLUM)
                    )
                # reads go on, and nothing of the refused bookings was written
                shown = await api.get(f"/api/bookings/{first.json()['id']}", headers=PLUM)
                assert shown.status_code == 200
                assert await rows(services) == before

                filler.unlink()  # space again: the same request now succeeds
                again = await api.post("/api/bookings", json=booking(2), headers=PLUM)
                assert again.status_code == 201, again.text
                assert (await rows(services))["bookings"] == before["bookings"] + 1


async def test_health_is_503_when_postgresql_stops_answering_and_ok_when_it_answers_again(
    postgres_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    server = make_url(postgres_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.open()
    through_proxy = server.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        async for services in _migrated(through_proxy, clock, tmp_path):
            async with api_of(services) as api:
                assert (await api.get("/healthz")).status_code == 200
                proxy.stall()  # connected, but nothing comes back
                started = time.monotonic()
                health = await api.get("/healthz")
                assert time.monotonic() - started < 3
                assert (health.status_code, health.json()) == (
                    503,
                    {"status": "unavailable", "failed": {"database": "no answer within 1 s"}},
                )
                proxy.resume()
                for _ in range(50):  # the stalled read finishes or is dropped; then ok
                    if (await api.get("/healthz")).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("/healthz never recovered")
    finally:
        await proxy.close()


async def test_health_is_503_naming_the_schema_when_migrations_are_missing(
    clock: FixedClock, tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}", _env_file=None)
    services = build_services(settings, clock=clock)
    try:
        async with api_of(services) as api:
            never = await api.get("/healthz")
            await migrate.upgrade(services.db, "0004")  # an older version's schema
            behind = await api.get("/healthz")
            await migrate.upgrade(services.db)
            current = await api.get("/healthz")
    finally:
        await services.aclose()
    assert (never.status_code, never.json()["failed"]) == (
        503,
        {"schema": "not migrated: run `juneplum migrate`"},
    )
    assert (behind.status_code, behind.json()["failed"]) == (
        503,
        {"schema": "not at this version's: run `juneplum migrate`"},
    )
    assert (current.status_code, current.json()) == (200, {"status": "ok"})


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
async def test_a_full_disk_never_doubles_an_email_whose_sent_mark_could_not_be_written(
    clock: FixedClock, tmp_path: Path, smtp: SmtpServer
) -> None:
    with small_disk(tmp_path / "small", "16m") as disk:
        settings = Settings(database_url=f"sqlite:///{disk / 'juneplum.db'}", _env_file=None)
        transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none")
        services = build_services(settings, clock=clock, transport=transport)
        try:
            await migrate.upgrade(services.db)
            business = await _plum_salon(services)
            await services.desk.intake(business, new_booking(), PAGE)
            filled: list[Path] = []

            def fill_once() -> None:  # the disk fills as the SMTP server accepts an email
                if not filled:
                    filled.append(disk / "filler")
                    fill(disk)

            smtp.mailbox.on_accept = fill_once
            with contextlib.suppress(OperationalError):  # the database is full, as it says
                await services.dispatcher.run_once()  # both sent; neither mark written
            assert len(smtp.mailbox.messages) == 2
            for _ in range(3):  # the claims' lease runs out, and out again: still full
                clock.advance(seconds=40)
                with contextlib.suppress(OperationalError):
                    await services.dispatcher.run_once()
            filled[0].unlink()  # space again
            clock.advance(seconds=40)
            await services.dispatcher.run_once()
            await services.dispatcher.run_once()
            sent = await services.outbox.listing([DeliveryStatus.SENT])
            waiting = await services.outbox.listing([DeliveryStatus.PENDING])
        finally:
            await services.aclose()
    assert len(smtp.mailbox.messages) == 2  # each email once
    assert (len(sent), waiting) == (2, [])
