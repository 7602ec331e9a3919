"""The spider's side of discovery (crawler/discovery.py, crawler/sitemaps.py): sections from
every visited page, candidate pages within bounds, sitemaps and feeds, sections as items.

A mixin of :class:`crawler.spiders.portal.PortalSpider`, kept apart so the spider's own module
stays about listings and articles. Callbacks are spider methods, so requests stay serialisable
for the scheduler's disk queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import Response

from archive.store import Archive
from crawler.discovery import (
    Bounds,
    PageLinks,
    classify_links,
    feed_links,
    hrefs_of,
    request_key,
)
from crawler.discovery import section_url as section_of
from crawler.items import FetchNote, SectionSeen
from crawler.listings import PROBE
from crawler.settings_util import data_dir_from_settings
from crawler.sitemaps import parse_feed, parse_sitemap, sitemap_urls_from_robots

logger = logging.getLogger(__name__)


class DiscoveryMixin:
    """Discovery state and callbacks; expects the spider's ``profile``, ``urls``, ``mode``,
    ``known``, ``settings``, ``crawler`` and its ``_listing_request`` / ``_article_request``."""

    def _init_discovery(self) -> None:
        #: Known sections (portal URL -> sections row), revisited by every crawl.
        self.sections: dict[str, dict] = {}
        #: Section URLs walked in this crawl, and candidate pages already queued or cut.
        self.walked_sections: set[str] = set()
        self.seen_candidates: set[str] = set()
        self.seen_feeds: set[str] = set()
        self.vanished_sections: set[str] = set()
        self.logged_sections: set[str] = set()
        #: Article ids whose links answered 404/410 before: a routine crawl does not ask
        #: again every hour (a full walk does).
        self.dead_article_ids: set[str] = set()
        self.seen_candidate_links: set[str] = set()
        #: Distinct article ids listed per section in this crawl (``sections.articles_seen``).
        self.section_articles: dict[str, set[str]] = {}
        self.section_entries: dict[str, str] = {}
        self.sitemaps_read = 0
        self.bounds: Bounds | None = None
        self._archive: Archive | None = None
        self._capture_times: dict[str, str] | None = None

    def _discovery_starts(self) -> Iterator[scrapy.Request]:
        """The home page, known sections, start paths, robots.txt sitemaps, /sitemap.xml."""
        settings = self.settings
        self.bounds = Bounds(
            settings.getint("GOVARCHIVE_DISCOVERY_DEPTH", 3),
            settings.getint("GOVARCHIVE_MAX_DISCOVERY_PAGES", 500),
        )
        discover = settings.getbool("GOVARCHIVE_DISCOVERY", True)
        starts: dict[str, tuple[int, bool]] = {}  # portal URL -> (depth, probe)
        if discover:
            starts[self.profile.base_url + "/"] = (0, True)
        for row in self.sections.values():
            starts.setdefault(row["entry_url"] or row["url"], (row["depth"] or 1, True))
        for path in self.profile.start_paths:
            starts.setdefault(self.profile.base_url + path, (1, False))
        for portal_url, (depth, probe) in starts.items():
            section = section_of(portal_url, self.profile)
            self.seen_candidates.add(portal_url)
            meta = {"section": section, "depth": depth, PROBE: probe}
            if depth > 0:
                # A section the profile names or an earlier crawl found: its page answering
                # 404 means the section vanished, an error (crawler.middlewares._error_of).
                meta["section_root"] = True
            yield self._listing_request(self.urls.to_fetch(portal_url), meta)
        if discover and settings.getbool("GOVARCHIVE_SITEMAPS", True):
            robots = self.urls.to_fetch(self.profile.base_url + "/robots.txt")
            if settings.getbool("ROBOTSTXT_OBEY"):
                # Scrapy's RobotsTxtMiddleware fetches it anyway: read its Sitemap: lines
                # there rather than fetching it twice.
                self.crawler.signals.connect(self._robots_received, signals.response_received)
            else:
                yield scrapy.Request(robots, callback=self.parse_robots, meta={PROBE: True})
            yield self._sitemap_request(self.profile.base_url + "/sitemap.xml")

    def _is_entry(self, response: Response) -> bool:
        """Whether a response is the page a known section is revisited at."""
        row = self.sections.get(response.meta.get("section"), {})
        entry = row.get("entry_url") or row.get("url")
        return entry == self.urls.to_portal(response.request.url)

    def _section_seen(
        self, response: Response, section: str, links: PageLinks, depth: int
    ) -> SectionSeen:
        page_url = self.urls.to_portal(response.url)
        self.walked_sections.add(section)
        title = " ".join((response.xpath("//title/text()").get() or "").split()) or None
        if section not in self.sections and section not in self.logged_sections:
            self.logged_sections.add(section)
            logger.info("%s: new section %s (%s)", self.profile.name, section, title or "")
        # A section is revisited at its first page (a pager-only section at its page 1 link).
        number = self.profile.page_number(page_url)
        entry = self.section_entries.get(section)
        if (number is None or number <= 1) and (
            entry is None
            or (self.profile.is_listing(entry) and not self.profile.is_listing(page_url))
        ):
            entry = self.section_entries[section] = page_url  # the bare page beats pager page 1
        listed = self.section_articles.setdefault(section, set())
        listed.update(article_id for _, article_id in links.articles)
        return SectionSeen(
            url=section,
            portal=self.profile.name,
            title=title,
            found_via=response.meta.get("found_via") or ("start" if depth <= 1 else None),
            seen_at=now_iso(),
            articles=len(listed),
            entry_url=entry,
            depth=depth,
        )

    def _candidates(self, urls: list[str], depth: int, response: Response) -> Iterator[Any]:
        """Requests for the pages that may be sections, within the discovery bounds."""
        if not self.settings.getbool("GOVARCHIVE_DISCOVERY", True):
            return
        assert self.bounds is not None
        keys = {}
        for url in urls:
            if url in self.seen_candidate_links:
                continue
            self.seen_candidate_links.add(url)
            key = request_key(url, self.urls)
            if key not in self.seen_candidates and section_of(key, self.profile) not in (
                self.sections
            ):
                keys[key] = url
        if not keys:
            return
        if self.mode == "incremental":
            # Checked by an earlier crawl: the fetches table remembers every request.
            for key in self._archive_reader().fetch_statuses(keys):
                if section_of(key, self.profile) not in self.vanished_sections:
                    self.seen_candidates.add(key)
                    keys.pop(key, None)
        via = f"link {self.urls.to_portal(response.url)}"
        for key, url in keys.items():
            self.seen_candidates.add(key)
            cut = self.bounds.admit(key, depth)
            if cut:
                yield FetchNote(key, cut, now_iso())
            if cut is not None:
                continue
            # The section under its canonical URL (query sorted), as its pager links name it.
            section = section_of(key, self.profile)
            meta = {"section": section, "depth": depth, PROBE: True, "found_via": via}
            yield self._listing_request(url, meta)

    def _archive_reader(self) -> Archive:
        if self._archive is None:
            db_path = data_dir_from_settings(self.settings) / "archive.db"
            self._archive = Archive(db_path, readonly=True)
        return self._archive

    def closed(self, reason: str) -> None:
        if self.bounds is not None and (self.bounds.checked or self.bounds.examples):
            logger.info("%s: %s", self.profile.name, self.bounds.summary())
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    # -- sitemaps and feeds ---------------------------------------------------------------

    def _sitemap_request(self, portal_url: str) -> scrapy.Request:
        self.sitemaps_read += 1
        return scrapy.Request(
            self.urls.to_fetch(portal_url),
            callback=self.parse_sitemap,
            meta={PROBE: True},
            priority=1,
        )

    def parse_robots(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            return
        for url in sitemap_urls_from_robots(response.body, base_url=self.profile.base_url):
            yield self._sitemap_request(self.urls.to_portal(url))

    def _robots_received(self, response: Response, request: scrapy.Request, spider) -> None:
        if (
            not request.meta.get("dont_obey_robotstxt")
            or urlsplit(request.url).path != "/robots.txt"
        ):
            return
        for sitemap in self.parse_robots(response):
            # Not through the spider middlewares: the downloader's portal guard still applies.
            self.crawler.engine.crawl(sitemap.replace(errback=self.download_failed))

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            return
        sitemap_url = self.urls.to_portal(response.url)
        max_size = self.settings.getint("GOVARCHIVE_SITEMAP_MAX_SIZE", 50 * 1024 * 1024)
        parsed = parse_sitemap(response.body, max_size, self.profile.tz)
        if parsed.problem:
            logger.warning("%s: %s", sitemap_url, parsed.problem)
            yield FetchNote(sitemap_url, parsed.problem, now_iso())
        if parsed.kind == "sitemapindex":
            cap = self.settings.getint("GOVARCHIVE_MAX_SITEMAPS", 100)
            for entry in parsed.entries:
                if self.sitemaps_read >= cap:
                    note = f"more than {cap} sitemaps (GOVARCHIVE_MAX_SITEMAPS): rest not read"
                    yield FetchNote(sitemap_url, note, now_iso())
                    break
                yield self._sitemap_request(entry.url)
        elif parsed.kind == "urlset":
            yield from self._named_urls(parsed.entries, f"sitemap {sitemap_url}", response)

    def _feeds(self, response: Response) -> Iterator[scrapy.Request]:
        if not self.settings.getbool("GOVARCHIVE_SITEMAPS", True):
            return
        for url in feed_links(response):
            fetch_url = self.urls.to_fetch(url)
            if fetch_url not in self.seen_feeds:
                self.seen_feeds.add(fetch_url)
                yield scrapy.Request(fetch_url, callback=self.parse_feed, meta={PROBE: True},
                                     priority=1)  # fmt: skip

    def parse_feed(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            return
        feed_url = self.urls.to_portal(response.url)
        parsed = parse_feed(response.body)
        if parsed.problem:
            logger.warning("%s: %s", feed_url, parsed.problem)
            yield FetchNote(feed_url, parsed.problem, now_iso())
        yield from self._named_urls(parsed.entries, f"feed {feed_url}", response)

    def _named_urls(self, entries, found_via: str, response: Response) -> Iterator[Any]:
        """Articles (and candidate pages) a sitemap or feed names. Known articles whose date
        is later than their capture are rechecked, whatever their age."""
        articles, pages, stale = [], [], []
        for entry in entries:
            fetch_url = self.urls.to_fetch(entry.url)
            portal_url = self.urls.to_portal(fetch_url)
            article_id = self.profile.article_id(portal_url)
            if article_id is None:
                pages.append(fetch_url)
            elif article_id not in self.known:
                articles.append((fetch_url, article_id))
            elif entry.date is not None and self._changed_since_capture(article_id, entry.date):
                stale.append(article_id)
        for fetch_url, article_id in articles:
            request = self._article_request(fetch_url, article_id, found_via, 1)
            if request is not None:
                yield request
        if stale:
            for row in self._archive_reader().recheck_rows(self.profile.name, stale):
                if row["article_id"] not in self.seen_article_ids:
                    yield self._recheck_request(row)
        yield from self._candidates(
            [u for u in pages if not self.profile.is_listing(self.urls.to_portal(u))], 1, response
        )

    def _changed_since_capture(self, article_id: str, date: datetime) -> bool:
        if self._capture_times is None:
            self._capture_times = self._archive_reader().article_capture_times(self.profile.name)
        captured = self._capture_times.get(article_id)
        if not captured:
            return False
        try:
            return date > datetime.fromisoformat(captured)
        except ValueError:
            return False

    def _links_of_article(self, response: Response) -> Iterator[Any]:
        """An article page is a source of sections too (its menus, its breadcrumb). Articles
        it links are not followed: related-article lists reach into every corner of the
        archive's past, which listings, sitemaps and feeds cover in order."""
        if not self.settings.getbool("GOVARCHIVE_DISCOVERY", True):
            return
        depth = response.meta.get("depth", 1)
        hrefs = hrefs_of(response.body, response.encoding)
        links = classify_links(hrefs, response.url, self.profile, self.urls)
        yield from self._candidates(links.candidates, depth + 1, response)
        for url in links.pagers:
            pager_section = section_of(self.urls.to_portal(url), self.profile)
            if pager_section not in self.walked_sections and pager_section not in self.sections:
                self.walked_sections.add(pager_section)
                yield self._listing_request(url, {"section": pager_section, "depth": depth})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
