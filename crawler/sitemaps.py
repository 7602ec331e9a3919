"""Reading sitemaps and feeds with well-kept parsers: what URLs they name, with their dates.

* Sitemaps (``Sitemap:`` lines of robots.txt, ``/sitemap.xml``): Scrapy's
  :class:`scrapy.utils.sitemap.Sitemap` (lxml ``iterparse`` with ``recover``, no entity
  resolution) and ``sitemap_urls_from_robots``; gzipped sitemaps are gunzipped with
  Scrapy's ``gunzip`` under a size limit, as SitemapSpider does. Google News sitemaps give
  their ``news:publication_date``, which the stock parser drops (it keeps direct children).
* Feeds (RSS 2.0, Atom, and whatever else feedparser reads): ``feedparser``.

Nothing here raises on bad input: a broken, empty or oversized document gives a
:class:`Parsed` with ``problem`` set, which the spider records as a ``note`` in ``fetches``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

__all__ = ["Entry", "Parsed", "parse_feed", "parse_sitemap", "sitemap_urls_from_robots"]

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Entry:
    """One URL a sitemap or feed names, with the latest date it gives for it (UTC)."""

    url: str
    date: datetime | None = None


@dataclass
class Parsed:
    kind: str  # "urlset", "sitemapindex", "feed" or "" when unreadable
    entries: list[Entry] = field(default_factory=list)
    problem: str | None = None


class _NewsSitemap(Sitemap):
    """Scrapy's parser, also keeping ``<news:news><news:publication_date>`` of each URL."""

    __slots__ = ()

    def _process_sitemap_element(self, elem):  # type: ignore[override]
        published = None
        for child in elem.iter():
            if self._get_tag_name(child) == "publication_date" and child.text:
                published = child.text.strip()
        entry = super()._process_sitemap_element(elem)
        if entry is not None and published:
            entry["publication_date"] = published
        return entry


def sitemap_body(body: bytes, max_size: int) -> tuple[bytes | None, str | None]:
    """The XML of a sitemap response (gunzipped if need be), or why there is none."""
    if body[:2] == GZIP_MAGIC:
        try:
            body = gunzip(body, max_size=max_size)
        except Exception as exc:  # noqa: BLE001 - _DecompressionMaxSizeExceeded, OSError, EOFError
            if "max" in type(exc).__name__.lower() or "size" in str(exc).lower():
                return None, f"larger than {max_size:,} bytes once gunzipped: not read"
            return None, f"not readable gzip data ({type(exc).__name__}: {exc})"
    if len(body) > max_size:
        return None, f"{len(body):,} bytes, larger than {max_size:,} bytes: not read"
    return body, None


def parse_sitemap(body: bytes, max_size: int, tz: tzinfo) -> Parsed:
    """A sitemap or sitemap index: its ``<loc>`` URLs with ``lastmod`` or the news date."""
    xml, problem = sitemap_body(body, max_size)
    if xml is None:
        return Parsed("", problem=f"sitemap {problem}")
    if not xml.strip():
        return Parsed("", problem="sitemap is empty")
    try:
        sitemap = _NewsSitemap(xml)
        kind = sitemap.type
        entries = [
            Entry(item["loc"], _latest(tz, item.get("lastmod"), item.get("publication_date")))
            for item in sitemap
            if item.get("loc")
        ]
    except Exception as exc:  # noqa: BLE001 - lxml raises several types on garbage
        return Parsed("", problem=f"sitemap is not readable XML ({type(exc).__name__}: {exc})")
    if kind not in ("urlset", "sitemapindex"):
        return Parsed("", problem=f"not a sitemap: the document's root is <{kind}>")
    if not entries:
        return Parsed(kind, problem=f"sitemap ({kind}) names no URL: broken or empty")
    return Parsed(kind, entries)


def parse_feed(body: bytes) -> Parsed:
    """An RSS or Atom feed: each entry's link with its updated (else published) date."""
    import feedparser

    feed = feedparser.parse(body)
    entries = []
    for item in feed.entries:
        link = item.get("link")
        if not link:
            continue
        # Asked this way, feedparser does not warn about its updated -> published fallback.
        updated = item["updated_parsed"] if "updated_parsed" in item else None
        moment = updated or item.get("published_parsed")
        date = datetime.fromtimestamp(calendar.timegm(moment), UTC) if moment else None
        entries.append(Entry(link, date))
    if not entries:
        reason = feed.get("bozo_exception")
        detail = f" ({type(reason).__name__}: {reason})" if reason else ""
        return Parsed("", problem=f"feed names no entry: broken or empty{detail}")
    return Parsed("feed", entries)


def _latest(tz: tzinfo, *values: str | None) -> datetime | None:
    dates = [d for d in (_w3c_date(v, tz) for v in values if v) if d is not None]
    return max(dates) if dates else None


def _w3c_date(value: str, tz: tzinfo) -> datetime | None:
    """A sitemap date (W3C datetime: ``2024-04-05``, ``2024-04-05T06:16:00+07:00``) in UTC;
    a date without a zone is the portal's local time."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def iter_same_portal(entries: list[Entry], allowed) -> Iterator[Entry]:
    """The entries whose URL passes ``allowed`` (the portal's scope)."""
    return (entry for entry in entries if allowed(entry.url))
