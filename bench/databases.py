"""What both benchmarks need from a database: admin statements and a fast bulk-load engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.engine import async_url


async def admin(admin_url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_async_engine(async_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def load_engine(url: str) -> AsyncEngine:
    """An engine for bulk loads only: on SQLite, no fsync and a big page cache."""
    engine = create_async_engine(async_url(url))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")  # ~1 GB
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

    return engine
