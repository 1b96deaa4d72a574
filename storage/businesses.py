"""Businesses and their API keys (stored only as SHA-256 digests)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, insert, select, update

from core.model import Business
from storage import rows
from storage.database import Database
from storage.recent import Recent
from storage.tables import businesses


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class SqlBusinesses:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_digest: Recent[str, Business] = Recent()

    async def add(
        self,
        *,
        name: str,
        timezone: str,
        owner_email: str,
        currency: str,
        api_key: str,
        at: datetime,
        inkress_secret: str | None = None,
        gct_rate: Decimal | None = None,
    ) -> Business:
        values = {
            "name": name,
            "timezone": timezone,
            "owner_email": owner_email,
            "currency": currency,
            "api_key_hash": key_digest(api_key),
            "created_at": at,
        }
        if inkress_secret is not None:
            values["inkress_secret"] = inkress_secret
        if gct_rate is not None:  # only when given: older schemas (tests of upgrades) lack it
            values["gct_rate"] = gct_rate

        def work(conn: Connection) -> int:
            return int(conn.execute(_INSERT.returning(businesses.c.id), values).scalar_one())

        new_id = await self._db.write(work)
        return Business(new_id, name, timezone, owner_email, currency, gct_rate)

    async def update(
        self,
        business_id: int,
        *,
        gct_rate: Decimal | None = None,
        inkress_secret: str | None = None,
    ) -> Business | None:
        """Change the settings given (GCT rate in percent, 0 for none; the Inkress webhook
        secret), in one statement; None if there's no such business. A running bot reads
        them within a minute (businesses are remembered)."""
        changes: dict[str, object] = {}
        if gct_rate is not None:
            changes["gct_rate"] = gct_rate
        if inkress_secret is not None:
            changes["inkress_secret"] = inkress_secret

        def work(conn: Connection) -> Business | None:
            stored = conn.execute(
                update(businesses)
                .where(businesses.c.id == business_id)
                .values(changes)
                .returning(*businesses.c)
            ).first()
            return rows.business(stored) if stored else None

        return await self._db.write(work)

    async def all(self) -> list[Business]:
        query = select(businesses).order_by(businesses.c.id)
        return await self._db.read(
            lambda conn: [rows.business(r) for r in conn.execute(query).all()]
        )

    async def by_api_key(self, api_key: str) -> Business | None:
        """The key's business, remembered for a minute: every intake request carries the key.
        Only keys that matched are kept (by digest, never the key), so a new one works at once."""
        digest = key_digest(api_key)
        known = self._by_digest.get(digest)
        if known is not None:
            return known

        def work(conn: Connection) -> Business | None:
            row = conn.execute(_BY_KEY, {"digest": digest}).first()
            return rows.business(row) if row else None

        found = await self._db.read(work)
        if found is not None:
            self._by_digest.put(digest, found)
        return found

    async def inkress_secret(self, business_id: int) -> str | None:
        """The secret Inkress signs this business's webhooks with, if it has one."""
        query = select(businesses.c.inkress_secret).where(businesses.c.id == business_id)
        return await self._db.read(lambda conn: conn.execute(query).scalar())


_INSERT = insert(businesses)
_BY_KEY = select(businesses).where(businesses.c.api_key_hash == bindparam("digest"))
