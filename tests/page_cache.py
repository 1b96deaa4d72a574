"""How much of a file the kernel holds in memory that hasn't reached the disk yet.

Linux's cachestat(2) (6.5 and later) counts a file's cached pages and, of those, the dirty
ones (written by a process, not yet on disk) and those being written back. A commit that was
synced leaves neither; one that wasn't leaves the log's new pages dirty for up to 30 s. This
is how a test sees that an acknowledged write reached the disk, without tracing the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass
from pathlib import Path

_CACHESTAT = {"x86_64": 451, "aarch64": 451}  # the same number on both (asm-generic)


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]  # len 0: to the end


class _Stat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("cache", "dirty", "writeback", "evicted", "recently_evicted")
    ]


@dataclass(frozen=True)
class CachedPages:
    cached: int
    dirty: int
    writeback: int

    @property
    def unsynced(self) -> int:
        return self.dirty + self.writeback


class NoCachestat(Exception):
    """This kernel (or machine) can't tell."""


def cached_pages(path: Path) -> CachedPages:
    number = _CACHESTAT.get(platform.machine())
    if number is None:
        raise NoCachestat(platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        whole, stat = _Range(0, 0), _Stat()
        if libc.syscall(number, fd, ctypes.byref(whole), ctypes.byref(stat), 0) != 0:
            code = ctypes.get_errno()
            if code == errno.ENOSYS:
                raise NoCachestat(platform.release())
            raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)
    return CachedPages(stat.cache, stat.dirty, stat.writeback)
