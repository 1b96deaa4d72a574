"""Text folding for search, done in Python so SQLite and PostgreSQL agree on every alphabet."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Fold text for matching: case-insensitive and accent-insensitive ("Élodie" ~ "elodie")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", " ".join(stripped.split()))


def search_text(customer_name: str, service_name: str) -> str:
    """The folded text a booking is found by: its customer's name and its service."""
    return f"{fold(customer_name)}\n{fold(service_name)}"
