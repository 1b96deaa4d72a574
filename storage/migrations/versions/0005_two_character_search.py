"""Indexes for search terms of two characters.

Trigram indexes (0001 on PostgreSQL, 0004 on SQLite) can't answer a term shorter than three
characters, so "渡辺" (a common Japanese surname: two characters, as many are) scanned every
booking of the business: 20-40 ms in one of 100,000. Each database keeps the new index
itself, so every way a booking is written keeps it current:

- PostgreSQL: a trigram index of the search text with every character doubled, per
  business (btree_gin): "渡辺" is in the text exactly when "渡渡辺辺", four characters, is in
  the doubled text. (A GIN index of an SQL function's bigram array was tried first: the
  planner, not knowing the function's cost, ran it per row, 1.7 s for a common pair.)
- SQLite: an FTS5 table of the text's two-character pieces as words, filled by triggers.
  SQLite triggers can't loop or use WITH, so the positions 0..n-2 come from `json_each`
  over an array of n-1 zeros (made from `zeroblob`).

The store uses them for a term of two letters or digits (storage/search_index.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The same expression as storage/search_index.py's, or the planner can't use the index.
DOUBLED = r"regexp_replace(search_text, '(.)', '\1\1', 'g')"
# GIN indexes queue new entries in a pending list that every search reads through, until
# a vacuum (or the list's limit, 4 MB by default) merges it: after 3,000 Confirms (each
# re-indexes its row) the pairs index had 460 pending pages and "渡辺" took 7.3 ms, not 3.2.
# A 256 kB limit keeps both the list and each merge small.
POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE INDEX ix_bookings_search_pairs ON bookings "
    f"USING gin (business_id, ({DOUBLED}) gin_trgm_ops) WITH (gin_pending_list_limit = 256)",
    "ALTER INDEX ix_bookings_search_trgm SET (gin_pending_list_limit = 256)",
    # Statistics of the new expression: without them the planner took the index for a pair
    # in every row ("ha": 580 ms for 200,000 bookings) until autovacuum's next analyze.
    "ANALYZE bookings",
)


def _bigrams_of(row: str, source: str = "") -> str:
    """SQL for the space-separated bigrams of `row`.search_text (`row`: new or old), and
    where they come from (after `source`, the table `row` names, when it is not a trigger's)."""
    text = f"{row}.search_text"
    positions = f"rtrim(replace(hex(zeroblob(length({text}) - 1)), '00', '0,'), ',')"
    return (
        f"group_concat(substr({text}, key + 1, 2), ' ') "
        f"FROM {source}json_each('[' || {positions} || ']')"
    )


_ADD = f"INSERT INTO bookings_bigrams(rowid, grams) SELECT new.id, {_bigrams_of('new')};"
# A contentless table is told exactly what it held, in the same order, to forget a row.
_REMOVE = (
    "INSERT INTO bookings_bigrams(bookings_bigrams, rowid, grams) "
    f"SELECT 'delete', old.id, {_bigrams_of('old')};"
)
SQLITE = (
    # detail=none: a pair is one word, so the table needs no positions, only which rows.
    "CREATE VIRTUAL TABLE bookings_bigrams USING fts5("
    "grams, content='', tokenize='ascii', detail='none')",
    f"CREATE TRIGGER bookings_bigrams_insert AFTER INSERT ON bookings BEGIN {_ADD} END",
    f"CREATE TRIGGER bookings_bigrams_delete AFTER DELETE ON bookings BEGIN {_REMOVE} END",
    "CREATE TRIGGER bookings_bigrams_update AFTER UPDATE OF search_text ON bookings "
    f"BEGIN {_REMOVE} {_ADD} END",
    # Bookings already stored.
    "INSERT INTO bookings_bigrams(rowid, grams) "
    f"SELECT new.id, {_bigrams_of('new', source='bookings AS new, ')} GROUP BY new.id",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER bookings_bigrams_{trigger}")
        op.execute("DROP TABLE bookings_bigrams")
    else:
        op.execute("DROP INDEX ix_bookings_search_pairs")
        op.execute("ALTER INDEX ix_bookings_search_trgm RESET (gin_pending_list_limit)")
