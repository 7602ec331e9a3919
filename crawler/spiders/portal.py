"""The one generic spider: walks a portal's listing sections and archives their articles.

Everything portal-specific comes from the profile (``-a portal=sotttt``): which links are
articles and which are further listing pages, and (optional) where sections start; the home
page, every visited page, sitemaps and feeds name the rest (crawler/spiders/discovering.py).
Links are classified with the profile's patterns *before* any Request is built, because
handing every ``<a>`` of a 100-link page to Scrapy costs more than the rest of the crawl.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import NotConfigured
from scrapy.http import Response, TextResponse

from archive.store import Archive
from crawler.discovery import classify_links, lists_in_content
from crawler.discovery import section_url as section_of
from crawler.extract import not_an_article
from crawler.extract.markers import LISTING, OTHER, page_kind
from crawler.extraction_pool import extraction_pool
from crawler.fatal import describe, stop_crawl
from crawler.frontier import DiskSet
from crawler.items import ArticleRemoved, PageNote, SectionVanished, article_row
from crawler.listings import PROBE, listed_links, next_pattern_page
from crawler.profiles import Profile, load_profile
from crawler.settings_util import data_dir_from_settings
from crawler.spiders.discovering import DiscoveryMixin, now_iso
from crawler.urls import UrlMap

logger = logging.getLogger(__name__)


class PortalSpider(DiscoveryMixin, scrapy.Spider):
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
        self._init_discovery()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.mode, self.known, rechecks = self._archive_state()
        logger.info(
            "%s: %s walk, %d articles already archived, %d to recheck",
            self.profile.name,
            self.mode,
            len(self.known),
            len(rechecks),
        )
        for request in self._discovery_starts():
            yield request
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
                broken_days = self.settings.getfloat("GOVARCHIVE_BROKEN_RECHECK_DAYS", 30)
                broken_since = (datetime.now(UTC) - timedelta(days=broken_days)).isoformat()
                for url in archive.broken_links(self.profile.name, broken_since):
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
        return self._walk_links(response, as_section=True)

    def _walk_links(self, response: Response, *, as_section: bool) -> Iterator[Any]:
        """Follow a page's links as a listing's; ``as_section``: the page may be a section
        (not for an article page whose links are walked only to reach more posts)."""
        section = response.meta.get("section")
        known_section = section in self.sections
        if response.status != 200 or not isinstance(response, TextResponse):
            if known_section or not response.meta.get(PROBE):
                self.listing_failures += 1
            if known_section and response.status in (404, 410) and self._is_entry(response):
                yield SectionVanished(section, f"HTTP {response.status}", now_iso())
            return
        depth = response.meta.get("depth", 1)
        page_url = self.urls.to_portal(response.url)
        links = classify_links(response.xpath("//a/@href").getall(), response.url,
                               self.profile, self.urls)  # fmt: skip
        if not as_section:
            pass
        elif links.is_listing and (
            links.pagers or lists_in_content(response, self.profile, self.urls)
        ):
            yield self._section_seen(response, section, links, depth)
        elif known_section and self._is_entry(response):
            yield SectionVanished(section, "no longer lists articles", now_iso())
        yield from self._feeds(response)
        known_in_a_row = response.meta.get("known_in_a_row", 0)
        found_via = f"listing {page_url}"
        # Item links with the date printed beside them, where the template says how to read them.
        listed = {self.urls.to_fetch(link.url): link.date for link in self._listed(response)}
        by_markers = self._classified_by_markers
        for fetch_url, article_id in links.articles:
            if article_id in self.known:
                self.listed_known_ids.add(article_id)
                known_in_a_row += 1
            elif article_id in self.dead_article_ids:
                continue  # a dead link: neither news nor a reason to stop
            else:
                known_in_a_row = 0
                request = self._article_request(
                    fetch_url,
                    article_id,
                    found_via,
                    depth,
                    listing_date=listed.get(fetch_url),
                    probe=by_markers and fetch_url not in listed,
                )
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
        # A pager that links page 0 counts from 0 (Drupal's ?page=N): page 0 is the section's
        # bare first page, already walked when the section was entered there.
        zero_based = any(self.profile.page_number(url) == 0 for url in listings)
        if zero_based and self._entered_bare(section):
            listings = [url for url in listings if self.profile.page_number(url) != 0]
        if self.mode == "incremental":
            if known_in_a_row >= self.profile.stop_after_known:
                logger.debug("%s: caught up at %s", section, response.url)
                return
            if not by_markers:  # there, links to listings are other sections, not pages
                listings = self._next_pages(response.url, listings, zero_based)
        meta = {"section": section, "known_in_a_row": known_in_a_row, "depth": depth}
        for url in listings:
            if by_markers:  # a link shaped like a section: the page will say if it is one
                yield self._listing_request(
                    url, {"section": self.urls.to_portal(url), PROBE: True, "depth": depth}
                )
            else:
                yield self._listing_request(url, dict(meta))
        yield from self._pattern_pager(response, section, meta)

    def _listed(self, response: TextResponse):
        return listed_links(response, self.profile)

    @property
    def _classified_by_markers(self) -> bool:
        """Whether the template tells pages apart by their markers, not by their URLs."""
        return bool(self.profile.article_markers or self.profile.listing_markers)

    def _pattern_pager(
        self, response: TextResponse, section: str | None, meta: dict
    ) -> Iterator[scrapy.Request]:
        """The next page by the template's URL pattern, once this page proved a listing: the
        walk ends at a missing page (404), a page that is not a listing (a placeholder), or
        one that repeats an earlier page (the listing guard drops that one's requests)."""
        if not self.profile.pager_pattern:
            return
        kind = page_kind(response.selector.root, self.profile)
        if kind is not None and kind != LISTING:
            return
        next_url = next_pattern_page(response.url, self.profile)
        if next_url is not None:
            yield self._listing_request(next_url, {**meta, PROBE: True})

    def listing_failed(self, failure) -> None:
        # Recorded in `fetches` by the WARC middleware; here it only vetoes "vanished" marks.
        self.listing_failures += 1

    def download_failed(self, failure) -> None:
        """Errback of every other request (crawler/robustness.py gives it): one log line, no
        traceback; the fetch row already holds the reason."""
        from crawler.robustness import log_download_failure

        log_download_failure(self.crawler, failure)

    def _entered_bare(self, section: str | None) -> bool:
        entry = self.section_entries.get(section) if section else None
        return entry is not None and not self.profile.is_listing(entry)

    def _next_pages(self, url: str, listings: list[str], zero_based: bool = False) -> list[str]:
        """Only the following page: listings are newest first, so a catch-up walk goes in order.
        The bare section page is page 1, or page 0 of a pager that counts from 0."""
        current = self.profile.page_number(url)
        if current is None:
            return listings
        if zero_based and not self.profile.is_listing(url):
            current = 0
        return [u for u in listings if self.profile.page_number(u) == current + 1]

    def _article_request(
        self,
        url: str,
        article_id: str,
        found_via: str,
        depth: int,
        listing_date: str | None = None,
        probe: bool = False,
    ):
        # The portal serves one article under many section paths; the id makes them one.
        if article_id in self.seen_article_ids or article_id in self.dead_article_ids:
            return None
        if self.max_articles is not None and self.articles_scheduled >= self.max_articles:
            return None
        self.seen_article_ids.add(article_id)
        self.articles_scheduled += 1
        meta = {"article_id": article_id, "found_via": found_via, "depth": depth}
        if listing_date:
            meta["listing_date"] = listing_date
        if probe:
            meta[PROBE] = True
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
        if self._classified_by_markers and not recheck:
            kind = page_kind(response.selector.root, self.profile)
            if kind == LISTING:  # a section at an article-shaped URL
                response.meta.update(section=section_of(portal_url, self.profile))
                for request in self.parse_listing(response):
                    yield request
                return
            if kind == OTHER:
                yield PageNote(portal_url, "not an article: the template's markers are missing")
                return
        # In a worker process unless GOVARCHIVE_EXTRACT_WORKERS=0: the reactor keeps crawling.
        extraction = extraction_pool(self)
        try:
            # The body as bytes, decoded by the extractor exactly as `reextract` decodes the
            # WARC payload, so both give the same row.
            article = await extraction.extract(
                response.body, portal_url, response.meta.get("listing_date")
            )
        except Exception as exc:
            # Extraction never raises on bad input (crawler/extract): this is a broken
            # installation or a bug, and it would fail every page the same way.
            stop_crawl(self.crawler, f"extraction failed on {portal_url}: {describe(exc)}")
            return
        reason = not_an_article(article, self.profile.require_content)
        if reason is not None:
            yield PageNote(portal_url, reason)
            return
        row = article_row(article, extraction.profile, response.meta.get("warc"))
        row["found_via"] = response.meta.get("found_via") or ("recheck" if recheck else None)
        self.crawler.stats.inc_value("govarchive/articles_scraped")
        yield row
        if self.settings.getbool("GOVARCHIVE_FETCH_ATTACHMENTS", True):
            for attachment in article.attachments:
                fetch_url = self.urls.to_fetch(attachment.url)
                if urlsplit(fetch_url).hostname in self.allowed_domains:
                    # Archived by the WARC middleware; nothing to parse.
                    yield scrapy.Request(fetch_url, callback=self.archived_only, priority=-1)
        if recheck:
            return
        if self._classified_by_markers:
            # Where URLs cannot tell articles from listings, an article's own links ("TIN ĐÃ
            # ĐƯA" boxes, menus) are followed like a listing's: they are how some posts and
            # sections are reached at all.
            for request in self._walk_links(response, as_section=False):
                yield request
        else:
            for request in self._links_of_article(response):
                yield request

    def archived_only(self, response: Response) -> None:
        return None
