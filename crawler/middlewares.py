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
from typing import TYPE_CHECKING

import scrapy.downloadermiddlewares.cookies as scrapy_cookies
from scrapy import signals
from scrapy.downloadermiddlewares.useragent import UserAgentMiddleware
from scrapy.utils.python import to_unicode
from tldextract import TLDExtract

from archive.warc import DEFAULT_MAX_FILE_SIZE, HttpExchange, WarcWriter
from crawler import signals as govarchive_signals
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
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        data_dir = data_dir_from_settings(self.settings)
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
            prefix=portal.name if portal else spider.name,
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
            ip_address=str(response.ip_address) if response.ip_address else None,
            fetched_at=fetched_at,
        )
        target = self._target_uri(request.url, self.crawler.spider)
        pointer = self.writer.write_exchange(exchange, target_uri=target)
        # Rows may point at this record as soon as they are committed: make sure it is in the
        # OS's hands first, so a killed crawl never leaves a row pointing past the file's end.
        self.writer.flush()
        request.meta["warc"] = pointer
        content_type = to_unicode(response.headers.get(b"Content-Type") or b"", errors="replace")
        self.crawler.signals.send_catch_log(
            govarchive_signals.fetch_recorded,
            fetch={
                "url": target,
                "status": response.status,
                "content_type": content_type or None,
                "length": len(response.body),
                "fetched_at": fetched_at.isoformat(timespec="seconds"),
                "error": None if response.status < 400 else f"HTTP {response.status} {reason}",
                "warc_filename": pointer.filename,
                "warc_offset": pointer.offset,
                "warc_record_id": pointer.record_id,
            },
        )
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        self.crawler.signals.send_catch_log(
            govarchive_signals.fetch_recorded,
            fetch={
                "url": self._target_uri(request.url, self.crawler.spider),
                "status": None,
                "content_type": None,
                "length": None,
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "error": f"{type(exception).__name__}: {exception}".strip(": "),
                "warc_filename": None,
                "warc_offset": None,
                "warc_record_id": None,
            },
        )
        return None


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
