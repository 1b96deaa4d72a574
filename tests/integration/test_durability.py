"""An acknowledged booking is on disk before its answer: SQLite syncs each group commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from sqlalchemy import Connection, text

from bot.api import build_api
from bot.app import Services, build_services
from bot.health import Health
from bot.settings import Settings
from core.clock import FixedClock
from storage import migrate
from tests.conftest import _plum_salon
from tests.integration.http_server import serving
from tests.page_cache import NoCachestat, cached_pages

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


async def _sqlite(
    tmp_path: Path, clock: FixedClock, synchronous: Literal["full", "normal"] | None
) -> AsyncIterator[Services]:
    chosen = {} if synchronous is None else {"sqlite_synchronous": synchronous}
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'durable.db'}",
        mail_dir=tmp_path / "mail",
        _env_file=None,
        **chosen,  # type: ignore[arg-type]
    )
    services = build_services(settings, clock=clock)
    await migrate.upgrade(services.db)
    try:
        yield services
    finally:
        await services.aclose()


def _synchronous(conn: Connection) -> int:
    return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


async def test_every_connection_that_commits_syncs_by_default(
    tmp_path: Path, clock: FixedClock
) -> None:
    async for services in _sqlite(tmp_path, clock, None):
        # The loop's own writer, and the thread that takes writes from another event loop
        # (and those that must wait for another process's lock): the work runs on the very
        # connection that then commits.
        on_the_loop = await services.db.write(_synchronous)
        on_the_thread = await asyncio.to_thread(asyncio.run, services.db.write(_synchronous))
        assert (on_the_loop, on_the_thread) == (FULL, FULL)


async def test_an_operator_may_choose_normal_sync(tmp_path: Path, clock: FixedClock) -> None:
    async for services in _sqlite(tmp_path, clock, "normal"):
        assert await services.db.write(_synchronous) == NORMAL
        assert await asyncio.to_thread(asyncio.run, services.db.write(_synchronous)) == NORMAL


@pytest.mark.parametrize("synchronous", ["full", "normal"])
async def test_each_acknowledged_booking_is_on_disk_before_its_answer(
    tmp_path: Path, clock: FixedClock, synchronous: Literal["full", "normal"]
) -> None:
    if not _on_a_disk(tmp_path):
        pytest.skip(f"{tmp_path} is in memory (tmpfs): nothing there is ever on a disk")
    async for services in _sqlite(tmp_path, clock, synchronous):
        await _plum_salon(services)
        database = Path(services.settings.database_url.removeprefix("sqlite:///"))
        app = build_api(
            services.desk,
            services.businesses,
            Health(services.db),
            max_body_bytes=1 << 20,
            payments=services.payments,
        )
        unsynced: list[int] = []
        async with serving(app) as url, httpx.AsyncClient(base_url=url, trust_env=False) as api:
            for n in range(20):  # one at a time: each answer is looked at alone
                answer = await api.post(
                    "/api/bookings",
                    json=_booking(n),
                    headers={"Authorization": "Bearer jp_test_key_plum"},
                )
                assert answer.status_code == 201, answer.text
                try:
                    pages = [cached_pages(database), cached_pages(Path(f"{database}-wal"))]
                except NoCachestat as exc:
                    pytest.skip(f"the kernel can't count a file's dirty pages: {exc}")
                unsynced.append(sum(p.unsynced for p in pages))
        if synchronous == "full":
            assert unsynced == [0] * 20  # every 201 came after its booking reached the disk
        else:  # the risk SQLITE_SYNCHRONOUS=normal takes: a power cut now would lose them
            assert all(n > 0 for n in unsynced)


def _booking(n: int) -> dict[str, object]:
    return {
        "customer": {"name": "Ana Silva", "email": "ana@example.com"},
        "service": {"name": "Haircut", "duration_minutes": 45, "price": "45.00"},
        "start": "2026-11-26T10:00:00-05:00",
        "payment": {
            "provider": "paypal",
            "transaction_id": f"SYNC-{n}",
            "amount": "45.00",
            "currency": "USD",
        },
    }


def _on_a_disk(path: Path) -> bool:
    """Whether `path` is on a file system that writes to a disk (not tmpfs or ramfs)."""
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    resolved = str(path.resolve())
    found = max(
        (m for m in mounts if resolved == m[1] or resolved.startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
    )
    return found[2] not in ("tmpfs", "ramfs")
