"""A database outage, logged as an operator wants to read it: one warning when it starts, one
line when it ends with how many attempts failed meanwhile, nothing in between.

Each user (a background job, the API) keeps its own, so each says once that it is waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot import logs

log = logs.get("bot.outages")


class Outage:
    """What one user of the database has seen of an outage; `failed` and `worked` after
    each attempt."""

    def __init__(self, who: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.who = who
        self.reason: str | None = None  # None: no outage
        self.failures = 0
        self._clock = clock
        self._since = 0.0

    @property
    def down(self) -> bool:
        return self.reason is not None

    def failed(self, reason: str) -> None:
        """An attempt met an outage: a warning if it is the first, otherwise only counted."""
        self.failures += 1
        if self.reason is None:
            self.reason, self._since = reason, self._clock()
            log.warning("database.unavailable", who=self.who, reason=reason)

    def worked(self) -> None:
        """An attempt reached the database: the outage, if any, is over."""
        if self.reason is None:
            return
        log.warning(
            "database.back",
            who=self.who,
            reason=self.reason,
            failed_attempts=self.failures,
            seconds=round(self._clock() - self._since, 1),
        )
        self.reason, self.failures = None, 0
