"""SQLite search: when to start from the trigram index rather than scan the business."""

from __future__ import annotations

import pytest

from storage.search_index import business_rows_needed, index_pays


def counted(business_rows: int, candidates: int) -> int:
    """What the store's bounded count returns for a business of that size."""
    return min(business_rows, business_rows_needed(candidates))


@pytest.mark.parametrize(
    ("candidates", "business_rows", "pays"),
    [
        (4_393, 222, False),  # a common term in a mid-sized database, a small business: scan
        (4_393, 100_000, True),  # the same term in a business of 100,000: the index
        (4_393, 5_000, False),  # ... of 5,000: reading them all is cheaper
        (5_000, 10_000, True),  # counted no further than 10,000 (the count costs as a scan)
        (12, 4_435, True),  # a rare name, a typical business: the index
        (12, 100, False),  # a rare name in a business of 100: reading 100 rows is cheaper
        (0, 1, True),  # nothing anywhere: the index says so at once
        (0, 0, False),  # a business without bookings: nothing to scan either
    ],
)
def test_the_index_is_used_only_when_the_scan_could_cost_more(
    candidates: int, business_rows: int, pays: bool
) -> None:
    assert index_pays(candidates, counted(business_rows, candidates)) is pays
