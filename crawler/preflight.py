"""Checks of local input before a crawl starts, so bad input costs one line and nothing else.

A crawl that dies half-way on a full disk or a damaged database leaves a mess; one that refuses
to start leaves the archive exactly as it was. :func:`check_crawl_inputs` runs before Scrapy
(and before the crawl takes its lock or repairs anything) and raises :class:`BadInput`, whose
message is one line naming the file and what is wrong: the CLI prints it and exits with 2.

Everything here only reads, except a probe file written to and removed from the data directory
to prove it writable. The database is opened read-only and immutable (when no write-ahead log
exists), so SQLite does not even create its ``-shm`` file. WARC files still being written
(``.open``) are left alone: the crawl itself repairs those, under its lock.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from archive.store import SCHEMA_VERSION
from archive.warc import complete_length

#: Above this size ``PRAGMA quick_check`` (a full read) is skipped; the header checks remain.
QUICK_CHECK_MAX_BYTES = 512 * 1024 * 1024
_PROBE_BYTES = 64 * 1024


class BadInput(Exception):
    """Local input a crawl cannot start with; the message is one line naming the file."""


def check_crawl_inputs(data_dir: Path, min_free_mb: float = 100) -> None:
    """Raise BadInput unless ``data_dir`` can take a crawl: a writable directory with room,
    an ``archive.db`` that is a sound govarchive database (if there is one yet), and WARC
    files whose newest one per portal ends with a complete record."""
    check_data_dir(data_dir, min_free_mb)
    db_path = data_dir / "archive.db"
    check_database(db_path)
    check_last_warcs(data_dir, db_path)


#: Modules imported only when a page needs them (the generic path, feeds): a broken install
#: would otherwise show up as the same failure on every such page.
LAZY_MODULES = (
    "trafilatura",
    "justext",
    "lxml.html.clean",
    "dateparser",
    "lxml.html",
    "feedparser",
)


def check_installation() -> None:
    """Raise BadInput when a module the extraction needs cannot be imported."""
    import importlib

    for name in LAZY_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or a module that fails while importing
            raise BadInput(
                f"{name}: cannot be imported ({type(exc).__name__}: {exc}); the installation is "
                "incomplete: reinstall govarchive with `pip install -e .`"
            ) from None


# -- the directory -------------------------------------------------------------------------


def check_data_dir(data_dir: Path, min_free_mb: float) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise BadInput(f"{data_dir}: not a directory (--data must name a directory)")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{data_dir}: cannot create the data directory: {_why(exc)}") from None
    for directory in (data_dir, data_dir / "warc"):
        if directory.exists():
            if not directory.is_dir():
                raise BadInput(f"{directory}: not a directory")
            _probe(directory)
    db_path = data_dir / "archive.db"
    if db_path.is_file() and not os.access(db_path, os.R_OK | os.W_OK):
        raise BadInput(f"{db_path}: not writable (permission denied)")
    free = shutil.disk_usage(data_dir).free
    if free < min_free_mb * 1e6:
        raise BadInput(
            f"{data_dir}: only {free / 1e6:.0f} MB free on its file system, and a crawl needs "
            f"at least {min_free_mb:g} MB (GOVARCHIVE_MIN_FREE_MB): free some space or use "
            "another --data"
        )


def _probe(directory: Path) -> None:
    """Write, flush and remove a small file: proves the directory writable and not full.

    The file gets a fresh unique name: a crawl killed during this check leaves its file behind,
    and a name that could repeat (a reused pid) would then make a healthy directory look
    unwritable. Such leftovers are removed here once they are an hour old.
    """
    try:
        handle, name = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=directory)
    except OSError as exc:
        raise BadInput(f"{directory}: not writable: {_why(exc)}") from None
    probe = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(b"\0" * _PROBE_BYTES)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as exc:
        raise BadInput(f"{directory}: not writable: {_why(exc)}") from None
    finally:
        probe.unlink(missing_ok=True)
    _remove_stale_probes(directory)


_PROBE_PREFIX = ".govarchive-write-test-"


def _remove_stale_probes(directory: Path, older_than_s: float = 3600) -> None:
    cutoff = time.time() - older_than_s
    for leftover in directory.glob(f"{_PROBE_PREFIX}*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # another crawl's, or already gone


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


# -- the database --------------------------------------------------------------------------


def connect_readonly(db_path: Path) -> sqlite3.Connection:
    """A read-only connection that writes nothing at all, not even SQLite's ``-shm`` file.

    Immutable when no write-ahead log exists (nothing is writing: a finished archive); plain
    read-only otherwise, so a log's committed transactions are seen.
    """
    wal = db_path.with_name(db_path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    return sqlite3.connect(f"{db_path.resolve().as_uri()}?{mode}", uri=True)


def check_database(db_path: Path) -> None:
    if not db_path.exists():
        return
    if not db_path.is_file():
        raise BadInput(f"{db_path}: not a file")
    try:
        conn = connect_readonly(db_path)
    except sqlite3.Error as exc:
        raise BadInput(f"{db_path}: cannot open the archive database: {exc}") from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise BadInput(
                f"{db_path}: schema version {version} was written by a newer govarchive (this "
                f"one knows {SCHEMA_VERSION}); upgrade govarchive to use it"
            )
        columns = conn.execute("PRAGMA table_info(articles)").fetchall()
        if columns and [c[1] for c in columns if c[5]] != ["url"]:
            raise BadInput(
                f"{db_path}: has an 'articles' table that is not govarchive's; "
                "use another data directory"
            )
        if db_path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise BadInput(
                    f"{db_path}: damaged SQLite database ({'; '.join(problems)}); restore it "
                    "from a backup, or move it aside to start a new archive"
                )
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise BadInput(
                f"{db_path}: not a SQLite database (SQLite says: {exc}); point govarchive at "
                "another data directory, or move this file aside"
            ) from None
        raise BadInput(
            f"{db_path}: damaged SQLite database (SQLite says: {exc}); restore it from a "
            "backup, or move it aside to start a new archive"
        ) from None
    finally:
        conn.close()


# -- the WARC files ------------------------------------------------------------------------


def check_last_warcs(data_dir: Path, db_path: Path) -> None:
    """The newest closed WARC file of each portal must end with a complete record.

    Rows point into WARC files by offset; a file cut short (a full disk, a copy interrupted)
    loses records that rows may point at. Scanning starts at the end of the last record the
    database knows in that file (so a big file costs a few records), else at its start.
    """
    warc_dir = data_dir / "warc"
    if not warc_dir.is_dir():
        return
    newest: dict[str, Path] = {}
    for path in sorted(warc_dir.glob("*.warc.gz")):  # ``.open`` files end in .open
        if path.is_file():
            newest[path.name.rsplit("-", 2)[0]] = path
    for path in newest.values():
        problem = warc_tail_problem(path, _known_end(db_path, data_dir, path))
        if problem:
            raise BadInput(
                f"{path}: {problem}; `govarchive verify` shows which rows are affected; move "
                "the file aside before crawling again"
            )


def _known_end(db_path: Path, data_dir: Path, path: Path) -> int:
    """Where the last record the archive points at in ``path`` ends (0 if unknown)."""
    if not db_path.is_file():
        return 0
    name = path.relative_to(data_dir).as_posix()
    conn = connect_readonly(db_path)
    try:
        (end,) = conn.execute(
            "SELECT max(warc_offset + warc_length) FROM fetches WHERE warc_filename = ?", [name]
        ).fetchone()
    except sqlite3.Error:
        return 0
    finally:
        conn.close()
    return int(end or 0)


def warc_tail_problem(path: Path, start: int = 0) -> str | None:
    """What is wrong with the end of a gzip-per-record WARC file, reading from ``start``
    (the offset of a record), or None when every record from there on is complete."""
    size = path.stat().st_size
    if size == 0:
        return "empty file: not even a warcinfo record"
    if start > size:
        return f"truncated: the archive has records up to byte {start:,}, the file has {size:,}"
    end = complete_length(path, start)
    if end < size:
        return (
            f"truncated or damaged after byte {end:,} of {size:,} (the last "
            "complete record ends there)"
        )
    return None


# -- after the crawl -----------------------------------------------------------------------


def failure_lines(db_path: Path, crawl_id: int | None, limit: int = 10) -> list[str]:
    """The crawl's failures for its summary: one line per reason, most frequent first."""
    if crawl_id is None or not db_path.is_file():
        return []
    conn = connect_readonly(db_path)
    try:
        rows = conn.execute(
            "SELECT error, count(*), min(url) FROM fetches WHERE crawl_id = ? AND error IS NOT "
            "NULL GROUP BY error ORDER BY count(*) DESC, error",
            [crawl_id],
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    lines = [
        f"  {error}: {url}" if count == 1 else f"  {count} × {error} (e.g. {url})"
        for error, count, url in rows[:limit]
    ]
    if len(rows) > limit:
        more = sum(count for _, count, _ in rows[limit:])
        lines.append(f"  … and {more} more (the fetches table has every one, with its reason)")
    return lines
