"""API keys: random, shown once, stored only as digests."""

from __future__ import annotations

import secrets


def new_api_key() -> str:
    return "jp_" + secrets.token_urlsafe(32)
