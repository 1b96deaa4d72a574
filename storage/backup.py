"""A consistent copy of a SQLite database, taken while the service writes to it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path


class BackupExists(Exception):
    """The target is there already: a backup never overwrites."""


def backup_sqlite(database: Path, target: Path) -> int:
    """Copy `database` to `target` (a new file) as of one moment; its size in bytes.

    `VACUUM INTO` reads one snapshot (WAL mode: writers carry on meanwhile) and writes it
    compacted to a file of its own, which is synced and only then given its name; the name
    is taken with a hard link, so an existing file is never replaced, not even by a race.
    """
    if target.exists():
        raise BackupExists(str(target))
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(database)
        try:
            source.execute("PRAGMA busy_timeout=30000")
            source.execute("VACUUM INTO ?", (str(partial),))
        finally:
            source.close()
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        try:
            os.link(partial, target)
        except FileExistsError:
            raise BackupExists(str(target)) from None
        _sync_directory(target.parent)
        return target.stat().st_size
    finally:
        partial.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
