"""What both benchmarks need from a database: admin statements, bulk loads, tidying after."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import Database, driver_url


async def admin(admin_url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE, VACUUM)."""
    engine = create_async_engine(driver_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def bulk_insert(db: Database, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in one transaction (WAL with synchronous=NORMAL: no fsync per commit)."""
    await db.write(lambda conn: conn.execute(statement, rows))


async def tidy(db: Database, url: str) -> None:
    """Fresh planner statistics, and on SQLite a WAL folded back into the database file."""
    if db.dialect == "postgresql":
        await admin(url, "VACUUM (ANALYZE)")
        return
    await db.write(lambda conn: conn.exec_driver_sql("ANALYZE"))
    path = driver_url(url).database or ""
    with sqlite3.connect(path) as raw:  # a checkpoint can't run inside a transaction
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
