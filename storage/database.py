"""One way to reach the database: each write is one transaction, off the event loop's way.

Storage code is plain synchronous SQLAlchemy on a `Connection`, handed whole to
`Database.read` or `Database.write`:

- SQLite: reads run whole on threads with the standard `sqlite3` driver (through aiosqlite
  every statement, fetch and commit was its own hand-over between threads: 6.6 ms of CPU
  per booking at intake). Writes run on the event loop's own thread, several callers' work
  to one transaction (group commit), and never wait there for a lock: see `SqliteDatabase`.
- PostgreSQL: the same code runs on asyncpg through SQLAlchemy's greenlet bridge (`run_sync`):
  no threads, and the loop is never blocked; reads run in autocommit: see `PostgresDatabase`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.writes import Guarded, one_statement, rows_were_missing, run_guarded

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of work
Work = Callable[[Connection], T]
WorkMany = Callable[[Connection, list[I]], list[T]]

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# FULL: a commit syncs the write-ahead log before it returns, so an acknowledged write
# survives a power cut. NORMAL syncs only at checkpoints (a power cut can lose the last
# commits, never corrupt the file): an operator's choice, SQLITE_SYNCHRONOUS=normal.
SqliteSync = Literal["full", "normal"]
SQLITE_READERS = 4
PG_POOL_SIZE = 20  # connections kept per process (see PostgresDatabase)
PG_POOL_OVERFLOW = 10
MAX_BATCH = 64  # units of work in one SQLite transaction
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
    """Runs units of work: each write as one transaction.

    A unit of work may run more than once (SQLite's group commit runs it again, in a
    savepoint, if a neighbour in its transaction failed; PostgreSQL runs it again on a new
    connection if its own was dead), so it must do nothing outside the database.
    """

    dialect: str

    @abstractmethod
    async def read(self, work: Work[T]) -> T:
        """Run `work` without writing. On PostgreSQL each statement sees what was committed
        when it started (autocommit), as under READ COMMITTED: one statement, one snapshot."""

    @abstractmethod
    async def write(self, work: Work[T]) -> T:
        """Run `work` in a write transaction; it returns once its changes are committed, or
        raises what `work` raised, and then nothing of it was written."""

    async def write_many(self, work: WorkMany[I, T], item: I) -> T:
        """Like `write`, for work that can be done for several callers in one go: `work` maps
        a list of items to their results, and concurrent calls with the same `work` may share
        one call, and one transaction (on SQLite; elsewhere each call is its own)."""
        return await self.write(lambda conn: _only(work(conn, [item])))

    async def write_guarded(self, change: Guarded) -> bool:
        """Apply a guarded change (see `storage.writes`) as one transaction; whether its
        guard changed a row. Nothing is written when it didn't."""
        return await self.write(lambda conn: run_guarded(conn, change))

    @abstractmethod
    async def dispose(self) -> None:
        """Finish the work in flight and close every connection."""


class SqliteDatabase(Database):
    """SQLite: writes on the event loop's thread, a few at a time; reads on threads.

    Why not a writer thread: measured on intake, every statement's hand-back of the GIL
    from a writer thread to a busy event loop cost more than the statements themselves
    (group commit on a thread: ~430 bookings/s; here: ~540/s, 20% less CPU per booking).
    Durable by default: with synchronous=FULL each group commit syncs the WAL before any of
    its callers is answered (one sync for every write that arrived together; ~0.6 ms on
    this machine's disk, which the loop waits out). With `synchronous="normal"` a commit
    only appends to the WAL and a power cut can lose the last ones. Checkpoints run on a
    thread of their own (`_checkpoint_soon`), and the loop never waits for a lock: its
    connection has no busy timeout, and when another process holds the write lock (a second
    console, `juneplum migrate`) the work goes to a writer thread that waits for it instead.
    (Reading a page the OS hasn't cached still reads the disk, as any SQLite access does.)
    """

    dialect = "sqlite"
    # When to checkpoint: after CHECKPOINT_EVERY transactions on the loop or CHECKPOINT_UNITS
    # units of work, whichever comes first. A page written again before the next checkpoint
    # (an index's last leaf, the search tables' newest segment) is copied to the database
    # once, so fewer checkpoints cost less: 200 transactions took ~20% less CPU per booking
    # than 50. The log grows by ~30 pages (120 kB) per lone booking and less per booking in
    # a batch, so either limit holds it near 25 MB (SQLite's own default is 4 MB, but it
    # checkpoints inside the commit that crosses it, on the loop).
    CHECKPOINT_EVERY = 200
    CHECKPOINT_UNITS = 800

    def __init__(self, url: URL, *, synchronous: SqliteSync = "full") -> None:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        self.synchronous = synchronous
        self._engine = _sqlite_engine(
            url, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS, synchronous=synchronous
        )
        self._reader = self._engine.execution_options(**{_READ_ONLY: True})
        self._reader_threads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="sqlite-read")
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        self._loop_writer = _sqlite_engine(
            url, busy_timeout_ms=0, synchronous=synchronous, checkpoints=False, pool_size=1
        )
        self._waiting_writer = _Writer(self._engine)
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop whose thread writes
        self._pending: list[_Unit[Any, Any]] = []
        self._commits = 0
        self._units = 0
        self._checkpointing = False
        self._closed = False

    async def read(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_threads, _run, self._reader, work)

    async def write(self, work: Work[T]) -> T:
        return await self.write_many(_each, work)

    async def write_many(self, work: WorkMany[I, T], item: I) -> T:
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        unit = _Unit(work, item, future)
        if self._loop is None:
            self._loop = loop
        if loop is not self._loop:  # another loop (a test's, a thread's): its own thread writes
            self._waiting_writer.take([unit])
            return await future
        if not self._pending:
            loop.call_soon(self._flush)  # after the callbacks already due: they may add more
        self._pending.append(unit)
        return await future

    def _flush(self) -> None:
        if self._checkpointing:  # writes wait for it, so the log starts over after (see below)
            return
        batch = [u for u in self._pending[:MAX_BATCH] if not u.future.cancelled()]
        self._pending = self._pending[MAX_BATCH:]
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        if not batch:
            return
        if self._waiting_writer.busy:  # keep order behind work already waiting for the lock
            self._waiting_writer.take(batch)
            return
        left = _commit(self._loop_writer, batch, give_up_when_locked=True)
        done = batch[: len(batch) - len(left)]
        _deliver(done)
        if left:
            self._waiting_writer.take(left)
        if done:
            self._commits += 1
            self._units += len(done)
            self._checkpoint_soon()
        _raise_interrupts(done)

    def _checkpoint_soon(self) -> None:
        """Now and then (see CHECKPOINT_EVERY), copy the WAL into the database on a thread.

        Our writes wait meanwhile (the loop doesn't): SQLite starts the log over only when a
        write begins after a complete checkpoint, so with writes going on during it the log
        would grow for ever (a test watches this).
        """
        due = self._commits >= self.CHECKPOINT_EVERY or self._units >= self.CHECKPOINT_UNITS
        if not due or self._checkpointing or self._closed:
            return
        loop = asyncio.get_running_loop()
        try:
            done = loop.run_in_executor(self._checkpointer, self._checkpoint)
        except RuntimeError:  # pragma: no cover - shutting down: dispose checkpoints instead
            return
        self._commits, self._units, self._checkpointing = 0, 0, True
        done.add_done_callback(self._checkpointed)

    def _checkpoint(self) -> None:
        raw = self._engine.raw_connection()  # outside any transaction, as a checkpoint must be
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never waits for or blocks writers
            cursor.close()
        finally:
            raw.close()

    def _checkpointed(self, done: asyncio.Future[None]) -> None:
        self._checkpointing = False
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        if not done.cancelled() and done.exception() is not None:  # pragma: no cover - disk
            log.warning("SQLite checkpoint failed: %s", str(done.exception())[:200])

    async def dispose(self) -> None:
        self._closed = True  # new writes are refused; those queued are finished first
        for _ in range(2000):  # 10 s at most
            if not self._pending and not self._checkpointing:
                break
            await asyncio.sleep(0.005)
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._waiting_writer.stop()
        self._checkpointer.shutdown(wait=True)
        self._reader_threads.shutdown(wait=True)
        self._loop_writer.dispose()
        self._checkpoint()  # what the loop's transactions left in the WAL
        self._engine.dispose()


@dataclass
class _Unit(Generic[I, T]):
    work: WorkMany[I, T]
    item: I
    future: asyncio.Future[T]
    outcome: tuple[bool, Any] = (False, None)  # (failed, result or exception)


def _commit(
    engine: Engine, batch: list[_Unit[Any, Any]], *, give_up_when_locked: bool = False
) -> list[_Unit[Any, Any]]:
    """Run a batch of units in one transaction (group commit) and set their outcomes.

    Units run in order, each seeing the ones before it, exactly as if committed one by one;
    neighbouring units of the same `write_many` work run as one call (one multi-row INSERT
    for several bookings, say), so a booking doesn't pay for its own BEGIN, COMMIT and
    statements. If anything fails (a repeat caught by a unique constraint, say), the
    transaction rolls back and the batch runs again in one more, each call in a savepoint
    and a failed call's units one by one in theirs, so a failure reaches only the caller it
    belongs to and the others still commit. If the commit fails, or the write lock can't be
    had, every unit gets that error (nothing was written) — or, with `give_up_when_locked`,
    the batch is returned unrun for a thread that can wait for the lock.
    """
    try:
        with engine.begin() as conn:  # BEGIN IMMEDIATE: the lock is ours or this raises
            outcomes = [r for run in _runs(batch) for r in _work_for(run)(conn)]
    except BaseException as exc:
        locked = isinstance(exc, Exception) and _locked(exc)
        if locked and give_up_when_locked:
            return batch
        if len(batch) == 1 or locked:
            for unit in batch:
                unit.outcome = (True, exc)
            return []
    else:
        for unit, result in zip(batch, outcomes, strict=True):
            unit.outcome = (False, result)
        return []
    try:  # the careful pass, after a failure
        with engine.begin() as conn:
            for run in _runs(batch):
                if len(run) > 1 and _in_savepoint(conn, run):
                    continue
                for unit in run:
                    try:
                        with conn.begin_nested():
                            unit.outcome = (False, _only(_work_for([unit])(conn)))
                    except BaseException as exc:
                        unit.outcome = (True, exc)
    except BaseException as exc:
        if give_up_when_locked and isinstance(exc, Exception) and _locked(exc):
            return batch
        for unit in batch:
            unit.outcome = (True, exc)
    return []


def _in_savepoint(conn: Connection, run: list[_Unit[Any, Any]]) -> bool:
    """Run a call of several units in a savepoint; False (rolled back) if it failed."""
    try:
        with conn.begin_nested():
            results = _work_for(run)(conn)
    except Exception:
        return False
    for unit, result in zip(run, results, strict=True):
        unit.outcome = (False, result)
    return True


def _locked(exc: Exception) -> bool:
    """SQLITE_BUSY (any extended code): another connection holds the write lock."""
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return (
        isinstance(exc, OperationalError)
        and code is not None
        and code & 0xFF == sqlite3.SQLITE_BUSY
    )


def _raise_interrupts(units: list[_Unit[Any, Any]]) -> None:
    """A Ctrl-C or exit that struck during a unit stops the process, once all have answers."""
    for unit in units:
        failed, value = unit.outcome
        if failed and isinstance(value, KeyboardInterrupt | SystemExit):
            raise value


class _Writer:
    """A thread for writes that must wait for the lock another process holds (30 s at most),
    and for writes from an event loop other than the database's.

    It commits whatever has queued meanwhile in one transaction, as the loop does.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[list[_Unit[Any, Any]] | None] = queue.SimpleQueue()
        self._outstanding = 0  # units taken and not yet delivered
        self._count = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._outstanding > 0 and self._thread.is_alive()

    def take(self, units: list[_Unit[Any, Any]]) -> None:
        if not self._thread.is_alive():
            for unit in units:
                unit.outcome = (True, RuntimeError("the database is closed"))
            _deliver(units)
            return
        with self._count:
            self._outstanding += len(units)
        self._queue.put(units)

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, last = list(first), False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                batch.extend(more)
            try:
                _commit(self._engine, [u for u in batch if not u.future.cancelled()])
            except BaseException as exc:  # pragma: no cover - _commit sets outcomes, not raises
                for unit in batch:
                    unit.outcome = (True, exc)
            finally:
                _deliver_soon(batch)
                with self._count:
                    self._outstanding -= len(batch)
            if last:
                return


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
        if unit.future.done():  # the caller was cancelled (its work may have run all the same)
            continue
        failed, value = unit.outcome
        if not failed:
            unit.future.set_result(value)
        elif isinstance(value, Exception) and not isinstance(value, StopIteration):
            unit.future.set_exception(value)
        else:  # a future can't carry these; the flush re-raises an interrupt after answering
            unit.future.set_exception(RuntimeError(f"the write was interrupted: {value!r}"))


class PostgresDatabase(Database):
    """PostgreSQL through asyncpg: the fewest round trips a unit of work can take.

    - Reads run in autocommit: no BEGIN and no ROLLBACK around them. Under READ COMMITTED
      each statement took its own snapshot anyway, so nothing is lost.
    - A guarded change (a move) is one statement in autocommit: one round trip instead of
      seven (`storage.writes.one_statement`).
    - No ping before each use of a pooled connection (a round trip per transaction).
      Instead a unit of work that finds its connection dead (a restarted server, a killed
      backend) runs once more on a new one: SQLAlchemy has already invalidated the pool.
      A write runs again only when the failure came before its COMMIT was sent, so a write
      that may have landed is never repeated.
    """

    dialect = "postgresql"

    def __init__(self, url: URL) -> None:
        # asyncpg prepares every statement; PostgreSQL's generic plan for a LIKE on a bound
        # term scans the trigram index for short terms (700 ms measured); a custom plan per
        # call picks the business index instead.
        self._engine: AsyncEngine = create_async_engine(
            url,
            hide_parameters=True,
            connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
            # Kept open: the API, mail and 32 chat conversations at once each hold one for a
            # statement. With SQLAlchemy's 5 the rest were overflow, closed on return and
            # opened again (connect, authenticate, prepare): a third of chat deliveries paid
            # for a new connection (bench/chat_delivery.py).
            pool_size=PG_POOL_SIZE,
            max_overflow=PG_POOL_OVERFLOW,
        )
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")

    async def read(self, work: Work[T]) -> T:
        for attempt in _ONE_RETRY:
            try:
                async with self._autocommit.connect() as conn:
                    return await conn.run_sync(work)
            except DBAPIError as failure:
                if not _try_again(failure, attempt, "reading"):
                    raise
        raise AssertionError("unreachable")

    async def write(self, work: Work[T]) -> T:
        for attempt in _ONE_RETRY:
            async with self._engine.connect() as conn:
                try:
                    await conn.begin()
                    result = await conn.run_sync(work)
                except DBAPIError as failure:
                    if not _try_again(failure, attempt, "writing"):
                        raise
                    continue
                await conn.commit()  # a failure here may have committed: never repeated
                return result
        raise AssertionError("unreachable")

    async def write_guarded(self, change: Guarded) -> bool:
        # Run again on a new connection if this one was dead. One statement can't tell
        # whether it failed before or after committing: if the first run did commit, the
        # second finds the booking moved and writes nothing, so nothing is done twice (and
        # the owner is told the booking is already in its new status, which it is).
        statement, values = one_statement(change)
        for attempt in _ONE_RETRY:
            try:
                async with self._autocommit.connect() as conn:
                    found = await conn.execute(statement, values)
                    return bool(found.one().moved)
            except DBAPIError as failure:
                if rows_were_missing(failure):  # as `insert_rows` says it on SQLite
                    raise LookupError("a guarded change's rows were missing") from failure
                if not _try_again(failure, attempt, "writing"):
                    raise
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self._engine.dispose()


_ONE_RETRY = (0, 1)


def _try_again(failure: DBAPIError, attempt: int, doing: str) -> bool:
    """Whether a unit of work that failed this way runs once more: only the first time, and
    only if its connection turned out dead (SQLAlchemy has invalidated the pool by then)."""
    if not (failure.connection_invalidated and attempt == 0):
        return False
    log.warning(
        "database connection lost (%s); %s again on a new one", type(failure.orig).__name__, doing
    )
    return True


def outage(exc: BaseException) -> str | None:
    """Why the database can't do any work now, in a few words, or None if `exc` is not that.

    An outage is the database's state, not the work's fault: the server is unreachable,
    shutting down or out of resources, the disk is full or failing, the file is locked past
    the busy timeout. The work that met it wrote nothing and may run again later, unchanged.
    """
    if isinstance(exc, OSError):  # asyncpg's connect: refused, reset, timed out, no route
        return "disk full" if exc.errno == errno.ENOSPC else "unreachable"
    if isinstance(exc, PoolTimeout):
        return "no connection free"
    if not isinstance(exc, DBAPIError):
        return None
    if isinstance(exc.orig, sqlite3.Error):
        code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF
        return _SQLITE_OUTAGES.get(code)
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    for prefix, reason in _POSTGRES_OUTAGES:
        if state.startswith(prefix):
            return reason
    return "connection lost" if exc.connection_invalidated else None


_SQLITE_OUTAGES = {
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_IOERR: "disk I/O error",
    sqlite3.SQLITE_CANTOPEN: "can't open the file",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_READONLY: "read-only",
}
_POSTGRES_OUTAGES = (  # SQLSTATE classes
    ("53100", "disk full"),
    ("08", "connection lost"),
    ("53", "out of resources"),
    ("57P", "shutting down or starting up"),
    ("58", "server I/O error"),
)


def open_database(url: str, *, sqlite_synchronous: SqliteSync = "full") -> Database:
    """The database behind a plain URL (see `driver_url`)."""
    target = driver_url(url)
    if target.get_backend_name() == "sqlite":
        return SqliteDatabase(target, synchronous=sqlite_synchronous)
    return PostgresDatabase(target)


_SYNC_PRAGMA: dict[SqliteSync, str] = {"full": "FULL", "normal": "NORMAL"}


def _run(engine: Engine, work: Work[T]) -> T:
    with engine.connect() as conn:
        return work(conn)


def _sqlite_engine(
    url: URL,
    *,
    busy_timeout_ms: int,
    synchronous: SqliteSync,
    checkpoints: bool = True,
    pool_size: int = SQLITE_READERS + 2,
) -> Engine:
    engine = create_sync_engine(url, hide_parameters=True, pool_size=pool_size, max_overflow=0)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit one is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={_SYNC_PRAGMA[synchronous]}")
        if not checkpoints:  # SqliteDatabase checkpoints on a thread instead
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front and wait for it (busy_timeout) instead of failing
        # with "database is locked" when a read transaction tries to upgrade; readers in WAL
        # mode never block and use a deferred BEGIN.
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
