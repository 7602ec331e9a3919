"""Item pipeline: articles and fetch rows into the SQLite archive, in batched transactions.

One upsert per row would cap a crawl at a few hundred rows a second, so items and fetch rows
are buffered and written ``GOVARCHIVE_BATCH_SIZE`` at a time. The WARC middleware flushes each
record before the item that points at it can exist, so a committed row always points at bytes
that are in a WARC file.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from scrapy import signals

from archive.store import Archive
from crawler import signals as govarchive_signals
from crawler.items import ArticleRemoved
from crawler.settings_util import data_dir_from_settings, software_versions

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Settings recorded with each crawl row, so a run can be explained later.
RECORDED_SETTINGS = (
    "USER_AGENT",
    "ROBOTSTXT_OBEY",
    "AUTOTHROTTLE_ENABLED",
    "DOWNLOAD_DELAY",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "GOVARCHIVE_CONTACT",
    "GOVARCHIVE_WORKER_ID",
)


#: Process exit status for each crawl outcome (`govarchive crawl`, `cron`).
EXIT_CODES = {"done": 0, "done_with_errors": 1, "interrupted": 1, "failed": 1}


class ArchivePipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.batch_size = crawler.settings.getint("GOVARCHIVE_BATCH_SIZE", 200)
        self.archive: Archive | None = None
        self.crawl_id: int | None = None
        self.status: str | None = None
        self.pending_articles: list[dict] = []
        self.pending_removals: list[dict] = []
        self.started = time.monotonic()
        self.pending_fetches: list[dict] = []
        self.counts: dict[str, int] = {
            "requests": 0,
            "pages": 0,
            "articles_new": 0,
            "articles_updated": 0,
            "articles_unchanged": 0,
            "articles_removed": 0,
            "errors": 0,
            "bytes": 0,
        }
        crawler.signals.connect(self.fetch_recorded, signal=govarchive_signals.fetch_recorded)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = self.crawler.spider
        data_dir = data_dir_from_settings(self.settings)
        self.archive = Archive(data_dir / "archive.db")
        settings = {name: self.settings.get(name) for name in RECORDED_SETTINGS}
        base_url = getattr(getattr(spider, "urls", None), "fetch_base", None)
        settings["fetched_from"] = base_url
        portal = getattr(getattr(spider, "profile", None), "name", spider.name)
        self.crawl_id = self.archive.begin_crawl(portal, settings, software_versions())
        spider.crawl_id = self.crawl_id

    def fetch_recorded(self, fetch: dict[str, Any]) -> None:
        self.counts["requests"] += 1
        if fetch.get("status") == 200:
            self.counts["pages"] += 1
        if fetch.get("error"):
            self.counts["errors"] += 1
        self.counts["bytes"] += fetch.get("length") or 0
        self.pending_fetches.append({**fetch, "crawl_id": self.crawl_id})
        if len(self.pending_fetches) >= self.batch_size:
            self.flush()

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if isinstance(item, ArticleRemoved):
            self.pending_removals.append(asdict(item))
            return item
        self.pending_articles.append({**item, "crawl_id": self.crawl_id})
        if len(self.pending_articles) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> None:
        assert self.archive is not None
        if self.pending_fetches:
            self.archive.add_fetches(self.pending_fetches)
            self.pending_fetches = []
        if self.pending_articles:
            saved = self.archive.save_articles(self.pending_articles)
            self.pending_articles = []
            for key in ("new", "updated", "unchanged"):
                self.counts[f"articles_{key}"] += saved.get(key, 0)
        if self.pending_removals:
            self.counts["articles_removed"] += self.archive.mark_removed(self.pending_removals)
            self.pending_removals = []
        self.crawler.signals.send_catch_log(govarchive_signals.rows_committed)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.archive is not None:
            self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Close the crawl row once Scrapy knows why the crawl ended (after close_spider)."""
        if self.archive is None:
            return
        if reason == "finished":
            self.pending_removals.extend(asdict(r) for r in spider.vanished_articles())
        self.flush()
        stats = self.crawler.stats
        self.counts["articles_unchanged"] += stats.get_value("govarchive/articles_not_modified", 0)
        if reason not in ("finished", "closespider_itemcount"):
            status = "interrupted"
        elif self.counts["errors"]:
            status = "done_with_errors"
        else:
            status = "done"
        self.archive.finish_crawl(
            self.crawl_id,
            status,
            self.counts,
            mode=getattr(spider, "mode", None),
            duration_s=round(time.monotonic() - self.started, 3),
            exit_code=EXIT_CODES[status],
        )
        self.status = status
        logger.info("crawl %s %s: %s", self.crawl_id, status, json.dumps(self.counts))
        self.archive.close()
        self.archive = None
