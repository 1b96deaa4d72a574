"""`juneplum backup PATH`: a consistent copy while the service writes, never over a file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from bot.app import build_services
from bot.settings import Settings
from core.clock import FixedClock
from storage import migrate
from tests.adapters.test_cli import run
from tests.conftest import NOW, PAGE, _plum_salon, new_booking


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HTTP_"))}
    return clean | {"DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}"}


def bookings_in(path: Path) -> int:
    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(copy.execute("SELECT count(*) FROM bookings").fetchone()[0])
    finally:
        copy.close()


async def test_a_backup_taken_while_bookings_arrive_is_whole_and_consistent(
    env: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings(database_url=env["DATABASE_URL"], _env_file=None)
    services = build_services(settings, clock=FixedClock(NOW))
    await migrate.upgrade(services.db)
    business = await _plum_salon(services)
    for n in range(50):
        await services.desk.intake(business, new_booking(txn=f"B-{n}"), PAGE)
    writing = True

    async def keep_booking() -> int:
        n = 50
        while writing:
            await services.desk.intake(business, new_booking(txn=f"B-{n}"), PAGE)
            n += 1
        return n

    writer = asyncio.create_task(keep_booking())
    try:
        made = await asyncio.to_thread(run, env, tmp_path, "backup", str(tmp_path / "copy.db"))
    finally:
        writing = False
        total = await writer
        await services.aclose()
    assert made.returncode == 0, made.stderr
    assert "Backed up" in made.stderr
    assert 50 <= bookings_in(tmp_path / "copy.db") <= total
    left = await asyncio.to_thread(os.listdir, tmp_path)
    assert [name for name in left if ".partial" in name] == []


def test_a_backup_never_overwrites_a_file(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, tmp_path, "migrate").returncode == 0
    there = tmp_path / "precious.db"
    there.write_bytes(b"keep me")
    refused = run(env, tmp_path, "backup", str(there))
    assert refused.returncode == 2
    assert "never overwrites" in refused.stderr
    assert there.read_bytes() == b"keep me"


def test_on_postgresql_backup_explains_pg_dump_without_the_password(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = "postgresql://juneplum:s3cret-pw@db.internal:5432/juneplum"
    said = run(env | {"DATABASE_URL": url}, tmp_path, "backup", str(tmp_path / "x.dump"))
    assert said.returncode == 2
    assert "pg_dump --format=custom" in said.stderr
    assert "s3cret-pw" not in said.stderr + said.stdout
    assert not (tmp_path / "x.dump").exists()
