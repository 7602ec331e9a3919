"""A live progress line for crawls run by hand in a terminal.

``govarchive crawl`` turns it on when stderr is a terminal (``GOVARCHIVE_PROGRESS``); cron runs
and pipes get none, so their output stays a single summary line.
"""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task


class ProgressLine:
    """Rewrites one stderr line every second: pages fetched, new articles, rate."""

    def __init__(self, crawler: Crawler, interval: float = 1.0):
        self.crawler = crawler
        self.interval = interval
        self.loop: task.LoopingCall | None = None
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLine:
        if not crawler.settings.getbool("GOVARCHIVE_PROGRESS"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def show(self) -> None:
        stats = self.crawler.stats
        pages = stats.get_value("response_received_count", 0)
        # Not item_scraped_count: sections and notes are items too (crawler/discovery.py).
        articles = stats.get_value("govarchive/articles_scraped", 0)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        sys.stderr.write(
            f"\r{pages} pages, {articles} articles saved, {pages / elapsed:.1f} pages/s  "
        )
        sys.stderr.flush()

    def spider_closed(self, spider) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
            self.show()
            sys.stderr.write("\n")
