"""Rows that rarely change, remembered for a while so hot paths skip a round trip."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Values remembered for `ttl_seconds` (at most `size`; past that, all are forgotten).

    Nothing edits a business or its key yet; when something does, the ttl is how long
    another process may still see the old one.
    """

    def __init__(self, ttl_seconds: float = 60.0, size: int = 4096) -> None:
        self._ttl = ttl_seconds
        self._size = size
        self._known: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._known.get(key)
        if hit is None or time.monotonic() - hit[0] >= self._ttl:
            return None
        return hit[1]

    def put(self, key: K, value: V) -> None:
        if len(self._known) >= self._size:
            self._known.clear()
        self._known[key] = (time.monotonic(), value)
