"""Run one crawl in this process: the code path shared by ``govarchive crawl`` and ``demo``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.store import Archive
from crawler.profiles import Profile
from crawler.spiders.portal import PortalSpider

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2


@dataclass
class CrawlResult:
    crawl_id: int | None
    status: str
    counts: dict[str, int]
    article_count: int

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


def run_crawl(
    profile: Profile,
    data_dir: Path,
    *,
    base_url: str | None = None,
    max_articles: int | None = None,
    overrides: dict[str, str] | None = None,
) -> CrawlResult:
    """Crawl a portal into ``data_dir`` and return what the ``crawls`` row says about it.

    Scrapy's reactor can start once per process, so call this once per process.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    process = CrawlerProcess(crawl_settings(data_dir, overrides))
    process.crawl(PortalSpider, portal=profile, base_url=base_url, max_articles=max_articles)
    process.start()
    with Archive(data_dir / "archive.db") as archive:
        crawl = archive.last_crawl(profile.name)
        articles = archive.article_count(profile.name)
    if crawl is None:
        return CrawlResult(None, "failed", {}, articles)
    counts = {
        k: crawl[k]
        for k in (
            "requests",
            "pages",
            "articles_new",
            "articles_updated",
            "articles_unchanged",
            "errors",
            "bytes",
        )
        if crawl.get(k) is not None
    }
    return CrawlResult(crawl["id"], crawl["status"], counts, articles)
