"""Column types: what SQLite is given must match what earlier versions wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from storage.types import UTCDateTime

SQLITE = sqlite.dialect()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 12, 3, 10, 0, 0, 123, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_sqlite_datetimes_are_written_in_sqlalchemys_own_text_form(value: datetime) -> None:
    # Rows written before the fast path (and by SQLAlchemy's DATETIME) compare as text with
    # the ones written now: the two forms must be the same, to the character.
    ours = UTCDateTime().bind_processor(SQLITE)
    theirs = DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value.astimezone(UTC).replace(tzinfo=None))


def test_a_naive_datetime_is_refused_not_guessed() -> None:
    ours = UTCDateTime().bind_processor(SQLITE)
    assert ours is not None
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 3, 10, 0))  # noqa: DTZ001 - naive on purpose
