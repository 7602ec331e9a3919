"""Crawl bookkeeping on disk, so that a long backfill does not grow in memory.

Out of the box Scrapy keeps three things in memory that grow with the crawl: the duplicate
filter's set of request fingerprints (one per URL ever scheduled), the scheduler's queue of
pending requests (a listing walk can run far ahead of the article downloads), and, in our spider,
the set of article ids already scheduled. On a 100,000-article backfill that is hundreds of
megabytes of Python objects; on a re-crawl of a million URLs, gigabytes.

Here each lives on disk with a small, fixed cache in memory:

* :class:`DiskSet`: a set of keys in an anonymous SQLite database (SQLite deletes the file when
  the connection closes). ~7 µs per add or lookup, 2 MB of page cache.
* :class:`DiskDupeFilter` (``DUPEFILTER_CLASS``): Scrapy's fingerprints, same fingerprinter,
  same answers, kept in a :class:`DiskSet`. With ``JOBDIR`` set it keeps them in the job
  directory so a paused crawl resumes with them.
* :class:`DiskQueueScheduler` (``SCHEDULER``): Scrapy's own scheduler with its disk queues
  turned on even without ``JOBDIR``, in a temporary directory removed when the crawl ends.
  Requests are popped in the same order as from the memory queues (LIFO per priority), so the
  crawl visits the same pages; requests that cannot be pickled stay in memory, as in Scrapy.

``GOVARCHIVE_DISK_QUEUE = False`` gives back Scrapy's memory queues.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.core.scheduler import Scheduler
from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.job import job_dir
from scrapy.utils.misc import build_from_crawler, load_object

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

__all__ = ["DiskDupeFilter", "DiskQueueScheduler", "DiskSet"]

Key = str | bytes
_QUEUE_PREFIX = "govarchive-queue-"


class DiskSet:
    """A set of ``str`` or ``bytes`` keys stored in SQLite, not in Python objects.

    ``path=None`` gives an anonymous database that SQLite deletes when it is closed (or when
    the process ends). Meant for one thread: the reactor's.
    """

    def __init__(self, path: str | Path | None = None, cache_kb: int = 2048) -> None:
        self._db = sqlite3.connect(
            str(path) if path else "", isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA cache_size = -{int(cache_kb)}")
        if path is None:  # nothing to recover after a crash: skip the journal
            self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS keys (key PRIMARY KEY) WITHOUT ROWID")
        self._count = self._db.execute("SELECT count(*) FROM keys").fetchone()[0]

    def add(self, key: Key) -> bool:
        """Add ``key``; True if it was not there yet (so one call both checks and records)."""
        added = self._db.execute("INSERT OR IGNORE INTO keys VALUES (?)", (key,)).rowcount == 1
        self._count += added
        return added

    def update(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self.add(key)

    def __contains__(self, key: object) -> bool:
        found = self._db.execute("SELECT 1 FROM keys WHERE key = ?", (key,)).fetchone()
        return found is not None

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._db.close()


class DiskDupeFilter(RFPDupeFilter):
    """Scrapy's request duplicate filter with its fingerprints on disk.

    Same fingerprints (``crawler.request_fingerprinter``), same answers, same logging and stats
    as ``RFPDupeFilter``; only the storage differs, so memory stays flat however many URLs the
    crawl schedules.
    """

    def __init__(
        self, path: str | None = None, debug: bool = False, *, fingerprinter: Any = None
    ) -> None:
        super().__init__(None, debug, fingerprinter=fingerprinter)
        self.seen = DiskSet(Path(path, "requests.seen.sqlite") if path else None)

    def request_seen(self, request: Request) -> bool:
        return not self.seen.add(self.fingerprinter.fingerprint(request))

    def close(self, reason: str) -> None:
        self.seen.close()


class DiskQueueScheduler(Scheduler):
    """Scrapy's scheduler with its disk queues on, in a temporary directory if no ``JOBDIR``.

    With ``JOBDIR`` set it is exactly Scrapy's scheduler (persistent, resumable queues).
    """

    temporary_dir: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DiskQueueScheduler:
        settings = crawler.settings
        jobdir = job_dir(settings)
        temporary = None
        if jobdir is None and settings.getbool("GOVARCHIVE_DISK_QUEUE", True):
            temporary = _temporary_queue_dir()
            jobdir = str(temporary)
        dupefilter_cls = load_object(settings["DUPEFILTER_CLASS"])
        scheduler = cls(
            dupefilter=build_from_crawler(dupefilter_cls, crawler),
            jobdir=jobdir,
            dqclass=load_object(settings["SCHEDULER_DISK_QUEUE"]),
            mqclass=load_object(settings["SCHEDULER_MEMORY_QUEUE"]),
            logunser=settings.getbool("SCHEDULER_DEBUG"),
            stats=crawler.stats,
            pqclass=load_object(settings["SCHEDULER_PRIORITY_QUEUE"]),
            crawler=crawler,
        )
        scheduler.temporary_dir = temporary
        return scheduler

    def close(self, reason: str) -> Any:
        try:
            return super().close(reason)
        finally:
            if self.temporary_dir is not None:
                shutil.rmtree(self.temporary_dir, ignore_errors=True)
                self.temporary_dir = None


def _temporary_queue_dir() -> Path:
    """A fresh queue directory named after this process; ones left by dead crawls go first."""
    base = Path(tempfile.gettempdir())
    for stale in base.glob(f"{_QUEUE_PREFIX}*"):
        match = re.match(rf"{_QUEUE_PREFIX}(\d+)-", stale.name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_QUEUE_PREFIX}{os.getpid()}-", dir=base))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
