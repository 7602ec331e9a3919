"""Surviving the real government web: retries with backoff, redirects kept on the portal,
bodies that are not what they claim, listing loops and traps.

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

:class:`FetchPolicy` holds the decisions they share. The WARC middleware writes each fetch row
when the bytes arrive, before the retry and redirect middlewares act on them; asking the same
policy lets the row say what will happen: ``error`` for a failure (counted in the crawl's
errors, exit status 1), ``note`` for what is not one (a retried attempt, a page robots.txt
forbids, a PDF served as HTML).

Timeouts need nothing of ours: ``DOWNLOAD_TIMEOUT`` bounds the whole download, body included,
so a page that drips a byte a second is cut off like one that never answers.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.misc import load_object
from scrapy.utils.python import to_unicode
from w3lib.url import safe_url_string

from crawler.urls import canonical_url, is_followable, strip_session_ids

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"Rar!", "a RAR archive"),
    (b"\x1f\x8b", "gzip data"),
)


class OffPortal(IgnoreRequest):
    """A request for a URL outside the portal: never sent."""


# -- what a body is ------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyProblem:
    kind: str  # "empty", "binary" or "truncated"
    text: str


def body_problem(body: bytes, content_type: str, url: str) -> BodyProblem | None:
    """What is wrong with a 200 response's (decoded) body for a page crawl, if anything.

    Only bodies that claim to be text (or claim nothing) are judged: a PDF served as a PDF is
    an attachment, not a problem. robots.txt may be empty.
    """
    declared = content_type.split(";")[0].strip().lower()
    if declared and not declared.startswith("text/") and "html" not in declared:
        return None
    if not body or body.isspace():
        if urlsplit(url).path == "/robots.txt":
            return None
        return BodyProblem("empty", "empty body (HTTP 200 with no content)")
    name = next((kind for magic, kind in _MAGIC if body.startswith(magic)), None)
    if name is None and b"\0" in body[:1024]:
        name = "binary data"
    if name:
        claimed = f"Content-Type says {declared}" if declared else "no Content-Type"
        return BodyProblem("binary", f"not extracted: the body is {name} ({claimed})")
    head, tail = body[:4096].lower(), body[-4096:].lower()
    if b"<html" in head and b"</html" not in tail:
        return BodyProblem(
            "truncated", "HTML ends before </html> (truncated?): archived and extracted as sent"
        )
    return None


# -- the portal's scope --------------------------------------------------------------------


class PortalScope:
    """Where requests may go: the portal's hosts, or only the mirror a ``--base-url`` crawl
    fetches from (host *and* port), to which the portal's own URLs are mapped."""

    def __init__(self, spider: Spider):
        self.urls = spider.urls
        self.hosts = {h.lower() for h in spider.profile.hosts}
        mirrored = self.urls.is_mirrored
        self.mirror = urlsplit(self.urls.fetch_base).netloc.lower() if mirrored else None

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return False
        if self.mirror is not None:
            return parts.netloc.lower() == self.mirror
        return (parts.hostname or "") in self.hosts

    def mirrored(self, url: str) -> str | None:
        """The mirror's URL for a URL of the portal itself, when crawling a mirror."""
        parts = urlsplit(url)
        if self.mirror is None or (parts.hostname or "") not in self.hosts:
            return None
        fetch = urlsplit(self.urls.fetch_base)
        return urlunsplit((fetch.scheme, fetch.netloc, parts.path, parts.query, ""))


# -- shared decisions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """How one exchange goes into ``fetches``: a failure (``error``) or a remark (``note``)."""

    error: str | None = None
    note: str | None = None

    def as_row(self) -> dict[str, str | None]:
        return {"error": self.error, "note": self.note}


class FetchPolicy:
    """Retry, redirect and body decisions, shared by the middlewares and the fetch rows."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.retry_enabled = settings.getbool("RETRY_ENABLED")
        self.max_retry_times = settings.getint("RETRY_TIMES")
        self.retry_http_codes = {int(code) for code in settings.getlist("RETRY_HTTP_CODES")}
        self.retry_exceptions = tuple(
            load_object(x) if isinstance(x, str) else x
            for x in settings.getlist("RETRY_EXCEPTIONS")
        )
        self.backoff = settings.getfloat("GOVARCHIVE_RETRY_BACKOFF", 2.0)
        self.backoff_max = settings.getfloat("GOVARCHIVE_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("GOVARCHIVE_RETRY_AFTER_MAX", 120.0)
        self.redirect_enabled = settings.getbool("REDIRECT_ENABLED")
        self.max_redirects = settings.getint("REDIRECT_MAX_TIMES")
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        self.maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self._scope: PortalScope | None = None
        self._decoder: Any = None

    @classmethod
    def of(cls, crawler: Crawler) -> FetchPolicy:
        """The crawler's one policy (middlewares are built separately; decisions must agree)."""
        policy = getattr(crawler, "_govarchive_fetch_policy", None)
        if policy is None:
            policy = cls(crawler)
            crawler._govarchive_fetch_policy = policy
        return policy

    @property
    def scope(self) -> PortalScope | None:
        spider = self.crawler.spider
        if self._scope is None and hasattr(spider, "urls") and hasattr(spider, "profile"):
            self._scope = PortalScope(spider)
        return self._scope

    # -- retries -----------------------------------------------------------------------------

    def attempt(self, request: Request) -> tuple[int, int]:
        """(this attempt's number, how many attempts the request may have)."""
        allowed = request.meta.get("max_retry_times", self.max_retry_times)
        return request.meta.get("retry_times", 0) + 1, allowed + 1

    def _retries_left(self, request: Request) -> bool:
        attempt, allowed = self.attempt(request)
        return self.retry_enabled and not request.meta.get("dont_retry") and attempt < allowed

    def backoff_delay(self, request: Request) -> float:
        attempt, _ = self.attempt(request)
        return min(self.backoff * 2 ** (attempt - 1), self.backoff_max)

    def retry_after(self, response: Response) -> float | None:
        value = response.headers.get(b"Retry-After")
        if not value:
            return None
        text = to_unicode(value, errors="replace").strip()
        if text.isdigit():
            return float(text)
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())

    def response_retry(
        self, request: Request, response: Response, problem: BodyProblem | None = None
    ) -> tuple[str | None, float, str | None]:
        """For a response: (why retry, how long to wait first, why not after all)."""
        if response.status in self.retry_http_codes:
            reason = _status_text(response.status)
        elif response.status == 200 and problem is not None and problem.kind == "empty":
            reason = problem.text
        else:
            return None, 0.0, None
        wait = self.retry_after(response)
        if wait is not None and wait > self.retry_after_max:
            return (
                reason,
                0.0,
                (
                    f"Retry-After asks for {wait:.0f} s, longer than GOVARCHIVE_RETRY_AFTER_MAX "
                    f"({self.retry_after_max:g} s): not retried"
                ),
            )
        return reason, (wait if wait is not None else self.backoff_delay(request)), None

    # -- redirects ---------------------------------------------------------------------------

    def location(self, request: Request, response: Response) -> str | None:
        """Where a redirect response sends the crawl, if RedirectMiddleware would follow it."""
        if (
            not self.redirect_enabled
            or response.status not in REDIRECT_STATUSES
            or b"Location" not in response.headers
            or request.meta.get("dont_redirect")
            or request.meta.get("handle_httpstatus_all")
            or response.status in request.meta.get("handle_httpstatus_list", ())
        ):
            return None
        location = safe_url_string(response.headers[b"Location"])
        if location.startswith("//"):
            location = urlsplit(request.url).scheme + ":" + location
        return urljoin(request.url, location)

    def redirect_refusal(self, request: Request, location: str) -> str | None:
        """Why a redirect to ``location`` is not followed, or None to follow it."""
        if urlsplit(location).scheme not in ("http", "https"):
            return None  # RedirectMiddleware ignores these itself
        scope = self.scope
        if scope is not None and not scope.allows(location) and not scope.mirrored(location):
            return f"redirect to {location} leaves the portal: not followed"
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if canonical_url(location) in {canonical_url(url) for url in chain}:
            return f"redirect loop ({' -> '.join(chain)} -> {location}): not followed"
        return None

    def too_many_redirects(self, request: Request) -> bool:
        ttl = request.meta.get("redirect_ttl", self.max_redirects)
        return not ttl or request.meta.get("redirect_times", 0) + 1 > self.max_redirects

    # -- fetch rows --------------------------------------------------------------------------

    def response_verdict(
        self, request: Request, response: Response, http_error: str | None
    ) -> Verdict:
        """The fetch row's error/note for a response, as the WARC middleware receives it."""
        location = self.location(request, response)
        if location is not None:
            refusal = self.redirect_refusal(request, location)
            if refusal:
                return Verdict(error=refusal)
            if self.too_many_redirects(request):
                return Verdict(
                    error=f"too many redirects: more than {self.max_redirects} "
                    f"(REDIRECT_MAX_TIMES), last to {location}"
                )
            return Verdict()
        problem = None
        if response.status == 200 and request.method != "HEAD":
            body, undecodable = self.decoded_body(request, response)
            if undecodable:
                return Verdict(error=undecodable)
            content_type = to_unicode(response.headers.get(b"Content-Type") or b"", "latin-1")
            problem = body_problem(body, content_type, request.url)
        reason, wait, refusal = self.response_retry(request, response, problem)
        if reason and refusal is None and self._retries_left(request):
            attempt, allowed = self.attempt(request)
            return Verdict(
                note=f"retried: {reason} (attempt {attempt} of {allowed}; next in {wait:.3g} s)"
            )
        if reason:
            attempt, _ = self.attempt(request)
            detail = refusal or (f"gave up after {attempt} attempts" if attempt > 1 else None)
            base = http_error or reason
            return Verdict(error=f"{base}: {detail}" if detail else base)
        if http_error:
            return Verdict(error=http_error)
        return Verdict(note=problem.text) if problem else Verdict()

    def exception_verdict(self, request: Request, exception: BaseException) -> Verdict:
        """The fetch row's error/note for a request that got no response."""
        if isinstance(exception, OffPortal):
            return Verdict(error=str(exception))
        if isinstance(exception, IgnoreRequest):
            if "robots.txt" in str(exception):
                return Verdict(note="skipped: forbidden by the portal's robots.txt")
            return Verdict(note=f"skipped: {exception}")
        reason = describe_exception(exception, self.timeout, self.maxsize)
        if not isinstance(exception, self.retry_exceptions) or request.meta.get("dont_retry"):
            return Verdict(error=reason)
        attempt, allowed = self.attempt(request)
        if self._retries_left(request):
            wait = self.backoff_delay(request)
            return Verdict(
                note=f"retried: {reason} (attempt {attempt} of {allowed}; next in {wait:.3g} s)"
            )
        return Verdict(error=f"{reason}: gave up after {attempt} attempts")

    def decoded_body(self, request: Request, response: Response) -> tuple[bytes, str | None]:
        """The body as HttpCompressionMiddleware will hand it on, or why it cannot.

        The WARC middleware sees the body as sent (compressed); judging it needs what the
        spider will get. Scrapy's own decoder is used, with its limits.
        """
        encodings = response.headers.getlist(b"Content-Encoding")
        if not encodings or request.meta.get("download_maxsize") == 0:
            return response.body, None
        if self._decoder is None:
            from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware

            self._decoder = HttpCompressionMiddleware.from_crawler(self.crawler)
        names = b", ".join(encodings).decode("latin-1")
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        try:
            body, _ = self._decoder._handle_encoding(response.body, encodings, maxsize)
        except AttributeError:  # a Scrapy without this helper: judge nothing
            return b"<html></html>", None
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raises, say so
            if type(exc).__name__ == "_DecompressionMaxSizeExceeded":
                return b"", (
                    f"body larger than DOWNLOAD_MAXSIZE ({maxsize:,} bytes) once decoded "
                    f"(Content-Encoding: {names}): not downloaded"
                )
            return b"", f"body could not be decoded (Content-Encoding: {names}): {exc}"
        return body, None


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def describe_exception(exception: BaseException, timeout: float, maxsize: int) -> str:
    """A reader's account of why a download produced no response."""
    name = type(exception).__name__
    text = str(exception)
    if "Timeout" in name or "took longer than" in text:
        return f"timeout: no complete response within {timeout:g} s (DOWNLOAD_TIMEOUT)"
    if "Cancelled" in name or "max size" in text or "maxsize" in text:
        return f"body larger than DOWNLOAD_MAXSIZE ({maxsize:,} bytes): download cancelled"
    if "DataLoss" in name or "PotentialDataLoss" in text:
        return "connection lost before the whole body arrived (shorter than Content-Length)"
    if "ConnectionRefused" in name:
        return "connection refused"
    if "Resolve" in name or "DNSLookup" in name:
        return f"host name not found: {text}"
    if any(word in name or word in text for word in ("ConnectionLost", "ConnectionDone", "Reset")):
        return f"connection lost mid-response ({name})"
    return f"{name}: {text}".strip(": ")


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
