"""The fetch policy: what a crawl decides about each exchange, in one place.

What a body is (:func:`body_problem`: empty, binary behind a text label, truncated), where
requests may go (:class:`PortalScope`: the portal's hosts, or exactly a ``--base-url``
mirror), when to retry and how long to wait, which redirects to follow, and how an exchange
reads in its fetch row (:class:`Verdict`).

:class:`FetchPolicy` holds the decisions the middlewares of crawler/robustness.py share. The
WARC middleware writes each fetch row when the bytes arrive, before the retry and redirect
middlewares act on them; asking the same policy lets the row say what will happen: ``error``
for a failure (counted in the crawl's errors, exit status 1), ``note`` for what is not one (a
retried attempt, a page robots.txt forbids, a PDF served as HTML).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.misc import load_object
from scrapy.utils.python import to_unicode
from w3lib.url import safe_url_string

from crawler.urls import canonical_url

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

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
