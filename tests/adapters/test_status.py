"""`juneplum status`: what an operator checks before trusting the desk, as a real process."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bot.app import build_services
from bot.settings import Settings
from core.clock import FixedClock
from storage import migrate
from tests.adapters.test_cli import run
from tests.conftest import NOW, PAGE, new_booking


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HTTP_"))}
    return clean | {"DATABASE_URL": f"sqlite:///{tmp_path / 'status.db'}"}


def test_a_fresh_desk_is_ready(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, tmp_path, "migrate").returncode == 0
    shown = run(env, tmp_path, "status")
    assert shown.returncode == 0, shown.stderr
    lines = dict(line.split(maxsplit=1) for line in shown.stdout.splitlines())
    assert lines["database"].startswith("ok (schema ")
    assert lines["mail"] == "0 due; none failed"
    assert lines["sender"] == lines["reminders"] == "keeping up"


async def test_mail_and_reminders_left_waiting_say_the_jobs_are_behind(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=env["DATABASE_URL"], _env_file=None)
    # Booked days ago (the suite's fixed "now"), and no `juneplum serve` since.
    services = build_services(settings, clock=FixedClock(NOW))
    await migrate.upgrade(services.db)
    business = await services.businesses.add(
        name="Plum", timezone="UTC", owner_email="owner@plum.example", currency="USD",
        api_key="k-status", at=NOW,
    )  # fmt: skip
    await services.desk.intake(business, new_booking(), PAGE)
    await services.aclose()

    shown = await asyncio.to_thread(run, env, tmp_path, "status", "--json")
    assert shown.returncode == 1
    report = json.loads(shown.stdout)
    assert report["ready"] is False
    assert report["schema"]["current"] is True
    assert report["mail"]["due"] == 2  # the customer's and the owner's
    assert report["mail"]["oldest_due_seconds"] > 24 * 3600
    assert report["jobs"]["sender"]["keeping_up"] is False
    assert report["jobs"]["reminders"]["keeping_up"] is False
    said = await asyncio.to_thread(run, env, tmp_path, "status")
    assert "behind: an email has waited" in said.stdout
    assert "is `juneplum serve` running?" in said.stdout


def test_a_schema_behind_the_code_says_to_migrate(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    assert run(env, tmp_path, "migrate").returncode == 0
    settings = Settings(database_url=env["DATABASE_URL"], _env_file=None)

    async def downgrade() -> None:
        services = build_services(settings)
        from alembic import command

        await services.db.write(
            lambda conn: command.downgrade(migrate.alembic_config(conn), "0004")
        )
        await services.aclose()

    asyncio.run(downgrade())
    shown = run(env, tmp_path, "status")
    assert shown.returncode == 1
    assert "schema 0004, this version needs" in shown.stdout
    assert "run `juneplum migrate`" in shown.stdout
