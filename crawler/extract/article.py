"""The extraction's result: :class:`Article` with its images and attachments (a public contract)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

EXTRACTOR_NAME = "govarchive-extract"
#: Bump when a change alters extracted fields, so rows can be re-extracted selectively.
#: 2: text in Unicode NFC, legacy Vietnamese charsets detected, canonical URLs normalised.
EXTRACTOR_VERSION = 2
#: Added to the extractor stamp when a profile's body selector matched nothing and the page was
#: extracted generically; a crawl where most pages do reports profile drift.
FELL_BACK_TO_GENERIC = "fallback/generic"


@dataclass
class Image:
    """An image of the article body (or its lead image), with the caption printed under it."""

    url: str
    caption: str | None = None
    alt: str | None = None


@dataclass
class Attachment:
    """A document linked from the article (PDF, Word, Excel, archives, Liferay documents)."""

    url: str
    title: str | None = None


@dataclass
class Article:
    """Everything extracted from one article page; field names are a public contract.

    ``url`` is the page's canonical URL (one row per article, whichever path it was fetched
    through). ``published_at`` is ISO 8601 with the portal's offset; when only a date without
    a time is known (trafilatura's metadata) it is a bare ``YYYY-MM-DD``. ``author`` is the
    byline, ``posted_by`` the CMS account printed by the template, ``source`` the outlet an
    article was taken from ("(Theo HNP)" -> "HNP"). ``text`` is the sapo followed by the body,
    one paragraph per line, without byline and page furniture.
    """

    url: str
    title: str | None = None
    published_at: str | None = None
    published_raw: str | None = None
    author: str | None = None
    posted_by: str | None = None
    source: str | None = None
    category: str | None = None
    text: str = ""
    language: str | None = None
    images: list[Image] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    article_id: str | None = None
    sapo: str | None = None
    #: Where ``published_at`` came from: "page" (printed on the article page), "listing"
    #: (printed beside the link on the listing the crawl followed) or "metadata" (meta tags);
    #: ", offset guessed" follows when the portal's time zone was guessed (a profile built
    #: from a URL) and the page printed the time without an offset.
    date_source: str | None = None
    #: The date as printed beside the link on the listing the crawl followed, if any.
    listing_date: str | None = None
    extractor: str = f"{EXTRACTOR_NAME}/{EXTRACTOR_VERSION}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (nested images and attachments become dicts)."""
        return asdict(self)


def not_an_article(article: Article, require_content: bool = False) -> str | None:
    """Why an extracted page is not an article, or None when it is one.

    A placeholder served with status 200 (a "soft 404") has no title and no content. A post of
    scanned pages (images only) or of one attachment is an article. An empty post (a title and
    nothing else) is one unless ``require_content`` (the template's ``articles.require_content``):
    on some CMSs it is a published item whose document went missing, on others an abandoned
    draft the generator still publishes.
    """
    has_content = bool(article.text.strip() or article.images or article.attachments)
    if not article.title and not has_content:
        return "not an article: no title and no content (placeholder page)"
    if require_content and not has_content:
        return "not an article: empty post (a title and no content)"
    return None
