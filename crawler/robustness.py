"""Surviving the real government web, as Scrapy middlewares: retries with backoff, redirects
kept on the portal, bodies that are not what they claim, listing loops and traps.

A crawl from cron runs unattended: whatever a portal does, it must keep going, archive what is
good, record what is bad with a reason, and never hang or wander off. Scrapy provides most of
the machinery; this module configures it and fills its gaps:

* :class:`BackoffRetryMiddleware` (replaces Scrapy's RetryMiddleware) waits before each retry:
  ``Retry-After`` when the server gives one (a longer wait than
  ``GOVARCHIVE_RETRY_AFTER_MAX`` is not waited for: the page is recorded as failed), otherwise
  ``GOVARCHIVE_RETRY_BACKOFF`` seconds doubling per attempt. An empty 200 page is retried too.
* :class:`PortalRedirectMiddleware` (replaces RedirectMiddleware) never follows a redirect off
  the portal or round a loop, and maps redirects to the portal's public URL onto the mirror a
  ``--base-url`` crawl fetches from.
* :class:`PortalHostsMiddleware` is the last guard: no request leaves the portal, whatever let
  it through (Scrapy's OffsiteMiddleware skips ``dont_filter`` requests, retries included, and
  compares host names only, not ports).
* :class:`ContentSniffMiddleware` trusts the bytes over ``Content-Type``: a PDF or an image
  served as ``text/html``, or an empty page, reaches the spider as a plain, non-text response,
  so it is archived (the WARC middleware already wrote it) but never extracted as an article.
* :class:`ListingGuardMiddleware` (a spider middleware) drops session ids from links, ends a
  section's pagination at a page listing the same articles as an earlier page of the section
  (portals answer page N+1 of N with page 1 again), caps a section's listing pages
  (``GOVARCHIVE_MAX_LISTING_PAGES`` or the profile's ``links.max_pages``: calendars link the
  next day forever), and gives every request an errback, so a failed download is one log
  line, not a traceback (the spider's ``download_failed``: a spider method, so requests stay
  serialisable for the scheduler's disk queue).

Their shared decisions (retry, redirect, scope, what a body is) live in crawler/fetch_policy.py,
which the WARC middleware asks too, so a fetch row says what these middlewares will do.

Timeouts need nothing of ours: ``DOWNLOAD_TIMEOUT`` bounds the whole download, body included,
so a page that drips a byte a second is cut off like one that never answers.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.python import to_unicode

from crawler.fetch_policy import FetchPolicy, OffPortal, body_problem, describe_exception
from crawler.urls import canonical_url, is_followable, strip_session_ids

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


# -- downloader middlewares ----------------------------------------------------------------


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting before each retry (``Retry-After`` or backoff).

    The wait happens in ``process_request`` of the retried request: it keeps one of the
    ``CONCURRENT_REQUESTS`` slots, which slows the crawl while a portal is struggling, as it
    should, and keeps the engine from thinking the crawl is over.
    """

    policy: FetchPolicy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        middleware = super().from_crawler(crawler)
        middleware.policy = FetchPolicy.of(crawler)
        return middleware

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        due = request.meta.pop("govarchive_retry_at", None)
        wait = due - time.monotonic() if due else 0
        if wait > 0:
            from scrapy.utils.defer import maybe_deferred_to_future
            from twisted.internet import reactor, task

            await maybe_deferred_to_future(task.deferLater(reactor, wait))
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False):
            return response
        problem = None
        if response.status == 200:
            content_type = to_unicode(response.headers.get(b"Content-Type") or b"", "latin-1")
            problem = body_problem(response.body, content_type, request.url)
        reason, wait, refusal = self.policy.response_retry(request, response, problem)
        if reason is None:
            return response
        if refusal:
            logger.warning("%s: %s: %s", request.url, reason, refusal)
            return response
        return self._delayed(self._retry(request, reason), wait) or response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            return self._delayed(retry, self.policy.backoff_delay(request))
        return retry

    @staticmethod
    def _delayed(request: Request | None, wait: float) -> Request | None:
        if request is not None and wait > 0:
            request.meta["govarchive_retry_at"] = time.monotonic() + wait
        return request


class PortalRedirectMiddleware(RedirectMiddleware):
    """Scrapy's RedirectMiddleware, refusing redirects off the portal and round loops, and
    mapping redirects to the portal's public URLs onto the mirror being crawled."""

    policy: FetchPolicy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PortalRedirectMiddleware:
        middleware = super().from_crawler(crawler)
        middleware.policy = FetchPolicy.of(crawler)
        return middleware

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        location = self.policy.location(request, response)
        if location is not None:
            refusal = self.policy.redirect_refusal(request, location)
            if refusal:
                logger.warning("%s: %s", request.url, refusal)
                self.crawler.stats.inc_value("govarchive/redirects_refused")
                return response
            scope = self.policy.scope
            mirrored = scope.mirrored(location) if scope else None
            if mirrored:
                headers = response.headers.copy()
                headers[b"Location"] = mirrored
                response = response.replace(headers=headers)
        return super().process_response(request, response)


class PortalHostsMiddleware:
    """No request leaves the portal: the portal's hosts, or exactly the mirror's host:port."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.policy = FetchPolicy.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PortalHostsMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> Request | None:
        scope = self.policy.scope
        if scope is None or scope.allows(request.url):
            return None
        mirrored = scope.mirrored(request.url)
        if mirrored:
            return request.replace(url=mirrored)
        self.crawler.stats.inc_value("govarchive/offsite_blocked")
        raise OffPortal(f"{request.url} is not on the portal: not fetched")


class ContentSniffMiddleware:
    """Bytes over labels: a binary or empty body reaches the spider as a non-text Response.

    Sits below the retry middleware, so it sees final answers only.
    """

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContentSniffMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if response.status != 200 or not isinstance(response, TextResponse):
            return response
        content_type = to_unicode(response.headers.get(b"Content-Type") or b"", "latin-1")
        problem = body_problem(response.body, content_type, request.url)
        if problem is None:
            return response
        self.stats.inc_value(f"govarchive/body_{problem.kind}")
        logger.warning("%s: %s", request.url, problem.text)
        if problem.kind == "truncated":
            return response
        return Response(
            response.url,
            status=response.status,
            headers=response.headers,
            body=response.body,
            flags=response.flags,
            request=response.request,
            certificate=response.certificate,
            ip_address=response.ip_address,
            protocol=response.protocol,
        )


# -- spider middleware ---------------------------------------------------------------------


class ListingGuardMiddleware:
    """Session ids, listing loops, listing page caps and errbacks; see the module doc."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.policy = FetchPolicy.of(crawler)
        self.default_cap = crawler.settings.getint("GOVARCHIVE_MAX_LISTING_PAGES", 1000)
        # section -> article ids of a listing page -> (first URL, its page number)
        self.article_sets: dict[str | None, dict[frozenset[str], tuple[str, int | None]]]
        self.article_sets = defaultdict(dict)
        self.listing_pages: dict[str | None, set[str]] = defaultdict(set)
        self.capped: set[str | None] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ListingGuardMiddleware:
        return cls(crawler)

    @property
    def cap(self) -> int:
        profile = getattr(self.crawler.spider, "profile", None)
        return getattr(profile, "max_listing_pages", None) or self.default_cap

    # -- the three entry points ----------------------------------------------------------------

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in start:
            item = self._outgoing(item, stop_paging=False)
            if item is not None:
                yield item

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        stop_paging = self._repeats_earlier_page(response)
        for item in result:
            item = self._outgoing(item, stop_paging)
            if item is not None:
                yield item

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        stop_paging = self._repeats_earlier_page(response)
        async for item in result:
            item = self._outgoing(item, stop_paging)
            if item is not None:
                yield item

    # -- decisions -----------------------------------------------------------------------------

    def _outgoing(self, item: Any, stop_paging: bool) -> Any:
        if not isinstance(item, Request):
            return item
        url = strip_session_ids(item.url)
        if url != item.url:
            self.crawler.stats.inc_value("govarchive/session_ids_dropped")
            item = item.replace(url=url)
        scope = self.policy.scope
        if scope is not None and not scope.allows(url) and not scope.mirrored(url):
            self.crawler.stats.inc_value("govarchive/offsite_links")
            logger.debug("not following %s: not on the portal", url)
            return None
        errback = getattr(self.crawler.spider, "download_failed", None)
        if item.errback is None and errback is not None:
            # A spider method, so the request can still go to the scheduler's disk queue.
            item = item.replace(errback=errback)
        if is_listing_request(item) and not self._admit_listing(item, stop_paging):
            return None
        return item

    def _admit_listing(self, request: Request, stop_paging: bool) -> bool:
        if stop_paging:
            return False
        section = request.meta.get("section")
        pages = self.listing_pages[section]
        key = canonical_url(request.url)
        if key in pages:
            return True  # the scheduler's duplicate filter drops it
        if len(pages) >= self.cap:
            if section not in self.capped:
                self.capped.add(section)
                self.crawler.stats.inc_value("govarchive/listing_caps")
                logger.warning(
                    "section %s: %d listing pages reached (GOVARCHIVE_MAX_LISTING_PAGES or the "
                    "profile's links.max_pages); its further pages are not followed",
                    _section_name(section),
                    self.cap,
                )
            return False
        pages.add(key)
        return True

    def _repeats_earlier_page(self, response: Response) -> bool:
        """Whether a listing page lists the same articles as an earlier, other page of its
        section: page 7 of a 6-page listing that answers with page 1 again. Pages with the same
        number (the bare section and its ``_101_cur=1``) are one page, whatever their URLs."""
        request = response.request
        spider = self.crawler.spider
        if (
            request is None
            or not is_listing_request(request)
            or response.status != 200
            or not isinstance(response, TextResponse)
            or not hasattr(spider, "profile")
        ):
            return False
        urls, profile = spider.urls, spider.profile
        ids = set()
        for href in response.xpath("//a/@href").getall():
            if is_followable(href):
                article_id = profile.article_id(
                    urls.to_portal(urls.to_fetch(urljoin(response.url, href.strip())))
                )
                if article_id:
                    ids.add(article_id)
        section = request.meta.get("section")
        number = profile.page_number(response.url)
        first, first_number = self.article_sets[section].setdefault(
            frozenset(ids), (response.url, number)
        )
        if first == response.url or (number is not None and number == first_number):
            return False  # the same page under another URL (the bare section is page 1)
        self.crawler.stats.inc_value("govarchive/listing_loops")
        logger.warning(
            "section %s: %s lists the same %d articles as %s: its pagination is not followed",
            _section_name(section),
            response.url,
            len(ids),
            first,
        )
        return True


def log_download_failure(crawler: Crawler, failure: Any) -> None:
    """A request that got no response: one readable line (its fetch row has the reason)."""
    if failure.check(IgnoreRequest):
        return
    request = getattr(failure, "request", None)
    policy = FetchPolicy.of(crawler)
    logger.warning(
        "gave up on %s: %s",
        request.url if request is not None else "a request",
        describe_exception(failure.value, policy.timeout, policy.maxsize),
    )


def _section_name(section: str | None) -> str | None:
    """A section as the log names it: its path (sections are keyed by their portal URL)."""
    if not section or "://" not in section:
        return section
    parts = urlsplit(section)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def is_listing_request(request: Request) -> bool:
    return getattr(request.callback, "__name__", None) == "parse_listing"
