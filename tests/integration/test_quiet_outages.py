"""Through a database outage the background jobs say it once and carry on; a wrong SMTP
password is said once, at error level, and shown where the operator looks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.app import build_services
from bot.mail.transport import SmtpTransport
from bot.readiness import readiness
from bot.settings import Settings
from core.clock import FixedClock
from core.notifications import DeliveryStatus
from storage import migrate
from tests.conftest import PAGE, _plum_salon, _truncate, new_booking
from tests.smtp_server import SmtpServer
from tests.tcp_proxy import TcpProxy

START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


async def test_a_postgresql_outage_is_one_warning_per_job_and_one_line_when_it_ends(
    postgres_url: str,
    clock: FixedClock,
    tmp_path: Path,
    smtp: SmtpServer,
    process_logs: Callable[[], None],
    capfd: pytest.CaptureFixture[str],
) -> None:
    process_logs()
    await _truncate(postgres_url)
    server = make_url(postgres_url)
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await proxy.open()
    settings = Settings(
        database_url=server.set(port=proxy.port).render_as_string(hide_password=False),
        mail_poll_seconds=0.05,
        reminder_sweep_seconds=0.05,
        _env_file=None,
    )
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port, tls="none")
    services = build_services(settings, clock=clock, transport=transport)
    try:
        business = await _plum_salon(services)
        services.background.start()
        await asyncio.sleep(0.3)
        await proxy.close()
        await asyncio.sleep(1.0)  # some 20 runs of each job meet the outage
        await proxy.open()
        # booked while the jobs recover: its mail goes out once they are back
        await services.desk.intake(business, new_booking(start=START), PAGE)
        for _ in range(100):
            if len(smtp.mailbox.messages) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await services.background.stop()
        await services.aclose()
        await proxy.close()
    assert len(smtp.mailbox.messages) == 2
    err = capfd.readouterr().err
    said = [line for line in err.splitlines() if "database." in line]
    assert sorted(("who=dispatch" in line, "database.unavailable" in line) for line in said) == [
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    ], err
    assert all("failed_attempts=" in line for line in said if "database.back" in line)
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if not line.startswith("INFO mail.log")]
    # the four above, the two mails sent, and each job's one retry on a new connection
    assert len(ours) <= 8, err


async def test_a_wrong_smtp_password_is_one_error_line_and_shown_in_the_outbox(
    postgres_url: str,
    clock: FixedClock,
    tmp_path: Path,
    process_logs: Callable[[], None],
    capfd: pytest.CaptureFixture[str],
) -> None:
    process_logs()
    await _truncate(postgres_url)
    smtp = SmtpServer(credentials=("relay-user", "relay-pass"))
    smtp.start()
    settings = Settings(database_url=postgres_url, _env_file=None)
    wrong = SmtpTransport(
        host="127.0.0.1", port=smtp.port, tls="none", username="relay-user", password="oops-pw"
    )
    services = build_services(settings, clock=clock, transport=wrong)
    try:
        await migrate.upgrade(services.db)
        business = await _plum_salon(services)
        await services.desk.intake(business, new_booking(start=START), PAGE)
        for _ in range(3):  # three rounds of retries, each refused
            await services.dispatcher.run_once()
            clock.advance(minutes=2)
        pending = await services.outbox.listing([DeliveryStatus.PENDING])
        configuration_error = services.dispatcher.configuration_error
        status = dict(
            (await readiness(services, timedelta(minutes=10), timedelta(minutes=10))).lines()
        )
    finally:
        await services.aclose()
        smtp.stop()
    assert [m.attempts for m in pending] == [3, 3]  # kept, retried at the usual pace
    assert all("535 authentication failed" in (m.last_error or "") for m in pending)
    assert configuration_error is not None
    assert "(last error: 535 authentication failed" in status["mail"]  # juneplum status
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if "[error" in line]
    assert len(errors) == 1 and "mail.configuration_error" in errors[0], err
    assert "oops-pw" not in err
