"""One way to reach the database: each unit of work is one transaction, run off the event loop.

Storage code is plain synchronous SQLAlchemy on a `Connection`, handed whole to
`Database.read` or `Database.write`:

- SQLite: the transaction runs on a thread with the standard `sqlite3` driver — one hand-over
  per transaction. Through aiosqlite every statement, fetch and commit was its own hand-over
  between threads; measured on intake, that made a booking cost 6.6 ms of CPU where the same
  statements on a thread cost a fraction of it (README, Benchmarks). Writes go to a single
  writer thread, so writers of one process queue in order instead of sleeping in SQLite's busy
  handler; other processes (a second console) still wait on `BEGIN IMMEDIATE` + busy_timeout.
- PostgreSQL: the same code runs on asyncpg through SQLAlchemy's greenlet bridge (`run_sync`):
  no threads, and the loop is never blocked.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")
Work = Callable[[Connection], T]

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_READERS = 4
_READ_ONLY = "juneplum_read_only"


def driver_url(url: str) -> URL:
    """The URL people paste, with our driver: sqlite:/// -> sqlite3, postgresql:// -> asyncpg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("SQLite needs a file: sqlite:///path/to/file.db")
        return parsed.set(drivername="sqlite+pysqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


class Database(ABC):
    """Runs units of work as transactions: `read` sees one snapshot, `write` commits or not."""

    dialect: str

    @abstractmethod
    async def read(self, work: Work[T]) -> T:
        """Run `work` in a read-only transaction."""

    @abstractmethod
    async def write(self, work: Work[T]) -> T:
        """Run `work` in a write transaction; it commits when `work` returns, else rolls back."""

    @abstractmethod
    async def dispose(self) -> None:
        """Finish the work in flight and close every connection."""


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, url: URL) -> None:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        self._engine = _sqlite_engine(url)
        self._reader = self._engine.execution_options(**{_READ_ONLY: True})
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_threads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="sqlite-read")

    async def read(self, work: Work[T]) -> T:
        return await _on_thread(self._reader_threads, _run, self._reader, work)

    async def write(self, work: Work[T]) -> T:
        return await _on_thread(self._writer_thread, _run_and_commit, self._engine, work)

    async def dispose(self) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._writer_thread.shutdown(wait=True)
        self._reader_threads.shutdown(wait=True)
        self._engine.dispose()


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: URL) -> None:
        # asyncpg prepares every statement; PostgreSQL's generic plan for a LIKE on a bound
        # term scans the trigram index for short terms (700 ms measured); a custom plan per
        # call picks the business index instead.
        self._engine: AsyncEngine = create_async_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
        )

    async def read(self, work: Work[T]) -> T:
        async with self._engine.connect() as conn:
            return await conn.run_sync(work)

    async def write(self, work: Work[T]) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(work)

    async def dispose(self) -> None:
        await self._engine.dispose()


def open_database(url: str) -> Database:
    """The database behind a plain URL (see `driver_url`)."""
    target = driver_url(url)
    if target.get_backend_name() == "sqlite":
        return SqliteDatabase(target)
    return PostgresDatabase(target)


async def _on_thread(
    threads: ThreadPoolExecutor, run: Callable[[Engine, Work[T]], T], engine: Engine, work: Work[T]
) -> T:
    return await asyncio.get_running_loop().run_in_executor(threads, run, engine, work)


def _run(engine: Engine, work: Work[T]) -> T:
    with engine.connect() as conn:
        return work(conn)


def _run_and_commit(engine: Engine, work: Work[T]) -> T:
    with engine.begin() as conn:
        return work(conn)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_sync_engine(url, hide_parameters=True, pool_size=SQLITE_READERS + 2)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit one is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front and wait for it (busy_timeout) instead of failing
        # with "database is locked" when a read transaction tries to upgrade; readers in WAL
        # mode never block and use a deferred BEGIN.
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
