"""Run one crawl in this process: the code path shared by ``govarchive crawl``, ``cron`` and
``demo``.

Before Scrapy starts, the data directory is locked (one writer at a time) and whatever a killed
crawl left behind is put right: ``.open`` WARC files are cut back to their last complete record
and closed, and ``running`` crawl rows become ``interrupted``. Every committed row already
points at a flushed, complete record, so nothing else needs repair: the next walk simply
fetches what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.lock import DataDirLock
from archive.store import CRAWL_COUNTS, Archive, ArchiveError
from archive.warc import repair_open_files
from crawler.exit_codes import EXIT_ERRORS, EXIT_OK
from crawler.fatal import CrawlLogHandler, DiskReserve, crawl_failure, stop_crawl
from crawler.profiles import Profile
from crawler.spiders.portal import PortalSpider

LOG_FILE = Path("logs") / "govarchive.log"
LOG_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"


@dataclass
class CrawlResult:
    crawl_id: int | None
    status: str
    counts: dict[str, int]
    article_count: int
    recovered: list[str] = field(default_factory=list)
    #: Why the crawl failed as a whole (crawler/fatal.py), and the profile drift report.
    failure: str | None = None
    drift: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == "done" else EXIT_ERRORS


def crawl_settings(data_dir: Path, overrides: dict[str, str] | None = None) -> Settings:
    """Project settings, then the data dir, then ``-s`` overrides, as ``scrapy crawl`` does."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("GOVARCHIVE_DATA_DIR", str(data_dir), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def recover(data_dir: Path) -> list[str]:
    """Put right what a killed crawl left; returns one line per thing repaired."""
    notes = []
    for path in repair_open_files(data_dir / "warc"):
        notes.append(f"closed unfinished WARC {path.name} at its last complete record")
    db_path = data_dir / "archive.db"
    if db_path.exists():
        with Archive(db_path) as archive:
            for crawl_id in archive.mark_interrupted():
                notes.append(f"crawl {crawl_id} had been interrupted")
    return notes


def file_log_handler(
    data_dir: Path, on_disk_full: Callable[[str], None] | None = None
) -> logging.Handler:
    """INFO and up to ``DATA/logs/govarchive.log``, rotated at 5 MB, 5 files kept."""
    path = data_dir / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = CrawlLogHandler(path, on_disk_full)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def run_crawl(
    profile: Profile,
    data_dir: Path,
    *,
    base_url: str | None = None,
    max_articles: int | None = None,
    overrides: dict[str, str] | None = None,
) -> CrawlResult:
    """Crawl a portal into ``data_dir`` and return what the ``crawls`` row says about it.

    Raises ``archive.lock.LockHeld`` when another command holds the data directory. Scrapy's
    reactor can start once per process, so call this once per process.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with DataDirLock(data_dir):
        recovered = recover(data_dir)
        settings = crawl_settings(data_dir, overrides)
        process = CrawlerProcess(settings)

        def stop_all(failure: str) -> None:
            for crawler in process.crawlers:
                stop_crawl(crawler, failure)

        handler = file_log_handler(data_dir, on_disk_full=stop_all)
        logging.root.addHandler(handler)
        reserve = DiskReserve(data_dir, settings.getfloat("GOVARCHIVE_DISK_RESERVE_MB", 1))
        try:
            reserve.hold()
            for note in recovered:
                logging.getLogger(__name__).warning("recovery: %s", note)
            crawler = process.create_crawler(PortalSpider)
            process.crawl(crawler, portal=profile, base_url=base_url, max_articles=max_articles)
            process.start()
        finally:
            reserve.release()
            logging.root.removeHandler(handler)
            handler.close()
        failure = crawl_failure(crawler)
        crawl, articles = _outcome(data_dir / "archive.db", profile.name, failure)
    if crawl is None:
        return CrawlResult(None, "failed", {}, articles, recovered, failure=failure)
    counts = {name: crawl[name] for name in CRAWL_COUNTS if crawl.get(name) is not None}
    return CrawlResult(
        crawl["id"],
        crawl["status"],
        counts,
        articles,
        recovered,
        failure=crawl.get("failure") or failure,
        drift=crawl.get("drift"),
    )


def _outcome(db_path: Path, portal: str, failure: str | None) -> tuple[dict | None, int]:
    """The crawl's row and the portal's article count, read without writing when possible:
    after a full disk, opening the database for writing may itself fail."""
    if failure:
        try:
            with Archive(db_path) as archive:
                # The pipeline may not have managed to close its crawl row.
                archive.fail_running_crawls(failure)
        except ArchiveError:
            pass  # still no room: the next run marks the row interrupted
    try:
        with Archive(db_path, readonly=True) as archive:
            return archive.last_crawl(portal), archive.article_count(portal)
    except ArchiveError:
        return None, 0
