"""Article rows: one place that turns an extraction and its WARC record into an ``articles`` row.

The crawl and ``reextract`` both build rows here, so a row rebuilt from the WARC files alone is
the row the crawl wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archive.warc import WarcPointer
from crawler.extract import Article
from crawler.profiles import Profile


@dataclass(frozen=True)
class ArticleRemoved:
    """An archived article the portal no longer shows (404/410, or gone from its listings)."""

    url: str
    reason: str
    seen_at: str


@dataclass(frozen=True)
class PageNote:
    """What a fetched page turned out to be when it is not an article (a placeholder served
    with status 200, an empty post): noted on its ``fetches`` row, no article row."""

    url: str
    note: str


def extractor_stamp(article: Article, profile: Profile | None) -> str:
    """Extractor name and versions plus the profile's hash: what produced this row."""
    config = f" config/{profile.config_hash}" if profile else ""
    return article.extractor + config


def article_row(article: Article, profile: Profile, pointer: WarcPointer | None) -> dict[str, Any]:
    """The ``articles`` row (with its images and attachments) for one extracted page."""
    row = article.to_dict()
    row["portal"] = profile.name
    row["extractor"] = extractor_stamp(article, profile)
    # The capture time, not the extraction time: re-extracting years later gives the same row.
    row["crawled_at"] = (
        _iso(pointer.date) if pointer and pointer.date else datetime.now(UTC).isoformat()
    )
    if pointer is not None:
        row.update(
            warc_filename=pointer.filename,
            warc_offset=pointer.offset,
            warc_length=pointer.length,
            warc_record_id=pointer.record_id,
            warc_payload_digest=pointer.payload_digest,
            fetched_url=pointer.target_uri,
        )
    return row


def _iso(warc_date: str) -> str:
    """WARC-Date (``2024-04-05T06:16:00Z``) as the ISO form used in every other column."""
    return datetime.fromisoformat(warc_date.replace("Z", "+00:00")).isoformat()


@dataclass(frozen=True)
class SectionSeen:
    """A listing page of a section was walked (one per page; see ``Archive.save_sections``)."""

    url: str
    portal: str
    title: str | None
    found_via: str | None
    seen_at: str
    articles: int
    entry_url: str | None
    depth: int | None


@dataclass(frozen=True)
class SectionVanished:
    """A known section that no longer answers as a listing."""

    url: str
    reason: str
    seen_at: str


@dataclass(frozen=True)
class FetchNote:
    """A remark about a fetched URL that is not an HTTP exchange of its own (a sitemap that
    could not be read, pages discovery did not check): a ``fetches`` row with a ``note``."""

    url: str
    note: str
    seen_at: str
