"""Broken links are not asked for again on every routine crawl.

Portals link to pages they never serve: attachments that were not uploaded, articles that were
unpublished before anyone archived them. Such a 404/410 is a *broken link*
(``crawler.middlewares.is_broken_link``): recorded in ``fetches`` with ``broken_link = 1`` and
counted in ``crawls.broken_links``, not an error. An hourly crawl that asked for all of them
again would spend most of its requests on pages known to be missing, so this spider middleware
drops requests for URLs found broken in the last ``GOVARCHIVE_BROKEN_RECHECK_DAYS`` (30) days.
``--full`` (``GOVARCHIVE_FULL``) asks for them all again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals

from archive.store import Archive
from crawler.settings_util import data_dir_from_settings

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


class KnownBrokenLinksMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.broken: set[str] = set()
        self.broken_ids: set[str] = set()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownBrokenLinksMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        settings = self.crawler.settings
        days = settings.getfloat("GOVARCHIVE_BROKEN_RECHECK_DAYS", 30)
        db_path = data_dir_from_settings(settings) / "archive.db"
        profile = getattr(spider, "profile", None)
        if settings.getbool("GOVARCHIVE_FULL") or days <= 0 or profile is None:
            return
        if not db_path.exists():
            return
        since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
        with Archive(db_path) as archive:
            self.broken = archive.broken_links(profile.name, since)
        # The same missing article is linked under several paths (Liferay answers an id under
        # any section): its id is what is broken.
        self.broken_ids = {profile.article_id(url) for url in self.broken} - {None}
        logger.info("%d known broken links will not be requested again", len(self.broken))

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        for item in result:
            if not self._known_broken(item):
                yield item

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        async for item in result:
            if not self._known_broken(item):
                yield item

    def _known_broken(self, item: Any) -> bool:
        if not self.broken or not isinstance(item, Request):
            return False
        urls = getattr(self.crawler.spider, "urls", None)
        url = urls.to_portal(item.url) if urls is not None else item.url
        if url not in self.broken:
            profile = getattr(self.crawler.spider, "profile", None)
            if profile is None or profile.article_id(url) not in self.broken_ids:
                return False
        self.crawler.stats.inc_value("govarchive/broken_links_skipped")
        return True
