"""Engines from the URLs people paste, with SQLite set up for concurrent writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

READ_ONLY = "juneplum_read_only"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def async_url(url: str) -> URL:
    """Pick the async driver for a plain URL: sqlite:/// -> aiosqlite, postgresql:// -> asyncpg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL and write transactions that take the lock up front."""
    target = async_url(url)
    if target.get_backend_name() == "postgresql":
        # asyncpg prepares every statement; PostgreSQL's generic plan for a LIKE on a bound
        # term scans the trigram index for short terms (700 ms measured); a custom plan per
        # call picks the business index instead.
        return create_async_engine(
            target,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
            **kwargs,
        )
    if target.database and target.database != ":memory:":
        Path(target.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target, hide_parameters=True, **kwargs)
    _sqlite_tuning(engine)
    return engine


def _sqlite_tuning(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit one is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front and wait for it (busy_timeout) instead of failing
        # with "database is locked" when a read transaction tries to upgrade; readers in WAL
        # mode never block and use a deferred BEGIN.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
