"""The data dir: one writer at a time, created owner-only.

A node, or an offline CLI command, holds an exclusive lock on `node.lock`
for as long as it has the store open (ARCHITECTURE §1): two writers would
make one Automerge actor produce two conflicting changes. The kernel drops
the lock when the process dies, so a crash never leaves a stale lock behind.

`try_lock_file` is the one portable piece: `fcntl.flock` on POSIX,
`msvcrt.locking` on Windows, both non-blocking and both released by the
operating system with the process (a lock-by-existence file would not be).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from p2pcommunity.identity import DeviceIdentity, ensure_data_dir, load_identity
from p2pcommunity.sync.errors import DomainError
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

LOCK_FILE = "node.lock"
STORE_FILE = "store.sqlite3"


class DataDirLocked(DomainError, code="locked"):
    """Another process holds this data dir's lock (a running node: talk to it instead)."""


# Test-only: shifts this process's wall clock, so an end-to-end test can see an
# invite expire without sleeping through its lifetime (tests/e2e/test_membership.py).
# Read once at import; unset (the normal case) means no shift.
CLOCK_OFFSET_ENV = "P2PCOMMUNITY_CLOCK_OFFSET_MS"
_CLOCK_OFFSET_MS = int(os.environ.get(CLOCK_OFFSET_ENV) or 0)


def try_lock_file(fd: int) -> bool:
    """Take an exclusive lock on the open file `fd` without waiting; False if someone holds it.

    The lock lasts until `fd` is closed or the process ends.
    """
    if sys.platform == "win32":
        import msvcrt

        # Windows locks byte ranges, and may lock past the end: byte 0 stands for the file.
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def now_ms() -> int:
    """Wall-clock milliseconds: author times, expiries, first-seen times."""
    return time.time_ns() // 1_000_000 + _CLOCK_OFFSET_MS


class DataDir:
    """An opened data dir: lock, identity, store, service. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd: int | None = None
        self.store: Store | None = None
        self.service: Service | None = None

    def lock(self) -> None:
        ensure_data_dir(self.path)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        if not try_lock_file(fd):
            os.close(fd)
            raise DataDirLocked(
                f"another p2pcommunity node is using {self.path}; stop it or use another --data-dir"
            ) from None
        # Who holds it, for a human (nothing reads it back). On Windows the
        # locked byte 0 may be written only through this very fd, which it is.
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def open(self, identity: DeviceIdentity) -> Service:
        old_umask = os.umask(0o077)
        try:
            self.store = Store(self.path / STORE_FILE)
        finally:
            os.umask(old_umask)
        self.service = Service(self.store, identity.signing_key, now_ms)
        return self.service

    def identity(self, passphrase: str | None) -> DeviceIdentity | None:
        return load_identity(self.path, passphrase)

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self.unlock()

    def __enter__(self) -> DataDir:
        self.lock()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
