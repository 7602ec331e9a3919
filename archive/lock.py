"""One writer per data directory at a time.

Two crawls writing the same ``archive.db`` and ``warc/`` would interleave WARC files and race
on rows, so every command that writes takes an exclusive lock on ``DATA/.govarchive.lock``.
It is an OS lock (``flock``): the kernel drops it when the holder exits, however it exits, so
a crawl killed with SIGKILL never leaves a stale lock behind. The file's text only says who
holds it, for the message the next command prints.
"""

from __future__ import annotations

import fcntl
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".govarchive.lock"


class LockHeld(RuntimeError):
    """Another process holds the data directory; the message says which."""


class DataDirLock:
    def __init__(self, data_dir: Path | str):
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockHeld(
                f"{self.path.parent}: another govarchive command is running ({holder})"
            ) from None
        os.ftruncate(fd, 0)
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()}, since {started}: {command}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
