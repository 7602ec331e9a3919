"""Finding a portal's sections: from its home page, every page the crawl visits, and its
sitemaps and feeds (crawler/sitemaps.py), not only the paths a profile names.

A page is a *listing* when it links to articles (the profile's article pattern) or carries the
profile's pager; its section is the page's URL without the pager's part (``/vi/tin-tuc`` for
``/vi/tin-tuc?...&_101_cur=3``). Every other same-portal link that is neither an article nor
a resource (``.css``, ``.pdf``...) is a *candidate*: fetched once to learn whether it is a
listing. Links are classified with the profile's patterns before any Request is built (see the
spider's docstring); what is fetched is bounded:

* ``GOVARCHIVE_DISCOVERY_DEPTH``: candidates at most this many non-article hops from the home
  page (the home page is 0, a page it links is 1; a section's further pages keep its depth);
* ``GOVARCHIVE_MAX_DISCOVERY_PAGES``: candidates checked per crawl;
* the profile's ``links.exclude`` and the listing guards of crawler/robustness.py (loops,
  listing page caps, session ids) apply as to any listing.

What was cut is logged and recorded as ``note`` rows in ``fetches``. A routine crawl checks
only candidates never fetched before (the ``fetches`` table is the memory), so an unchanged
portal costs its home page and its known sections, and a new menu entry is one request.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from posixpath import splitext
from urllib.parse import urljoin, urlsplit, urlunsplit

from scrapy.linkextractors import IGNORED_EXTENSIONS
from w3lib.url import safe_url_string

from crawler.profiles import Profile
from crawler.urls import UrlMap, canonical_url, is_followable, strip_session_ids

logger = logging.getLogger(__name__)

#: Extensions of links that are never pages (Scrapy's own list, plus feeds and sitemaps,
#: which are read by crawler/sitemaps.py).
NOT_PAGES = frozenset({f".{ext}" for ext in IGNORED_EXTENSIONS} | {".xml", ".gz", ".rss"})
FEED_TYPES = ("application/rss+xml", "application/atom+xml")


@dataclass
class PageLinks:
    """The links of one page, classified (fetch URLs; articles with their ids)."""

    articles: list[tuple[str, str]] = field(default_factory=list)
    pagers: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)

    @property
    def is_listing(self) -> bool:
        return bool(self.articles or self.pagers)


def classify_links(hrefs: list[str], page_url: str, profile: Profile, urls: UrlMap) -> PageLinks:
    """Sort a page's ``href`` values into articles, pager links and candidate pages.

    Off-portal links are dropped here (and never reach a Request); so are resources.
    """
    links = PageLinks()
    seen: set[str] = set()
    for href in dict.fromkeys(hrefs):
        if not is_followable(href):
            continue
        fetch_url = urls.to_fetch(urljoin(page_url, href.strip()))
        if fetch_url in seen:
            continue
        seen.add(fetch_url)
        portal_url = urls.to_portal(fetch_url)
        if urlsplit(portal_url).hostname not in profile.hosts:
            continue  # another host: never followed
        article_id = profile.article_id(portal_url)
        if article_id is not None:
            links.articles.append((fetch_url, article_id))
        elif profile.is_listing(portal_url):
            links.pagers.append(fetch_url)
        elif not profile.is_excluded(portal_url) and _is_page(portal_url):
            links.candidates.append(fetch_url)
    return links


#: Where a page's furniture lives: a sidebar's "Recent posts" widget, menus, the footer. A page
#: whose only article links are there is not a listing, or every page of a WordPress site
#: (whose sidebar lists the latest posts) would be a section.
FURNITURE = (
    "ancestor::aside or ancestor::nav or ancestor::footer or ancestor::*["
    "contains(concat(' ', normalize-space(@class), ' '), ' widget ') or "
    # class tokens that start with these (sidebar-first, widget-area, region--sidebar-second),
    # not the page wrapper's "has-sidebar" or Elementor's "elementor-widget".
    "contains(concat(' ', normalize-space(@class)), ' sidebar') or "
    "contains(concat(' ', normalize-space(@class)), ' widget-area') or "
    "contains(concat(' ', normalize-space(@class)), ' region-sidebar') or "
    "contains(concat(' ', normalize-space(@class)), ' region--sidebar') or "
    "contains(concat(' ', normalize-space(@class)), ' layout-sidebar') or "
    "starts-with(@id, 'sidebar')]"
)
_CONTENT_HREFS = f"//body//a[@href][not({FURNITURE})]/@href"


def lists_in_content(response, profile: Profile, urls: UrlMap) -> bool:
    """Whether the page links an article outside its furniture (see :data:`FURNITURE`)."""
    hrefs = response.xpath(_CONTENT_HREFS).getall()
    return bool(classify_links(hrefs, response.url, profile, urls).articles)


_HREF = re.compile(rb"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def hrefs_of(body: bytes, encoding: str) -> list[str]:
    """The ``<a href>`` values of a page, read with a regular expression.

    For article pages, whose links only feed discovery: building an lxml tree of every
    article in the spider's process would cost more than the rest of its handling.
    """
    found = []
    for match in _HREF.finditer(body):
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        href = raw.decode(encoding, errors="replace")
        found.append(html.unescape(href) if "&" in href else href)
    return found


def _is_page(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and splitext(parts.path)[1].lower() not in NOT_PAGES


#: A path that is a script routing by its query (``index.php``, ``News.aspx``): the query names
#: the section (``?CatID=5``, ``?view=category&id=8``). Not the site root: a portlet pager on a
#: home page (``/?p_p_id=101&_101_cur=2``) pages the home page.
_SCRIPT_PATH = re.compile(r"\.(?:php\d?|aspx?|jspx?|cfm|cgi|do|pl)$", re.IGNORECASE)


def section_url(portal_url: str, profile: Profile) -> str:
    """The section a listing page belongs to: its URL without the pager's part.

    A query-string pager (Liferay's ``_101_cur=N``) is dropped with the whole query, unless the
    path is a script that the query routes (``News.aspx?CatID=5&page=2``): then only the
    page number goes. A path pager (``/page/3``) is cut where the profile's page-number
    pattern matches.
    """
    parts = urlsplit(canonical_url(portal_url))
    if profile.is_listing(portal_url):
        path = parts.path
        if parts.query and _SCRIPT_PATH.search(path):
            query = "&".join(
                item
                for item in parts.query.split("&")
                if item and not profile.listing_pattern.search(f"?{item}")
            )
            return urlunsplit((parts.scheme, parts.netloc, path, query, ""))
        if profile.page_number_pattern is not None:
            match = profile.page_number_pattern.search(path)
            if match:
                # /category/news/page/2/ is a page of /category/news/: a site that ends its
                # paths with a slash ends its sections' with one too.
                slash = "/" if path.endswith("/") else ""
                path = path[: match.start()].rstrip("/") + slash or "/"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return urlunsplit(parts)


def request_key(fetch_url: str, urls: UrlMap) -> str:
    """The portal URL a request for ``fetch_url`` is recorded under in ``fetches``."""
    return urls.to_portal(strip_session_ids(safe_url_string(fetch_url)))


def feed_links(response) -> list[str]:
    """Absolute URLs of the RSS and Atom feeds a page announces with ``<link rel=alternate>``."""
    found = []
    for link in response.xpath("//link[@href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").lower().strip()
        if "alternate" in rel and kind in FEED_TYPES:
            found.append(urljoin(response.url, link.attrib["href"].strip()))
    return found


@dataclass
class Bounds:
    """How far discovery may go, and what it had to leave out (for the log and ``fetches``)."""

    max_depth: int
    max_pages: int
    checked: int = 0
    too_deep: int = 0
    over_cap: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def admit(self, url: str, depth: int) -> str | None:
        """None when a candidate may be fetched, else the reason it is not (first time only
        for each reason: the caller records it once)."""
        if depth > self.max_depth:
            self.too_deep += 1
            return self._first(
                "depth",
                url,
                f"discovery: pages more than {self.max_depth} links from the home page are "
                "not checked (GOVARCHIVE_DISCOVERY_DEPTH)",
            )
        if self.checked >= self.max_pages:
            self.over_cap += 1
            return self._first(
                "cap",
                url,
                f"discovery: {self.max_pages} candidate pages checked, the rest are not "
                "(GOVARCHIVE_MAX_DISCOVERY_PAGES)",
            )
        self.checked += 1
        return None

    def _first(self, reason: str, url: str, note: str) -> str | None:
        if reason in self.examples:
            return ""
        self.examples[reason] = url
        logger.info("%s; first: %s", note, url)
        return note

    def summary(self) -> str:
        return (
            f"discovery checked {self.checked} candidate pages; not checked: "
            f"{self.too_deep} beyond depth {self.max_depth}, {self.over_cap} over the cap "
            f"of {self.max_pages}"
        )
