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

from archive.diskfull import is_disk_full
from archive.store import Archive
from crawler import signals as govarchive_signals
from crawler.extract import FELL_BACK_TO_GENERIC
from crawler.fatal import FAILED, crawl_failure, describe, stop_crawl
from crawler.items import ArticleRemoved, FetchNote, PageNote, SectionSeen, SectionVanished
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
        self.pending_sections: list[dict] = []
        self.pending_vanished: list[dict] = []
        self.pending_notes: list[dict] = []
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
            "broken_links": 0,
            "not_articles": 0,
            "articles_fallback": 0,
            "articles_undated": 0,
        }
        #: Article pages extracted in this crawl (the denominator of the drift report).
        self.extracted = 0
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
        if fetch.get("broken_link"):
            self.counts["broken_links"] += 1
        self.counts["bytes"] += fetch.get("length") or 0
        self.pending_fetches.append({**fetch, "crawl_id": self.crawl_id})
        if len(self.pending_fetches) >= self.batch_size:
            self.flush()

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if isinstance(item, ArticleRemoved):
            self.pending_removals.append(asdict(item))
            return item
        if isinstance(item, PageNote):
            self.counts["not_articles"] += 1
            self.pending_notes.append({**asdict(item), "seen_at": None})
            return item
        if isinstance(item, SectionSeen | SectionVanished | FetchNote):
            self._discovery_item(item)
            return item
        self.extracted += 1
        self.counts["articles_fallback"] += FELL_BACK_TO_GENERIC in (item.get("extractor") or "")
        self.counts["articles_undated"] += not item.get("published_at")
        self.pending_articles.append({**item, "crawl_id": self.crawl_id})
        if len(self.pending_articles) >= self.batch_size:
            self.flush()
        return item

    def _discovery_item(self, item: SectionSeen | SectionVanished | FetchNote) -> None:
        # Notes go on fetch rows but are not requests: they do not count in `requests`.
        if isinstance(item, FetchNote):
            self.pending_notes.append(asdict(item))
        elif isinstance(item, SectionSeen):
            self.pending_sections.append(asdict(item))
        else:
            self.pending_vanished.append(asdict(item))

    def flush(self, *, closing: bool = False) -> None:
        """Commit what is buffered. A full disk stops the crawl (crawler/fatal.py); once a crawl
        is stopping, batches wait in memory, so the room the disk reserve gave back goes first
        to closing the crawl row (see spider_closed), and only then to these rows."""
        if crawl_failure(self.crawler) and not closing:
            return
        try:
            self._flush()
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            stop_crawl(self.crawler, describe(exc))

    def _flush(self) -> None:
        assert self.archive is not None
        if self.pending_sections:
            self.archive.save_sections(self.pending_sections, self.crawl_id)
            self.pending_sections = []
        if self.pending_vanished:
            self.archive.mark_sections_vanished(self.pending_vanished)
            self.pending_vanished = []
        if self.pending_fetches:
            self.archive.add_fetches(self.pending_fetches)
            self.pending_fetches = []
        if self.pending_notes:
            self.archive.add_notes(self.pending_notes, self.crawl_id)
            self.pending_notes = []
        if self.pending_articles:
            saved = self.archive.save_articles(self.pending_articles)
            self.pending_articles = []
            for key in ("new", "updated", "unchanged"):
                self.counts[f"articles_{key}"] += saved.get(key, 0)
        if self.pending_removals:
            self.counts["articles_removed"] += self.archive.mark_removed(self.pending_removals)
            self.pending_removals = []

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.archive is not None:
            self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Close the crawl row once Scrapy knows why the crawl ended (after close_spider)."""
        if self.archive is None:
            return
        failure = crawl_failure(self.crawler)
        if reason == "finished" and not failure:
            self.pending_removals.extend(asdict(r) for r in spider.vanished_articles())
        if failure:
            # The crawl row first: it is what the next run and `status` read.
            self._finish_crawl(spider, "failed", failure, None)
        self.flush(closing=True)
        stats = self.crawler.stats
        self.counts["articles_unchanged"] += stats.get_value("govarchive/articles_not_modified", 0)
        failure = crawl_failure(self.crawler)
        if failure or reason == FAILED:
            status = "failed"
        elif reason not in ("finished", "closespider_itemcount"):
            status = "interrupted"
        elif self.counts["errors"]:
            status = "done_with_errors"
        else:
            status = "done"
        drift = drift_report(
            self.extracted,
            self.counts,
            self.settings.getint("GOVARCHIVE_DRIFT_MIN_PAGES", 10),
            getattr(getattr(spider, "profile", None), "selectors", None),
        )
        if drift:
            logger.warning("%s", drift)
        self._finish_crawl(spider, status, failure, drift)
        self.status = status
        logger.info("crawl %s %s: %s", self.crawl_id, status, json.dumps(self.counts))
        self.archive.close()
        self.archive = None

    def _finish_crawl(self, spider: Spider, status: str, failure: str | None, drift: str | None):
        assert self.archive is not None and self.crawl_id is not None
        try:
            self.archive.finish_crawl(
                self.crawl_id,
                status,
                self.counts,
                mode=getattr(spider, "mode", None),
                duration_s=round(time.monotonic() - self.started, 3),
                exit_code=EXIT_CODES[status],
                failure=failure,
                drift=drift,
            )
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            # crawler.run marks the row failed once the crawl has let go of the disk.
            stop_crawl(self.crawler, describe(exc))


def drift_report(
    extracted: int, counts: dict[str, int], min_pages: int, selectors=None
) -> str | None:
    """One line when most article pages no longer fit the profile, else None.

    A portal that changes its template does not break a crawl: pages still download and the
    generic extractor still finds text. What changes is that the profile's selectors match
    nothing and dates go missing; counted over a crawl, that is the signal to update the
    profile before months of rows are extracted the slow, less exact way.
    """
    if extracted < max(min_pages, 1):
        return None
    problems = []
    if selectors is not None and selectors.body and counts["articles_fallback"] * 2 > extracted:
        problems.append(
            f"{counts['articles_fallback']} of {extracted} article pages did not match the "
            "profile's body selector (extracted generically)"
        )
    if counts["articles_undated"] * 2 > extracted:
        problems.append(f"{counts['articles_undated']} of {extracted} article pages had no date")
    if not problems:
        return None
    return "profile drift: " + "; ".join(problems) + ": the portal may have changed its template"
