"""Rows a change inserts, described once and sent the way each database does best.

A change is described as data: the rows it inserts (`Rows`) and, for a move, the UPDATE that
must find the booking as it was read (`Guarded`). SQLite runs it statement by statement in a
transaction, which costs nothing extra in-process. PostgreSQL runs a guarded change as one
statement (`one_statement`): over loopback each round trip cost ~0.7 ms of client CPU, and a
move took seven of them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    CTE,
    Connection,
    Insert,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    select,
    true,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.sql.visitors import replacement_traverse

ROWS_MISSING = "juneplum: rows missing"


@dataclass(frozen=True)
class Rows:
    """Rows to insert with one statement: an INSERT (of values, or from a SELECT with bound
    parameters, which reads what the rows need from other tables) and one parameter set per
    row."""

    statement: Insert
    params: Sequence[dict[str, Any]]
    # An INSERT ... SELECT that writes a row per match, none included (a chat delivery per
    # linked conversation): not checked against the number of parameter sets.
    fanout: bool = False


@dataclass(frozen=True)
class Guarded:
    """An UPDATE that changes one row or, when another change got there first, none (its
    WHERE is the lock), and the rows to insert only when it changed one."""

    guard: Update
    params: dict[str, Any]
    then: Sequence[Rows]


def insert_rows(conn: Connection, writes: Sequence[Rows]) -> None:
    """Insert each set of rows. An INSERT ... SELECT that found nothing to read (a booking
    that isn't there) raises, and the transaction with it; asyncpg can't count the rows of
    a multi-row insert, so there the check is the guarded change's (`one_statement`)."""
    for rows in writes:
        if not rows.params:
            continue
        done = conn.execute(rows.statement, list(rows.params)).rowcount
        if not rows.fanout and done not in (
            len(rows.params),
            -1,
        ):  # -1: asyncpg can't count an executemany
            table = rows.statement.table
            raise LookupError(f"inserted {done} of {len(rows.params)} rows into {table}")


def run_guarded(conn: Connection, change: Guarded) -> bool:
    """A guarded change in the caller's transaction; whether the guard changed a row."""
    changed = conn.execute(change.guard, change.params).rowcount
    if changed > 1:  # a guard that isn't one row's: roll it all back
        raise LookupError(f"a guard changed {changed} rows; it may change one")
    if changed == 0:
        return False
    insert_rows(conn, change.then)
    return True


def one_statement(change: Guarded) -> tuple[Select[Any], dict[str, Any]]:
    """PostgreSQL: a guarded change as one statement, to run alone in autocommit (one round
    trip; the statement is its own transaction). Its one row's `moved` says whether the guard
    changed a row.

    Data-modifying CTEs: the guard runs as `WITH moved AS (UPDATE ... RETURNING 1)`, and each
    row is inserted by an `INSERT ... SELECT ... WHERE EXISTS (SELECT FROM moved)`, so a lost
    race inserts nothing. An INSERT ... SELECT that finds nothing to read while the guard
    changed a row fails the whole statement (a cast of a word to an integer in the final
    SELECT: plain SQL has no RAISE), so nothing is written, as `insert_rows` rolls back.

    Every part reads the tables as they were when the statement began, so the rows may not
    depend on what the guard changes (on SQLite they would see it): the mail's recipient is
    the customer's address, which no move changes.
    """
    parts = [
        (rows.statement, params, rows.fanout) for rows in change.then for params in rows.params
    ]
    statement = _composed(change.guard, tuple((s, tuple(sorted(p)), f) for s, p, f in parts))
    values = dict(change.params)
    for i, (_, params, _) in enumerate(parts):
        values.update({f"w{i}_{key}": value for key, value in params.items()})
    return statement, values


@functools.lru_cache(maxsize=64)
def _composed(
    guard: Update, parts: tuple[tuple[Insert, tuple[str, ...], bool], ...]
) -> Select[Any]:
    """The statement of one shape (guard, and which inserts with which keys), built once, so
    SQLAlchemy compiles it and asyncpg prepares it once. The shapes are few: a move's kind
    and the emails and chat deliveries it queues."""
    hit: Any = literal_column("1").label("hit")
    moved = guard.returning(hit).cte("moved")
    guarded = select(moved.c.hit).exists()
    inserts = [
        (_guarded_insert(statement, keys, f"w{i}_", guarded).returning(hit).cte(f"w{i}"), fanout)
        for i, (statement, keys, fanout) in enumerate(parts)
    ]
    moved_count = _count(moved)
    # A fan-out may write any number of rows; it is counted all the same, or SQLAlchemy would
    # leave out a CTE nothing refers to (and with it, its rows).
    complete = and_(
        true(),
        *(_count(part) >= 0 if fanout else _count(part) == moved_count for part, fanout in inserts),
    )
    return select(
        moved_count.label("moved"),
        # The cast wraps the CASE, whose conditions read the CTEs: nothing here is a constant
        # the planner could fold (and fail on) before the statement runs.
        cast(
            case((complete, literal_column("'0'")), else_=literal_column(f"'{ROWS_MISSING}'")),
            Integer,
        ).label("complete"),
    )


def rows_were_missing(failure: DBAPIError) -> bool:
    """Whether `one_statement` failed because an INSERT ... SELECT found nothing to read."""
    return ROWS_MISSING in str(failure.orig)


def _count(cte: CTE) -> Any:
    return select(func.count()).select_from(cte).scalar_subquery()


def _guarded_insert(statement: Insert, keys: tuple[str, ...], prefix: str, guard: Any) -> Insert:
    """`statement` for one row, its parameters renamed with `prefix` (several inserts share
    one statement), inserting only when `guard` holds."""
    table = statement.table
    source = statement.select
    if source is None:  # INSERT ... VALUES: the values as a SELECT of parameters
        if not statement.compare(insert(table)):
            raise ValueError(f"only a plain insert(table) can be guarded: {statement}")
        values = select(*(bindparam(prefix + k, type_=table.c[k].type) for k in keys))
        return insert(table).from_select(list(keys), values.where(guard))
    renamed: Select[Any] = replacement_traverse(source, {}, functools.partial(_renamed, prefix))
    fenced = renamed.where(guard)

    def swap(element: ClauseElement, **_: Any) -> ClauseElement | None:
        return fenced if element is source else None

    return typed(Insert, replacement_traverse(statement, {}, swap))


def _renamed(prefix: str, element: ClauseElement) -> ClauseElement | None:
    if not isinstance(element, BindParameter) or element.unique:  # literal()s keep theirs
        return None
    if element.value is not None or element.callable or element.expanding:
        raise ValueError(f"parameter {element.key!r} must be a plain bindparam(key, type_=...)")
    return bindparam(prefix + element.key, type_=element.type)
