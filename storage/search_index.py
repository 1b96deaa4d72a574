"""Which index can answer a search term fast, and how to ask it.

Measured on 1M bookings (README, "Search"): a scan of one business in time order answers a
common term at once (the first page fills early) but a rare one slowly (it reads the whole
business: ~20-30 ms for 100,000 bookings). Rare terms are looked up instead:

- three characters or more: the trigram index (PostgreSQL pg_trgm; SQLite FTS5 `trigram`);
- two letters or digits ("渡辺", "li"): the indexes of migration 0005 (SQLite: the text's
  two-character pieces as FTS5 words; PostgreSQL: trigrams of the text with every
  character doubled, where "渡辺" is "渡渡辺辺");
- one character: the scan (no index of single characters is worth its size).

PostgreSQL's planner chooses between the index and the scan from its statistics (the
index of pairs holds the business id, so it never has to combine two indexes). SQLite's
can't (it picked a 2-second plan for the join), so the store first counts the index's
matches, up to FTS_CANDIDATES, and starts from them only when they are few: few overall,
and few beside the business's own bookings (`index_pays`).
"""

from __future__ import annotations

import functools

from sqlalchemy import ColumnElement, Select, Text, bindparam, column, func, literal_column, select
from sqlalchemy import table as sql_table

from storage.tables import bookings

FTS_CANDIDATES = 5000
# What a booking the index finds costs (looked up by id, its business checked: ~3 µs)
# against a booking the scan reads (an index entry: ~0.25 µs), measured on SQLite. Without
# it a common term in a mid-sized database (4,400 matches over 50,000 bookings) went through
# the index for a business of 222 bookings: 13 ms, where the scan takes under 1.
SCAN_ROWS_PER_CANDIDATE = 12
# Counting a business's bookings costs what scanning them does (~0.2 µs each), so the count
# stops here (~2 ms). A business this big takes the index when it finds few enough: at worst
# 5,000 candidates (~15 ms) where the scan might have been cheaper, as before the count.
BUSINESS_ROWS_COUNTED = 10_000
TRIGRAMS = "bookings_fts"
BIGRAMS = "bookings_bigrams"


def is_pair(folded_term: str) -> bool:
    """Two letters or digits: a term the indexes of two-character pieces can answer (a pair
    with a space or punctuation in it is not a word to FTS5 or pg_trgm)."""
    return len(folded_term) == 2 and folded_term.isalnum()


def sqlite_index(folded_term: str) -> str | None:
    """The SQLite FTS5 table that finds every booking holding the term, if one can."""
    if len(folded_term) >= 3:
        return TRIGRAMS
    return BIGRAMS if is_pair(folded_term) else None


def fts_phrase(folded_term: str) -> str:
    """The term as one FTS5 phrase: a literal substring, quotes doubled, no operators."""
    return '"' + folded_term.replace('"', '""') + '"'


def like_pattern(folded_term: str) -> str:
    """The term as a LIKE pattern that finds it anywhere: % and _ in it stay literal."""
    escaped = folded_term.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def fts_matches(fts_table: str) -> Select[tuple[int]]:
    """The ids of the bookings an FTS5 table finds for the bound `phrase`."""
    rowid = sql_table(fts_table, column("rowid")).c.rowid
    return select(rowid).where(literal_column(fts_table).op("MATCH")(bindparam("phrase")))


@functools.cache
def fts_probe(fts_table: str) -> Select[tuple[int]]:
    """How many bookings the table finds for `phrase`, counted up to the bound `enough`
    (FTS_CANDIDATES + 1)."""
    found = fts_matches(fts_table).limit(bindparam("enough")).subquery()
    return select(func.count()).select_from(found)


def doubled(folded_term: str) -> str:
    """The term with every character doubled: "渡辺" -> "渡渡辺辺", long enough for trigrams."""
    return "".join(c + c for c in folded_term)


def has_doubled_pair() -> ColumnElement[bool]:
    """PostgreSQL: the doubled search text holds the bound `doubled_pattern`. The expression
    is migration 0005's, constants written out, so the planner matches it to the index."""
    text = func.regexp_replace(
        bookings.c.search_text,
        literal_column("'(.)'"),
        literal_column(r"'\1\1'"),
        literal_column("'g'"),
        type_=Text,
    )
    return text.like(bindparam("doubled_pattern"), escape="/")


def business_rows_needed(candidates: int) -> int:
    """How many of the business's bookings `index_pays` needs to count, at most."""
    return min(candidates * SCAN_ROWS_PER_CANDIDATE + 1, BUSINESS_ROWS_COUNTED)


def index_pays(candidates: int, business_rows: int) -> bool:
    """Start from the index's `candidates` (a count over every business) rather than scan
    the business, whose bookings were counted up to `business_rows_needed(candidates)`?
    Only when the scan could cost more: when the business has that many (or is too big to
    count further)."""
    return business_rows >= business_rows_needed(candidates)


_counted = (
    select(bookings.c.id)
    .where(bookings.c.business_id == bindparam("business_id"))
    .limit(bindparam("enough"))
    .subquery()
)
BUSINESS_ROWS = select(func.count()).select_from(_counted)
