"""How busy and how fast the machine was: shared machines drift, and every figure with them."""

from __future__ import annotations

import hashlib
import os
import time


def load_average() -> str:
    """Other work on the machine skews every figure: print how busy it was."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def speed_reference() -> float:
    """Milliseconds for a fixed piece of Python and hashing (best of five; lower is faster).

    Printed before and after a run: on the shared development machine the same code ran up
    to twice as fast in one hour as in another, so a figure means little without it.
    """
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        digest = b""
        total = 0
        for n in range(200_000):
            total += n * n % 7
        for _ in range(2_000):
            digest = hashlib.sha256(digest + b"juneplum").digest()
        best = min(best, time.perf_counter() - started)
    return best * 1000
