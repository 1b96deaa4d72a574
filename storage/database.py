"""One way to reach the database: each unit of work is one transaction, run off the event loop.

Storage code is plain synchronous SQLAlchemy on a `Connection`, handed whole to
`Database.read` or `Database.write`:

- SQLite: the transaction runs on a thread with the standard `sqlite3` driver — one hand-over
  per transaction. Through aiosqlite every statement, fetch and commit was its own hand-over
  between threads; measured on intake, that made a booking cost 6.6 ms of CPU where the same
  statements on a thread cost a fraction of it (README, Benchmarks). Writes go to one writer
  thread that commits whatever is queued together (group commit, see `_Writer`), so writers
  of one process queue in order instead of sleeping in SQLite's busy handler; other processes
  (a second console) still wait on `BEGIN IMMEDIATE` + busy_timeout.
- PostgreSQL: the same code runs on asyncpg through SQLAlchemy's greenlet bridge (`run_sync`):
  no threads, and the loop is never blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of work
Work = Callable[[Connection], T]
WorkMany = Callable[[Connection, list[I]], list[T]]

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

    async def write_many(self, work: WorkMany[I, T], item: I) -> T:
        """Like `write`, for work that can be done for several callers in one go: `work` maps
        a list of items to their results, and concurrent calls with the same `work` may share
        one call, and one transaction (on SQLite; elsewhere each call is its own)."""
        return await self.write(lambda conn: _only(work(conn, [item])))

    @abstractmethod
    async def dispose(self) -> None:
        """Finish the work in flight and close every connection."""


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, url: URL) -> None:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        self._engine = _sqlite_engine(url)
        self._reader = self._engine.execution_options(**{_READ_ONLY: True})
        self._writer = _Writer(self._engine)
        self._reader_threads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="sqlite-read")

    async def read(self, work: Work[T]) -> T:
        return await _on_thread(self._reader_threads, _run, self._reader, work)

    async def write(self, work: Work[T]) -> T:
        return await self._writer.submit(_each, work)

    async def write_many(self, work: WorkMany[I, T], item: I) -> T:
        return await self._writer.submit(work, item)

    async def dispose(self) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._writer.stop()
        self._reader_threads.shutdown(wait=True)
        self._engine.dispose()


@dataclass
class _Unit(Generic[I, T]):
    work: WorkMany[I, T]
    item: I
    future: asyncio.Future[T]
    outcome: tuple[bool, Any] = (False, None)  # (failed, result or exception)


class _Writer:
    """The one thread that writes, committing everything queued at once (group commit).

    Under load, units of work queue while a transaction commits; the next transaction takes
    them all (up to `MAX_BATCH`) and commits once, so a booking doesn't pay for its own
    BEGIN, COMMIT and thread hand-over; neighbouring units of the same `write_many` work run
    as one call (one multi-row INSERT for several bookings, say). Units run in order, each
    seeing the ones before it, exactly as if committed one by one. If any of them fails (a
    repeat caught by a unique constraint, say), the whole transaction rolls back and each
    unit runs again in its own, so a failure reaches only the caller it belongs to. A caller
    hears back only once its transaction has committed. When nothing else is queued, a unit
    commits alone at once. Measured on intake: batches of 3 to 8 under 8 concurrent clients.
    """

    MAX_BATCH = 64

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Unit[Any, Any] | None] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def submit(self, work: WorkMany[I, T], item: I) -> T:
        if self._stopped:
            raise RuntimeError("the database is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Unit(work, item, future))
        return await future

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        self._stopped = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, last = [first], False
            while len(batch) < self.MAX_BATCH:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    last = True
                    break
                batch.append(unit)
            self._commit([u for u in batch if not u.future.cancelled()])
            _deliver_soon(batch)
            if last:
                return

    def _commit(self, batch: list[_Unit[Any, Any]]) -> None:
        if len(batch) > 1:
            try:
                with self._engine.begin() as conn:
                    results = [r for run in _runs(batch) for r in _work_for(run)(conn)]
            except Exception:  # noqa: S110 - each unit runs again alone, below
                pass
            else:
                for unit, result in zip(batch, results, strict=True):
                    unit.outcome = (False, result)
                return
        for unit in batch:
            try:
                unit.outcome = (False, _only(_run_and_commit(self._engine, _work_for([unit]))))
            except Exception as exc:
                unit.outcome = (True, exc)


def _runs(batch: list[_Unit[Any, Any]]) -> list[list[_Unit[Any, Any]]]:
    """Neighbouring units of the same work, in order: each run is one call."""
    runs: list[list[_Unit[Any, Any]]] = []
    for unit in batch:
        if runs and runs[-1][0].work == unit.work:
            runs[-1].append(unit)
        else:
            runs.append([unit])
    return runs


def _work_for(run: list[_Unit[Any, Any]]) -> Work[list[Any]]:
    def work(conn: Connection) -> list[Any]:
        results = run[0].work(conn, [unit.item for unit in run])
        if len(results) != len(run):
            raise RuntimeError(f"{run[0].work!r} gave {len(results)} results for {len(run)}")
        return results

    return work


def _each(conn: Connection, works: list[Work[T]]) -> list[T]:
    """Plain units of work, one after another."""
    return [work(conn) for work in works]


def _only(results: list[T]) -> T:
    (result,) = results
    return result


def _deliver_soon(batch: list[_Unit[Any, Any]]) -> None:
    """Hand each outcome to its caller's event loop: one wake-up per loop, not per unit."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Unit[Any, Any]]] = {}
    for unit in batch:
        by_loop.setdefault(unit.future.get_loop(), []).append(unit)
    for loop, units in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that event loop has closed
            loop.call_soon_threadsafe(_deliver, units)


def _deliver(units: list[_Unit[Any, Any]]) -> None:
    for unit in units:
        if unit.future.done():  # the caller was cancelled; its work ran all the same
            continue
        failed, value = unit.outcome
        if failed:
            unit.future.set_exception(value)
        else:
            unit.future.set_result(value)


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
