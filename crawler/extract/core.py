"""The single entry point: ``extract_article(bytes, url, profile) -> Article``.

A pure function of its arguments: no Scrapy, no I/O, no clock. The crawl, ``govarchive extract``,
re-extraction from WARC records and the process pool all call it, so one fix here fixes them all
and a row can always be re-derived from the bytes it points at (plus the listing date the crawl
saw beside the link, which the row keeps).

Two paths, chosen per page: the **profile path** (:mod:`crawler.extract.profile_path`) when
the profile's ``body`` selector matches, else the **generic path**
(:mod:`crawler.extract.generic_path`).
Either way the HTML is parsed once with lxml.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from crawler.dates import parse_published
from crawler.extract.article import (
    EXTRACTOR_NAME,
    EXTRACTOR_VERSION,
    FELL_BACK_TO_GENERIC,
    Article,
)
from crawler.extract.decoding import _looks_binary, decode_html, to_nfc
from crawler.extract.generic_path import _trafilatura_version, extract_generic
from crawler.extract.language import _language
from crawler.extract.page import _base_url, _canonical
from crawler.extract.parsing import _first, _parse, _select
from crawler.extract.profile_path import extract_with_profile

if TYPE_CHECKING:
    from crawler.profiles import Profile


def extract_article(
    html: bytes | str,
    url: str,
    profile: Profile | None = None,
    listing_date: str | None = None,
) -> Article:
    """Extract one article page; never raises on bad input.

    ``url`` is the URL the bytes were fetched from: it resolves relative links and is the
    fallback when the page names no canonical URL. ``listing_date`` is the date as printed
    beside the link on the listing the crawl followed ("(06/05/2019)"), if any: it is used when
    the page prints none (see :func:`apply_listing_date`). Broken HTML, an empty body or binary
    data give an :class:`Article` with whatever could be found (at worst only ``url``).

    An exception therefore means our code or its installation is broken (a missing module, a
    bug), which no page can cause alone: it propagates, and a crawl stops on it
    (crawler/fatal.py) instead of storing a row of nulls for every page.
    """
    if isinstance(html, (bytearray, memoryview)):
        html = bytes(html)
    return Extraction(html, url, profile, listing_date).run()


def apply_listing_date(article: Article, listing_date: str | None, profile: Profile | None) -> None:
    """Settle ``published_at`` between the page's date and the listing's, and say which won.

    The page's own date wins when it agrees with the listing on the day (it is usually the more
    precise, with a time), and when there is no listing date. The listing's date is used when
    the page prints none, and when the two disagree on the day and the profile says the
    listing is the publication date (``dates.prefer = "listing"``: CMSs that re-stamp a page's
    date when an editor re-saves it, while the listing keeps the original).
    """
    article.listing_date = listing_date or None
    if not listing_date:
        return
    listed_iso, listed_raw = parse_published(listing_date, profile)
    if listed_iso is None:
        return
    page_iso = article.published_at
    prefer = profile.date_preference if profile else "page"
    if page_iso is None or (page_iso[:10] != listed_iso[:10] and prefer == "listing"):
        article.published_at, article.published_raw = listed_iso, listed_raw
        article.date_source = "listing"


# At the end of the raw date, or of the machine-readable stamp kept after it in parentheses.
_PRINTED_OFFSET = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z|UTC|GMT)\)?\s*$", re.IGNORECASE)


def _offset_guessed(article: Article, profile: Profile | None) -> bool:
    """Whether the date's UTC offset is the portal's guessed time zone's (a profile built from
    a URL) rather than one the page printed: a time printed without an offset."""
    if profile is None or not profile.timezone_guessed or not article.published_at:
        return False
    if "T" not in article.published_at or article.date_source not in ("page", "listing"):
        return False  # a bare day carries no offset; metadata dates carry their own
    return not _PRINTED_OFFSET.search(article.published_raw or "")


class Extraction:
    """One page's extraction: the parsed state the profile and generic paths share."""

    def __init__(
        self,
        html: bytes | str,
        url: str,
        profile: Profile | None,
        listing_date: str | None = None,
    ):
        self.html = html
        self.url = url
        self.profile = profile
        self.listing_date = listing_date
        self.not_authors = profile.not_authors if profile else ()
        self.used_trafilatura = False
        self.fell_back = False
        self.base = url

    def run(self) -> Article:
        article = Article(url=self.url, language=self.profile.language if self.profile else None)
        html = self.html
        if html is None or _looks_binary(html):
            return self._finish(article)
        if isinstance(html, (bytes, bytearray)):
            text = decode_html(html)
        else:
            text = to_nfc(str(html))
        if _looks_binary(text):
            return self._finish(article)
        root = _parse(text)
        if root is None:
            return self._finish(article)
        article.url = _canonical(root, self.url, self.profile)
        self.base = _base_url(root, self.url)
        selectors = self.profile.selectors if self.profile else None
        body_el = _first(root, selectors.body if selectors else None)
        if body_el is not None:
            extract_with_profile(self, root, body_el, article)
        else:
            self.fell_back = True
            extract_generic(self, root, article)
        article.language = _language(root, article.text, self.profile)
        return self._finish(article)

    def _finish(self, article: Article) -> Article:
        if article.published_at and article.date_source is None:
            article.date_source = "page"
        apply_listing_date(article, self.listing_date, self.profile)
        if _offset_guessed(article, self.profile):
            article.date_source = f"{article.date_source}, offset guessed"
        if self.profile is not None:
            article.article_id = self.profile.article_id(article.url) or self.profile.article_id(
                self.url
            )
        parts = [f"{EXTRACTOR_NAME}/{EXTRACTOR_VERSION}"]
        if self.used_trafilatura:
            parts.append(f"trafilatura/{_trafilatura_version()}")
        if self.profile is not None:
            parts.append(f"profile/{self.profile.name}")
            if self.profile.selectors.body and self.fell_back:
                parts.append(FELL_BACK_TO_GENERIC)
        article.extractor = " ".join(parts)
        return article

    def skip_set(self, root: etree._Element, *extra: etree._Element | None) -> set:
        """Elements the body walk leaves out: the ones given, and the profile's ``remove``."""
        skip: set[etree._Element] = {el for el in extra if el is not None}
        if self.profile:
            for selector in self.profile.selectors.remove:
                skip.update(_select(root, selector))
        return skip
