"""Failures that would hit every page end the crawl at once.

A missing module, a bug in our own extraction code or a full disk is not one page's problem:
carrying on would record the same failure for every page left, bury the cause under thousands
of fetch rows and report the crawl as merely "done with errors". Such a failure closes the
spider with the reason ``failed``; the ``crawls`` row keeps the one-line cause in ``failure``
and the command prints it. Everything committed before stays valid: rows only ever point at
complete WARC records.

A full disk needs one more thing: room to say so. A crawl keeps a small reserve file in the
data directory (:class:`DiskReserve`); the first ENOSPC releases it, so the last rows, the
crawl row and the closing of the WARC file still fit.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from archive.diskfull import is_disk_full

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: The spider's close reason (and the crawl's status) after a fatal failure.
FAILED = "failed"
_STAT = "govarchive/failure"
RESERVE_NAME = ".govarchive-reserve"


def describe(exc: BaseException) -> str:
    """One line for a fatal exception, with what to do about the common ones."""
    if is_disk_full(exc):
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        return f"disk full{where}: free space in the data directory, then run again"
    if isinstance(exc, ImportError):
        return (
            f"{type(exc).__name__}: {exc} (the installation is incomplete: "
            "reinstall govarchive with `pip install -e .`)"
        )
    return f"{type(exc).__name__}: {exc}"


def crawl_failure(crawler: Crawler) -> str | None:
    """The fatal failure that is stopping this crawl, if any."""
    return crawler.stats.get_value(_STAT)


def stop_crawl(crawler: Crawler, failure: str) -> None:
    """Record ``failure`` and close the spider with reason ``failed``; later calls do nothing."""
    if crawl_failure(crawler):
        return
    crawler.stats.set_value(_STAT, failure)
    logger.error("stopping the crawl: %s", failure)
    data_dir = crawler.settings.get("GOVARCHIVE_DATA_DIR")
    if data_dir:
        DiskReserve(Path(data_dir)).release()
    engine = crawler.engine
    if engine is not None and engine.spider is not None:
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(engine.close_spider_async(reason=FAILED))


class FatalErrorsMiddleware:
    """Spider middleware: an exception raised by a spider callback (parsing a listing, a
    sitemap, a feed) is a bug in our code or a broken install, not a fact about one page, so it
    stops the crawl (Scrapy's default is to log a traceback per page and carry on)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FatalErrorsMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response, exception: Exception, spider=None):
        from scrapy.exceptions import CloseSpider, IgnoreRequest
        from scrapy.spidermiddlewares.httperror import HttpError

        if isinstance(exception, CloseSpider | IgnoreRequest | HttpError):
            return None
        callback = getattr(response.request.callback, "__name__", "parse") if response else "?"
        where = f"{callback} of {response.url}" if response is not None else callback
        stop_crawl(self.crawler, f"{where}: {describe(exception)}")
        return []


class DiskReserve:
    """A few MB held in the data directory while a crawl runs, given back at the first ENOSPC
    so that the crawl can still commit its last rows and close its WARC file."""

    def __init__(self, data_dir: Path, size_mb: float = 1.0):
        self.path = Path(data_dir) / RESERVE_NAME
        self.size = int(size_mb * 1024 * 1024)

    def hold(self) -> None:
        """Write the reserve (real blocks, not a sparse file); raises OSError if it won't fit."""
        chunk = b"\0" * 65536
        try:
            with open(self.path, "wb") as fh:
                for _ in range(0, self.size, len(chunk)):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            self.release()
            raise

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> DiskReserve:
        self.hold()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class CrawlLogHandler(logging.handlers.RotatingFileHandler):
    """``DATA/logs/govarchive.log``, rotated at 5 MB; a full disk stops the crawl instead of
    printing a logging traceback for every later line."""

    def __init__(self, path: Path, on_disk_full: Callable[[str], None] | None = None):
        super().__init__(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
        self.on_disk_full = on_disk_full
        self.disk_full = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.disk_full:
            super().emit(record)

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self.disk_full = True

    def close(self) -> None:
        try:
            super().close()
        except OSError as exc:
            if not is_disk_full(exc):
                raise

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        import sys

        exc = sys.exc_info()[1]
        if exc is not None and is_disk_full(exc):
            self.disk_full = True
            if self.on_disk_full is not None:
                self.on_disk_full(describe(exc))
            return
        super().handleError(record)
