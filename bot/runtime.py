"""How every `juneplum` command runs its async work: on uvloop where it is installed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run to completion on a fresh event loop (uvloop: its sockets cost a fraction of
    asyncio's per request, which the intake benchmark measures)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not built for this platform (Windows)
        return None
    return uvloop.new_event_loop
