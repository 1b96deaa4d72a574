"""Businesses and their API keys (stored only as SHA-256 digests)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Business
from storage import rows
from storage.engine import READ_ONLY
from storage.tables import businesses


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class SqlBusinesses:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})

    async def add(
        self,
        *,
        name: str,
        timezone: str,
        owner_email: str,
        currency: str,
        api_key: str,
        at: datetime,
    ) -> Business:
        async with self._engine.begin() as conn:
            new_id = (
                await conn.execute(
                    insert(businesses)
                    .values(
                        name=name,
                        timezone=timezone,
                        owner_email=owner_email,
                        currency=currency,
                        api_key_hash=key_digest(api_key),
                        created_at=at,
                    )
                    .returning(businesses.c.id)
                )
            ).scalar_one()
        return Business(new_id, name, timezone, owner_email, currency)

    async def all(self) -> list[Business]:
        async with self._reader.connect() as conn:
            result = await conn.execute(select(businesses).order_by(businesses.c.id))
            return [rows.business(r) for r in result.all()]

    async def by_api_key(self, api_key: str) -> Business | None:
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(
                    select(businesses).where(businesses.c.api_key_hash == key_digest(api_key))
                )
            ).first()
        return rows.business(row) if row else None
