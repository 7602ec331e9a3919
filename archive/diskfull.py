"""Recognising a full disk, whichever write meets it first (a WARC file, SQLite, a log)."""

from __future__ import annotations

import errno
import sqlite3


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or a quota, from a file write or from SQLite ("database or disk is full")."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    )
