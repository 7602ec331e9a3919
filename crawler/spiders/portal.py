"""The one generic spider: walks a portal's listing sections and archives their articles.

Everything portal-specific comes from the profile (``-a portal=sotttt``): where the sections
start, which links are further listing pages and which are articles. Links are classified with
the profile's patterns *before* any Request is built, because handing every ``<a>`` of a
100-link page to Scrapy costs more than the rest of the crawl.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response, TextResponse

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
from crawler.extraction_pool import extraction_pool
from crawler.frontier import DiskSet
from crawler.items import ArticleRemoved, FetchNote, SectionSeen, SectionVanished, article_row
from crawler.profiles import Profile, load_profile
from crawler.settings_util import data_dir_from_settings
from crawler.sitemaps import parse_feed, parse_sitemap, sitemap_urls_from_robots
from crawler.urls import UrlMap

logger = logging.getLogger(__name__)


class PortalSpider(scrapy.Spider):
    name = "portal"

    def __init__(
        self,
        portal: str | None = None,
        base_url: str | None = None,
        max_articles: int | str | None = None,
        *args: Any,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if not portal:
            raise NotConfigured("PortalSpider needs a portal: scrapy crawl portal -a portal=NAME")
        self.profile: Profile = portal if isinstance(portal, Profile) else load_profile(portal)
        self.urls = UrlMap(self.profile.base_url, base_url)
        self.max_articles = int(max_articles) if max_articles else None
        self.allowed_domains = sorted({*self.profile.hosts, self.urls.fetch_host})
        # On disk: a backfill schedules 100k+ ids (crawler/frontier.py).
        self.seen_article_ids = DiskSet()
        self.articles_scheduled = 0
        #: Archived articles of this portal (article id → canonical URL), not fetched again
        #: unless they are due for a recheck.
        self.known: dict[str, str] = {}
        self.listed_known_ids: set[str] = set()
        self.listing_failures = 0
        self.mode = "full"
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

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.mode, self.known, rechecks = self._archive_state()
        logger.info(
            "%s: %s walk, %d articles already archived, %d to recheck",
            self.profile.name,
            self.mode,
            len(self.known),
            len(rechecks),
        )
        settings = self.settings
        self.bounds = Bounds(
            settings.getint("GOVARCHIVE_DISCOVERY_DEPTH", 3),
            settings.getint("GOVARCHIVE_MAX_DISCOVERY_PAGES", 500),
        )
        discover = settings.getbool("GOVARCHIVE_DISCOVERY", True)
        starts: dict[str, tuple[int, bool]] = {}  # portal URL -> (depth, probe)
        if discover:
            starts[self.profile.base_url + "/"] = (0, True)
        # A known section that answers 404 is a change to record (vanished), not an error.
        for row in self.sections.values():
            starts.setdefault(row["entry_url"] or row["url"], (row["depth"] or 1, True))
        for path in self.profile.start_paths:
            starts.setdefault(self.profile.base_url + path, (1, False))
        for portal_url, (depth, probe) in starts.items():
            section = section_of(portal_url, self.profile)
            self.seen_candidates.add(portal_url)
            meta = {"section": section, "depth": depth, "probe": probe}
            yield self._listing_request(self.urls.to_fetch(portal_url), meta)
        if discover and settings.getbool("GOVARCHIVE_SITEMAPS", True):
            robots = self.urls.to_fetch(self.profile.base_url + "/robots.txt")
            if settings.getbool("ROBOTSTXT_OBEY"):
                # Scrapy's RobotsTxtMiddleware fetches it anyway: read its Sitemap: lines
                # there rather than fetching it twice.
                self.crawler.signals.connect(self._robots_received, signals.response_received)
            else:
                yield scrapy.Request(robots, callback=self.parse_robots, meta={"probe": True})
            yield self._sitemap_request(self.profile.base_url + "/sitemap.xml")
        for article in rechecks:
            yield self._recheck_request(article)

    def _archive_state(self) -> tuple[str, dict[str, str], list[dict]]:
        """The walk mode, the archived articles, and those due for a conditional recheck.

        Incremental walks stop each section at known articles, so they are only safe once a
        full walk of the portal has finished: otherwise a crawl killed half-way (or limited by
        --max-articles) would leave its older articles unreachable forever.
        """
        db_path = data_dir_from_settings(self.settings) / "archive.db"
        if not db_path.exists():
            return ("limited" if self.max_articles else "full"), {}, []
        days = self.settings.getfloat("GOVARCHIVE_RECHECK_DAYS", 7)
        since = (datetime.now(self.profile.tz) - timedelta(days=days)).isoformat()
        with Archive(db_path) as archive:
            known = archive.article_urls_by_id(self.profile.name)
            for row in archive.sections(self.profile.name):
                if row["state"] == "active":
                    self.sections[row["url"]] = row
                else:
                    self.vanished_sections.add(row["url"])
            rechecks = archive.recheck_candidates(self.profile.name, since) if days > 0 else []
            if self.max_articles is not None:
                mode = "limited"
            elif self.settings.getbool("GOVARCHIVE_FULL"):
                mode = "full"
            else:
                mode = "incremental" if archive.has_complete_walk(self.profile.name) else "full"
            if mode == "incremental":
                for url in archive.failed_urls(self.profile.name):
                    article_id = self.profile.article_id(url)
                    if article_id is not None and article_id not in known:
                        self.dead_article_ids.add(article_id)
        return mode, known, rechecks

    def _listing_request(self, url: str, meta: dict) -> scrapy.Request:
        return scrapy.Request(
            url, callback=self.parse_listing, errback=self.listing_failed, meta=meta
        )

    def _recheck_request(self, article: dict) -> scrapy.Request:
        """A conditional GET of an archived article: 304 costs the portal next to nothing."""
        self.seen_article_ids.add(article["article_id"])
        headers = {}
        if article.get("etag"):
            headers["If-None-Match"] = article["etag"]
        if article.get("last_modified"):
            headers["If-Modified-Since"] = article["last_modified"]
        url = self.urls.to_fetch(article["fetched_url"] or article["url"])
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse_article,
            meta={"article_id": article["article_id"], "recheck": article["url"]},
            dont_filter=True,
        )

    def vanished_articles(self) -> list[ArticleRemoved]:
        """Archived articles that a complete full walk did not find in any listing."""
        if self.mode != "full" or self.listing_failures:
            return []
        seen_at = datetime.now(UTC).isoformat(timespec="seconds")
        return [
            ArticleRemoved(url, "vanished from the portal's listings", seen_at)
            for article_id, url in self.known.items()
            if article_id not in self.listed_known_ids
        ]

    # -- listings ----------------------------------------------------------------------------

    def parse_listing(self, response: Response) -> Iterator[Any]:
        """A listing page, or a candidate page that may turn out to be one."""
        section = response.meta.get("section")
        known_section = section in self.sections
        if response.status != 200 or not isinstance(response, TextResponse):
            if known_section or not response.meta.get("probe"):
                self.listing_failures += 1
            if known_section and response.status in (404, 410) and self._is_entry(response):
                yield SectionVanished(section, f"HTTP {response.status}", _now())
            return
        depth = response.meta.get("depth", 1)
        page_url = self.urls.to_portal(response.url)
        links = classify_links(response.xpath("//a/@href").getall(), response.url,
                               self.profile, self.urls)  # fmt: skip
        if links.is_listing:
            yield self._section_seen(response, section, links, depth)
        elif known_section and self._is_entry(response):
            yield SectionVanished(section, "no longer lists articles", _now())
        yield from self._feeds(response)
        known_in_a_row = response.meta.get("known_in_a_row", 0)
        found_via = f"listing {page_url}"
        for fetch_url, article_id in links.articles:
            if article_id in self.known:
                self.listed_known_ids.add(article_id)
                known_in_a_row += 1
            elif article_id in self.dead_article_ids:
                continue  # a dead link: neither news nor a reason to stop
            else:
                known_in_a_row = 0
                request = self._article_request(fetch_url, article_id, found_via, depth)
                if request is not None:
                    yield request
        yield from self._candidates(links.candidates, depth + 1, response)
        own, other = [], []
        for url in links.pagers:
            pager_section = section_of(self.urls.to_portal(url), self.profile)
            (own if pager_section == section else other).append((url, pager_section))
        for url, pager_section in other:
            # Another section's pager: a section of its own (known ones are revisited anyway).
            if pager_section in self.walked_sections or (
                self.mode == "incremental" and pager_section in self.sections
            ):
                continue
            self.walked_sections.add(pager_section)
            meta = {"section": pager_section, "depth": depth, "found_via": f"link {page_url}"}
            yield self._listing_request(url, meta)
        listings = [url for url, _ in own]
        if self.mode == "incremental":
            if known_in_a_row >= self.profile.stop_after_known:
                logger.debug("%s: caught up at %s", section, response.url)
                return
            listings = self._next_pages(response.url, listings)
        meta = {"section": section, "known_in_a_row": known_in_a_row, "depth": depth}
        for url in listings:
            yield self._listing_request(url, dict(meta))

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
            seen_at=_now(),
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
                yield FetchNote(key, cut, _now())
            if cut is not None:
                continue
            meta = {"section": key, "depth": depth, "probe": True, "found_via": via}
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
            meta={"probe": True},
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
            yield FetchNote(sitemap_url, parsed.problem, _now())
        if parsed.kind == "sitemapindex":
            cap = self.settings.getint("GOVARCHIVE_MAX_SITEMAPS", 100)
            for entry in parsed.entries:
                if self.sitemaps_read >= cap:
                    note = f"more than {cap} sitemaps (GOVARCHIVE_MAX_SITEMAPS): rest not read"
                    yield FetchNote(sitemap_url, note, _now())
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
                yield scrapy.Request(fetch_url, callback=self.parse_feed, meta={"probe": True},
                                     priority=1)  # fmt: skip

    def parse_feed(self, response: Response) -> Iterator[Any]:
        if response.status != 200:
            return
        feed_url = self.urls.to_portal(response.url)
        parsed = parse_feed(response.body)
        if parsed.problem:
            logger.warning("%s: %s", feed_url, parsed.problem)
            yield FetchNote(feed_url, parsed.problem, _now())
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

    def listing_failed(self, failure) -> None:
        # Recorded in `fetches` by the WARC middleware; here it only vetoes "vanished" marks.
        self.listing_failures += 1

    def download_failed(self, failure) -> None:
        """Errback of every other request (crawler/robustness.py gives it): one log line, no
        traceback; the fetch row already holds the reason."""
        from crawler.robustness import log_download_failure

        log_download_failure(self.crawler, failure)

    def _next_pages(self, url: str, listings: list[str]) -> list[str]:
        """Only the following page: listings are newest first, so a catch-up walk goes in order."""
        current = self.profile.page_number(url)
        if current is None:
            return listings
        return [u for u in listings if self.profile.page_number(u) == current + 1]

    def _article_request(self, url: str, article_id: str, found_via: str, depth: int):
        # The portal serves one article under many section paths; the id makes them one.
        if article_id in self.seen_article_ids or article_id in self.dead_article_ids:
            return None
        if self.max_articles is not None and self.articles_scheduled >= self.max_articles:
            return None
        self.seen_article_ids.add(article_id)
        self.articles_scheduled += 1
        meta = {"article_id": article_id, "found_via": found_via, "depth": depth}
        return scrapy.Request(url, callback=self.parse_article, meta=meta)

    # -- articles ----------------------------------------------------------------------------

    async def parse_article(self, response: Response) -> AsyncIterator[Any]:
        recheck = response.meta.get("recheck")
        if response.status == 304:
            self.crawler.stats.inc_value("govarchive/articles_not_modified")
            return
        if recheck and response.status in (404, 410):
            seen_at = datetime.now(UTC).isoformat(timespec="seconds")
            yield ArticleRemoved(recheck, f"HTTP {response.status}", seen_at)
            return
        if response.status != 200 or not isinstance(response, TextResponse):
            return
        portal_url = self.urls.to_portal(response.url)
        # In a worker process unless GOVARCHIVE_EXTRACT_WORKERS=0: the reactor keeps crawling.
        extraction = extraction_pool(self)
        try:
            # The body as bytes, decoded by the extractor exactly as `reextract` decodes the
            # WARC payload, so both give the same row.
            article = await extraction.extract(response.body, portal_url)
        except Exception:
            # Extraction is pure and meant never to raise; if it does, the page is still in the
            # WARC and `reextract` can retry it, so log and keep crawling.
            logger.exception("extraction failed for %s", portal_url)
            self.crawler.stats.inc_value("govarchive/extraction_errors")
            return
        row = article_row(article, extraction.profile, response.meta.get("warc"))
        row["found_via"] = response.meta.get("found_via") or ("recheck" if recheck else None)
        self.crawler.stats.inc_value("govarchive/articles_scraped")
        yield row
        if not recheck:
            for request in self._links_of_article(response):
                yield request
        if self.settings.getbool("GOVARCHIVE_FETCH_ATTACHMENTS", True):
            for attachment in article.attachments:
                fetch_url = self.urls.to_fetch(attachment.url)
                if urlsplit(fetch_url).hostname in self.allowed_domains:
                    # Archived by the WARC middleware; nothing to parse.
                    yield scrapy.Request(fetch_url, callback=self.archived_only, priority=-1)

    def archived_only(self, response: Response) -> None:
        return None

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
