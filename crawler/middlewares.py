"""Downloader middlewares: WARC capture next to the network, and a User-Agent with a contact.

``WarcCaptureMiddleware`` sits above ``HttpCompressionMiddleware`` (order 590) in
``DOWNLOADER_MIDDLEWARES``, i.e. closer to the downloader, so the body it archives is still
compressed and ``Content-Encoding`` is still there: the WARC keeps what the server sent, not
Scrapy's decoded copy. Every exchange (pages, robots.txt, redirects, error pages, attachments)
gets a request and a response record, and a ``fetch_recorded`` signal carrying its fetch row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import scrapy.downloadermiddlewares.cookies as scrapy_cookies
from scrapy import signals
from scrapy.downloadermiddlewares.useragent import UserAgentMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.python import to_unicode
from tldextract import TLDExtract

from archive.diskfull import is_disk_full
from archive.store import Archive
from archive.warc import (
    DEFAULT_MAX_FILE_SIZE,
    IDENTICAL_PAYLOAD,
    SERVER_NOT_MODIFIED,
    HttpExchange,
    WarcPointer,
    WarcWriter,
    sha1_digest,
)
from crawler import signals as govarchive_signals
from crawler.fatal import crawl_failure, describe, stop_crawl
from crawler.fetch_policy import FetchPolicy
from crawler.listings import PROBE
from crawler.robustness import is_listing_request
from crawler.settings_util import data_dir_from_settings, software_versions

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# Scrapy's cookie middleware builds a TLDExtract that downloads the public-suffix list, with no
# timeout, on the first Set-Cookie. Offline or firewalled crawls would stall there, so use the
# snapshot tldextract ships instead.
scrapy_cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)

# Twisted removes chunked framing before we see the body; recording the header would make the
# record lie about its own bytes (readers would try to de-chunk them).
_FRAMING_HEADERS = {b"transfer-encoding"}


def _headers_list(headers) -> list[tuple[str, str]]:
    pairs = []
    for name in headers:
        if name.lower() in _FRAMING_HEADERS:
            continue
        for value in headers.getlist(name):
            pairs.append((to_unicode(name, errors="replace"), to_unicode(value, errors="replace")))
    return pairs


class WarcCaptureMiddleware:
    """Archive every HTTP exchange as WARC request + response records."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.writer: WarcWriter | None = None
        self.captures = CaptureIndex()
        # What the retry and redirect middlewares will do with an exchange, so its row says so.
        self.policy = FetchPolicy.of(crawler)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        data_dir = data_dir_from_settings(self.settings)
        self.captures = CaptureIndex.from_archive(data_dir / "archive.db")
        portal = getattr(spider, "profile", None)
        warcinfo = {
            "operator": self.settings.get("GOVARCHIVE_CONTACT"),
            "software-versions": ", ".join(f"{k}/{v}" for k, v in software_versions().items()),
            "portal": portal.name if portal else spider.name,
            "portal-base-url": portal.base_url if portal else None,
            "fetched-from": getattr(getattr(spider, "urls", None), "fetch_base", None),
            "crawl-id": getattr(spider, "crawl_id", None),
            "robots": "obey" if self.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "http-header-user-agent": self.settings.get("USER_AGENT"),
            "description": (
                "Captured below Scrapy's decompression: bodies are stored as received "
                "(Content-Encoding kept). Twisted removes chunked framing, so bodies are "
                "de-chunked and Transfer-Encoding is not recorded; header names are as "
                "normalised by Scrapy and reason phrases are the standard ones."
            ),
        }
        self.writer = WarcWriter(
            data_dir / "warc",
            prefix=_warc_prefix(portal.name if portal else spider.name, self.settings),
            data_dir=data_dir,
            warcinfo={k: str(v) for k, v in warcinfo.items() if v},
            max_file_size=self.settings.getint("GOVARCHIVE_WARC_MAX_SIZE", DEFAULT_MAX_FILE_SIZE),
        )

    def spider_closed(self, spider: Spider) -> None:
        if self.writer is not None:
            self.writer.close()

    def _target_uri(self, url: str, spider: Spider) -> str:
        urls = getattr(spider, "urls", None)
        return urls.to_portal(url) if urls else url

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if self.writer is None:
            return response
        fetched_at = datetime.now(UTC)
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        request_headers = [("Host", _host_header(request.url)), *_headers_list(request.headers)]
        exchange = HttpExchange(
            url=request.url,
            method=request.method,
            request_headers=request_headers,
            request_body=request.body or b"",
            status=response.status,
            reason=reason,
            response_headers=_headers_list(response.headers),
            body=response.body,
            protocol=response.protocol or "HTTP/1.1",
            ip_address=str(response.ip_address) if response.ip_address else None,
            fetched_at=fetched_at,
        )
        target = self._target_uri(request.url, self.crawler.spider)
        digest = sha1_digest(response.body)
        original, profile = self._earlier_capture(target, digest, response.status)
        if crawl_failure(self.crawler):
            raise IgnoreRequest("not archived: the crawl is stopping")
        try:
            # Written straight to the OS (archive.warc), so a row committed later never points
            # past the file's end, even if the crawl is killed.
            pointer = self.writer.write_exchange(
                exchange, target_uri=target, revisit_of=original, revisit_profile=profile
            )
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            # The writer cut the file back to its last complete record.
            stop_crawl(self.crawler, describe(exc))
            raise IgnoreRequest("not archived: disk full") from None
        if original is None and response.body:
            self.captures.add(pointer, digest)
        # Rows extracted from this response point at the record that holds its payload.
        request.meta["warc"] = original or pointer
        request.meta["warc_record"] = pointer
        content_type = to_unicode(response.headers.get(b"Content-Type") or b"", errors="replace")
        verdict = self.policy.response_verdict(
            request, response, _error_of(request, response.status, reason)
        ).as_row()
        broken = is_broken_link(request, response.status)
        if broken:
            verdict["note"] = f"broken link: HTTP {response.status} {reason}".strip()
        self._send_fetch(
            url=target,
            status=response.status,
            content_type=content_type or None,
            length=len(response.body),
            fetched_at=fetched_at.isoformat(timespec="seconds"),
            **verdict,
            broken_link=1 if broken else None,
            warc_filename=pointer.filename,
            warc_offset=pointer.offset,
            warc_length=pointer.length,
            warc_record_id=pointer.record_id,
            record_type=pointer.record_type,
            payload_digest=pointer.payload_digest,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
        )
        return response

    def _earlier_capture(
        self, target: str, digest: str, status: int
    ) -> tuple[WarcPointer | None, str]:
        """The record a revisit should refer to, if this exchange repeats an earlier capture."""
        if status == 304:
            return self.captures.by_url.get(target), SERVER_NOT_MODIFIED
        return self.captures.by_digest.get(digest), IDENTICAL_PAYLOAD

    def _send_fetch(self, **fetch) -> None:
        self.crawler.signals.send_catch_log(govarchive_signals.fetch_recorded, fetch=fetch)

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        self._send_fetch(
            url=self._target_uri(request.url, self.crawler.spider),
            status=None,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            **self.policy.exception_verdict(request, exception).as_row(),
        )
        return None


def _error_of(request: Request, status: int, reason: str) -> str | None:
    """A readable reason for a failed exchange; None when nothing went wrong.

    A portal without robots.txt answers 404 for it, which means "no rules", not a failure; an
    archived article that now answers 404 or 410 is a take-down the crawl records, and a linked
    page the portal never served is a broken link: neither is a failure of the crawl.
    """
    if status < 400 or (status == 404 and request.url.endswith("/robots.txt")):
        return None
    if status in (404, 410) and request.meta.get("recheck"):
        return None
    if is_listing_request(request) and request.meta.get("section_root"):
        return f"HTTP {status} {reason}".strip()  # a section the portal had is gone
    # A guessed URL (the home page, /sitemap.xml, a feed, a pager page past the last): its
    # 404 is an answer, not a failure.
    if status in (404, 410) and request.meta.get(PROBE):
        return None
    if is_broken_link(request, status):
        return None
    return f"HTTP {status} {reason}".strip()


def is_broken_link(request: Request, status: int) -> bool:
    """A 404/410 for a page the portal links to but does not serve (a missing attachment, an
    article never published): the portal's fault, counted apart from the crawl's errors.

    The page of a known section that answers 404 is not one: the section vanished, and the
    crawl cannot vouch for that section's articles, so it stays an error (a page its pager
    links to is a broken link like any other). Nor is an archived article that now answers
    404 (a recheck): that is a removal.
    """
    return (
        status in (404, 410)
        and not request.meta.get("recheck")
        and not request.meta.get(PROBE)  # guessed, not linked: its 404 is an answer
        and not (is_listing_request(request) and request.meta.get("section_root"))
        and not request.url.endswith("/robots.txt")
    )


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return to_unicode(value, errors="replace") if value else None


class CaptureIndex:
    """Payload digests and URLs already archived, so repeats become small revisit records.

    Loaded from the ``fetches`` table when a crawl starts and kept up to date as it goes: one
    entry per distinct payload and per URL (a few hundred bytes each).
    """

    def __init__(self) -> None:
        self.by_digest: dict[str, WarcPointer] = {}
        self.by_url: dict[str, WarcPointer] = {}

    def add(self, pointer: WarcPointer, digest: str) -> None:
        self.by_digest.setdefault(digest, pointer)
        if pointer.target_uri:
            self.by_url[pointer.target_uri] = pointer

    @classmethod
    def from_archive(cls, db_path: Path) -> CaptureIndex:
        index = cls()
        if not db_path.exists():
            return index
        with Archive(db_path) as archive:
            for row in archive.captures():
                pointer = WarcPointer(
                    filename=row["warc_filename"],
                    offset=row["warc_offset"],
                    length=row["warc_length"],
                    record_id=row["warc_record_id"],
                    payload_digest=row["payload_digest"],
                    target_uri=row["url"],
                    date=_warc_date_of(row["fetched_at"]),
                )
                index.add(pointer, row["payload_digest"])
        return index


def _warc_date_of(fetched_at: str | None) -> str | None:
    if not fetched_at:
        return None
    moment = datetime.fromisoformat(fetched_at)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _warc_prefix(portal: str, settings) -> str:
    """``PORTAL``, or ``PORTAL-WORKER`` for a Redis worker: names never collide."""
    worker = settings.get("GOVARCHIVE_WORKER_ID")
    return f"{portal}-{worker}" if worker else portal


def _host_header(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc


class ContactUserAgentMiddleware(UserAgentMiddleware):
    """Fill ``{contact}`` in ``USER_AGENT`` from ``GOVARCHIVE_CONTACT``.

    Webmasters of government portals should be able to reach whoever runs a crawl; keeping the
    contact a setting of its own lets ``-s GOVARCHIVE_CONTACT=...`` change it without retyping
    the whole User-Agent.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContactUserAgentMiddleware:
        template = crawler.settings.get("USER_AGENT", "")
        contact = crawler.settings.get("GOVARCHIVE_CONTACT", "")
        middleware = cls(template.replace("{contact}", contact))
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware
