"""Structured logs on standard error: one line per event, never a secret."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure(level: str = "info", fmt: str = "console", stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logs to stderr (or `stream`), keeping stdout for --json output."""
    stream = stream or sys.stderr
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=numeric, stream=stream, format="%(levelname)s %(name)s %(message)s", force=True
    )
    for noisy in ("uvicorn.access", "asyncio", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    # A run skipped because the last one is still going (a slow send, a database that
    # doesn't answer) is a warning a second; the jobs log their own trouble once.
    logging.getLogger("apscheduler").setLevel(max(numeric, logging.ERROR))


def get(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
