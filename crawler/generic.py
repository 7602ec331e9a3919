"""Generic link rules for a portal on no known template, inferred from its home page.

What the web does, not what one portal does:

* **Articles** are the many links of one URL shape whose last path segment names one item: a
  slug of several words, or a numeric id (``/news/2024/05/some-long-title-123.html``,
  ``/section/-/view_content/4542171-title.html``, ``/some-long-title``). Links are grouped by
  the shape of that segment (id first, id last, bare slug), its extension and the segment
  before it (kept literally unless it is a number, such as a month); the largest group is the
  article pattern. A numeric id in the segment becomes the article id, so the same article
  under several section paths is fetched once.
* **Listings** are the sections discovery finds, walked from their first page through pager
  links: a page-number query parameter (``page=2``,
  ``_101_cur=2``, ``trang=2``, ``start=20``) or path (``/page/2``, ``/trang-2``).
* **Traps** are excluded: print and pop-up views, log-in, search and form actions, feeds of
  files, archive copies (``/web/20200101.../``) and paths that repeat themselves.

Sections come from discovery (crawler/discovery.py: the start page, every visited page's
menus, sitemaps and feeds, within its depth and page bounds); the listing guard caps pages per
section at :data:`MAX_LISTING_PAGES`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from lxml import html as lxml_html

if TYPE_CHECKING:
    pass

#: Listing pages walked per section at most (the setting's default is for known portals).
MAX_LISTING_PAGES = 300
MIN_ARTICLE_LINKS = 3

#: Extensions of files, not pages.
FILE_EXTENSIONS = (
    "pdf|docx?|xlsx?|pptx?|odt|ods|rtf|txt|csv|zip|rar|7z|gz|jpe?g|png|gif|webp|svg|ico|bmp|"
    "tiff?|mp3|mp4|avi|mov|wmv|flv|css|js|json|xml|rss|atom"
)
PAGE_EXTENSIONS = ("html", "htm", "aspx", "asp", "php", "jsp", "shtml", "cfm")

#: Query parameters and path forms that number a listing's pages.
PAGE_PARAM = r"(?:[?&](?:[\w.-]*?(?:page|cur|pg|trang|paged|pagina|seite|start|offset|p))=(\d+))"
PAGE_PATH = r"(?:/(?:page|trang|p|pages|pagina|seite)[/-](\d+)/?$)"
LISTING_PATTERN = PAGE_PARAM + "|" + PAGE_PATH
PAGE_NUMBER_PATTERN = (
    r"(?:[?&][\w.-]*?(?:page|cur|pg|trang|paged|pagina|seite|p)="
    r"|/(?:page|trang|p|pages|pagina|seite)[/-])(\d+)"
)

EXCLUDE_PATTERNS = (
    rf"\.(?:{FILE_EXTENSIONS})(?:[?#]|$)",
    r"(?i)print|pop_?up|popup|in-bai|/feed/?$|/rss",
    # In the path only: listing queries carry empty search fields (advancedSearch=false).
    r"(?i)^[^?#]*(?:login|logout|dang-nhap|dang-ky|signin|register|search|tim-kiem|timkiem)",
    r"(?i)[?&](?:q|query|keywords?|search|s)=[^&#]",
    r"(?i)[?&](?:p_p_lifecycle=1|action|do|format|share|replytocom|lang|languageId)=",
    r"(?i)^https?://[^/?#]+/web/\d{4,}",  # a copy of an archived site (Wayback-style paths)
    r"(/[^/?#]+/[^/?#]+/).*\1",  # a path that repeats itself: a relative-link trap
    r"/-/view_content/[^/?#]+/-/",
)

_SLUG_WORDS = re.compile(r"[^\W_]+(?:[-_][^\W_]+){3,}")
_ID_FIRST = re.compile(r"^(\d{3,})[-_.]")
_ID_LAST = re.compile(r"[-_.](\d{3,})$")
_ONLY_ID = re.compile(r"^\d{4,}$")


def infer_profile_tables(page_url: str, html: str, tables: dict) -> dict:
    """``tables`` (a ``[portal]`` table) completed with generic ``[links]`` rules inferred
    from the links of the start page. Sections are left to discovery (crawler/discovery.py),
    which finds them on the start page and on every page visited, within its bounds."""
    host = urlsplit(page_url).hostname or ""
    article = article_pattern(same_host_links(html, page_url, host))
    result = dict(tables)
    result["links"] = {
        # No shape won: nothing is an article by its URL (a pattern that never matches).
        "article": article or r"(?!x)x",
        "listing": LISTING_PATTERN,
        "page_number": PAGE_NUMBER_PATTERN,
        "exclude": list(EXCLUDE_PATTERNS),
        "max_pages": MAX_LISTING_PAGES,
    }
    return result


def same_host_links(html: str, base: str, host: str) -> list[str]:
    """The page's ``<a href>`` targets on ``host`` (absolute, no fragment), in page order."""
    try:
        root = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    found: dict[str, None] = {}
    for href in root.xpath("//a/@href"):
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        absolute = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and parts.hostname == host:
            found[absolute] = None
    return list(found)


def _segment_shape(segment: str) -> tuple[str, str] | None:
    """How an item's last path segment is built ("id-first", "id-last", "slug", "id"), and its
    extension; None when it does not name one item."""
    segment = unquote(segment)
    stem, dot, ext = segment.rpartition(".")
    if not dot or ext.lower() not in PAGE_EXTENSIONS:
        stem, ext = segment, ""
    if _ID_FIRST.match(stem) and len(stem) > 8:
        return "id-first", ext
    if _ID_LAST.search(stem) and _SLUG_WORDS.search(stem):
        return "id-last", ext
    if _ONLY_ID.match(stem):
        return "id", ext
    if _SLUG_WORDS.fullmatch(stem) and len(stem) >= 20:
        return "slug", ext
    return None


_SHAPE_REGEX = {
    "id-first": r"(?P<id>\d{3,})[-_.][^/?#]*",
    "id-last": r"[^/?#]*?[-_.](?P<id>\d{3,})",
    "id": r"(?P<id>\d{4,})",
    "slug": r"(?P<id>[^/?#.]+)",
}


def article_pattern(links: list[str]) -> str | None:
    """The regular expression of the largest group of same-shaped item links, or None."""
    groups: dict[tuple, set[str]] = defaultdict(set)
    excluded = [re.compile(p) for p in EXCLUDE_PATTERNS]
    for link in links:
        parts = urlsplit(link)
        if parts.query or any(p.search(link) for p in excluded):
            continue
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            continue
        shape = _segment_shape(segments[-1])
        if shape is None:
            continue
        parent = segments[-2] if len(segments) > 1 else ""
        if parent.isdigit():
            parent = r"\d+"
        elif parent:
            parent = re.escape(parent)
        groups[(*shape, parent)].add(link)
    if not groups:
        return None
    (kind, ext, parent), members = max(groups.items(), key=lambda item: len(item[1]))
    if len(members) < MIN_ARTICLE_LINKS:
        return None
    depths = Counter(len([s for s in urlsplit(m).path.split("/") if s]) for m in members)
    last = _SHAPE_REGEX[kind] + (re.escape("." + ext) if ext else "")
    if not parent:
        return rf"^https?://[^/?#]+/{last}$"
    prefix = r"(?:/[^/?#]+)*" if max(depths) > 2 else ""
    return rf"^https?://[^/?#]+{prefix}/{parent}/{last}$"
