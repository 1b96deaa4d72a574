"""What /healthz tells a load balancer: the truth, cheaply, and nothing an attacker can use."""

from __future__ import annotations

import asyncio
from typing import Any

from bot import logs
from storage import migrate
from storage.database import Database, outage

log = logs.get("bot.health")

READ_WITHIN_S = 1.0


class Health:
    """Healthy when the database answers a read within a second and its schema is the one
    this code was written for (a database left behind by a skipped `juneplum migrate`
    would fail requests one by one)."""

    def __init__(self, db: Database, *, read_within_s: float = READ_WITHIN_S) -> None:
        self._db = db
        self._within = read_within_s
        self._head = migrate.head()
        self._late: set[asyncio.Future[str | None]] = set()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the answer's body): `{"status": "ok"}`, or the failed check named."""
        reading = asyncio.ensure_future(migrate.current(self._db))
        done, _ = await asyncio.wait({reading}, timeout=self._within)
        if not done:  # let it end in its own time: cancelling may wait on the server too
            reading.cancel()
            self._late.add(reading)
            reading.add_done_callback(self._forget)
            return self._failed("database", f"no answer within {self._within:g} s")
        try:
            revision = reading.result()
        except Exception as exc:
            reason = outage(exc) or "unexpected error"
            if reason == "unexpected error":
                log.error("health.unexpected", error=type(exc).__name__)
            return self._failed("database", reason)
        if revision is None:
            return self._failed("schema", "not migrated: run `juneplum migrate`")
        if revision != self._head:
            return self._failed("schema", "not at this version's: run `juneplum migrate`")
        return True, {"status": "ok"}

    def _forget(self, reading: asyncio.Future[str | None]) -> None:
        self._late.discard(reading)
        if not reading.cancelled():
            reading.exception()  # retrieved: it was answered already

    def _failed(self, check: str, why: str) -> tuple[bool, dict[str, Any]]:
        return False, {"status": "unavailable", "failed": {check: why}}
