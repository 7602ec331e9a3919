"""Page-level fields: canonical URL, title, visible date, breadcrumb category, sapo."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lxml import etree

from crawler.dates import normalize_space, parse_published
from crawler.extract.parsing import _attr_url, _fold, _is_within, _text_of, compiled_xpath
from crawler.urls import canonical_url

if TYPE_CHECKING:
    from crawler.profiles import Profile

#: A breadcrumb's first item, in the languages of the portals we meet.
_HOME_LABELS = frozenset(
    {"trang chủ", "trang chu", "home", "trang nhất", "homepage", "home page", "accueil", "inicio",
     "início", "página inicial", "startseite", "inizio", "beranda", "strona główna"}
)  # fmt: skip
_RELATED_HEADINGS = frozenset(
    {
        "các tin khác",
        "tin khác",
        "tin liên quan",
        "bài viết liên quan",
        "tin cùng chuyên mục",
        "các tin đã đưa",
        "tin đã đưa",
        "other news",
        "related news",
        "related articles",
        "xem thêm",
    }
)
_FURNITURE_LINES = frozenset(
    {"in bài viết", "gửi mail", "gửi email", "chia sẻ", "in", "print", "email", "về đầu trang"}
)
_DATE_LINE = re.compile(
    r"^(?:ngày đăng|publish date|cập nhật|ngày cập nhật|đăng lúc)?\s*:?\s*"
    r"(?:thứ [^,]+,\s*)?\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?:\s*\|?\s*\d{1,2}:\d{2}(?:\s*[ap]m)?)?"
    r"(?:\s*\|\s*(?:view count|lượt xem)\s*:?\s*\d*)?$",
    re.IGNORECASE,
)
_VIEW_COUNT_LINE = re.compile(
    r"^(?:\|\s*)?(?:view count|lượt xem|số lượt xem)\s*:?\s*[\d.,]*$", re.IGNORECASE
)
_TITLE_SEPARATORS = (" - ", " | ", " – ", " — ", " :: ", " « ", " » ")
_LOWER = "translate(.,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')"
_DATE_HINT_XPATH = (
    "descendant-or-self::time | descendant-or-self::*/@class"
    f"[contains({_LOWER},'date') or contains({_LOWER},'time') or contains({_LOWER},'ngay')]/.."
)
# These search the class and id attributes themselves, then step up to their elements: a test
# of each element's @class and @id converts every element's attributes once per contains()
# (three times slower); plain contains() on the usual spellings, as translate() to lower case
# on every class and id cost a millisecond a page.
_BREADCRUMB_XPATH = (
    "(//@class[contains(.,'readcrumb') or contains(.,'ReadCrumb') or contains(.,'READCRUMB') or "
    "contains(.,'chuyenmuc')] | "
    "//@id[contains(.,'readcrumb') or contains(.,'ReadCrumb') or contains(.,'READCRUMB')])/.."
)
# The cheap substring test first: the exact class-token test then runs on a few elements only.
_SAPO_XPATH = (
    "//@class[contains(.,'sapo') or contains(.,'lead') or contains(.,'summary') or "
    "contains(.,'chapeau')]/parent::*[self::p or self::div or self::h2 or self::span]"
    "[contains(concat(' ',normalize-space(@class),' '),' sapo ') or contains(concat(' ',"
    "normalize-space(@class),' '),' lead ') or contains(concat(' ',normalize-space(@class),' '),"
    "' summary ') or contains(concat(' ',normalize-space(@class),' '),' chapeau ')]"
)
_TITLE_TAGS = frozenset({"h1", "h2", "h3", "h4", "div", "p", "span", "strong", "td", "a"})
#: Text nodes of the body holding a word: where an element printing the title must start.
_BODY_TEXT_WITH_WORD = "//body//text()[contains(., $word)]"


def _canonical(root: etree._Element, url: str, profile: Profile | None = None) -> str:
    """The page's canonical URL (session ids dropped, query sorted), else its own URL.

    With a profile, a canonical link naming another article (or no article: a template that
    points every page at the homepage, a copy pointing at the outlet it came from) is ignored,
    so one page can never overwrite another article's row.
    """
    for link in root.iterfind(".//link[@rel]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            href = _attr_url(link.get("href"), url)
            if href and urlsplit(href).scheme in ("http", "https"):
                fetched_id = profile.article_id(url) if profile else None
                if fetched_id is None or profile.article_id(href) == fetched_id:
                    return canonical_url(href)
                break
    return canonical_url(url)


def _base_url(root: etree._Element, url: str) -> str:
    base = root.find(".//base[@href]")
    return (_attr_url(base.get("href"), url) or url) if base is not None else url


def _page_title(root: etree._Element) -> str:
    el = root.find(".//title")
    return _text_of(el) if el is not None else ""


def _meta(root: etree._Element, *names: str) -> str | None:
    for el in root.iterfind(".//meta"):
        key = (el.get("property") or el.get("name") or "").lower()
        if key in names:
            value = normalize_space(el.get("content") or "")
            if value:
                return value
    return None


def _generic_title(
    root: etree._Element, fallback: Callable[[], str | None] | None = None
) -> tuple[str | None, etree._Element | None]:
    """The visible heading that the ``<title>`` starts with, else og:title/trafilatura/<title>.

    Portal pages put "Article title - Section - Site" in ``<title>`` and print the article title
    in some element; h1 is often a portlet caption ("Tin tức nổi bật"), so matching the two is
    more reliable than any tag name. Returns the title and the element printing it, if found.
    """
    page_title = _page_title(root)
    if page_title:
        best, best_el = "", None
        for el, text in _title_candidates(root, page_title):
            longer = len(text) > len(best)
            # equal texts: the outer element, as it comes first in the document
            outer = len(text) == len(best) and best_el is not None and _is_within(best_el, el)
            if (longer or outer) and page_title.startswith(text):
                rest = page_title[len(text) :]
                if not rest or rest.startswith(_TITLE_SEPARATORS):
                    best, best_el = text, el
        if best:
            return best, best_el
    candidate = _meta(root, "og:title", "twitter:title") or (fallback() if fallback else None)
    if candidate:
        return candidate, None
    if page_title:
        for separator in _TITLE_SEPARATORS:
            if separator in page_title:
                return page_title.split(separator)[0].strip(), None
    return page_title or None, None


def _title_candidates(
    root: etree._Element, page_title: str
) -> Iterator[tuple[etree._Element, str]]:
    """Elements of the body (of :data:`_TITLE_TAGS`) short enough to print the title, with
    their text: the ones holding the title's first word, found from the text nodes that hold
    it up through their ancestors, so that no element's whole text is ever read twice (reading
    it for every element of the page cost more than the rest of the title search)."""
    word = page_title.split(" ", 1)[0]
    limit = 2 * len(page_title)
    seen: set[etree._Element] = set()
    for node in compiled_xpath(_BODY_TEXT_WITH_WORD)(root, word=word):
        el = node.getparent()
        if node.is_tail:
            el = el.getparent()
        while el is not None and el.tag != "body" and el not in seen:
            seen.add(el)
            if _longer_than(el, limit):
                break  # so are its ancestors
            if el.tag in _TITLE_TAGS:
                text = _text_of(el)
                if len(text) >= 8:
                    yield el, text
            el = el.getparent()


def _longer_than(el: etree._Element, limit: int) -> bool:
    """Whether ``el``'s text, spaces folded, is longer than ``limit``; stops reading there."""
    length = 0
    for text in el.itertext():
        length += len(" ".join(text.split())) + 1
        if length > limit + 1:
            return True
    return False


def _visible_date(scope: etree._Element, profile: Profile | None) -> tuple[str | None, str | None]:
    """First date-like element in ``scope`` (class mentions date/time, or <time>) that parses."""
    for el in compiled_xpath(_DATE_HINT_XPATH)(scope)[:30]:
        if el.tag == "time" and el.get("datetime"):
            stamp = el.get("datetime") or ""
            iso, _ = parse_published(stamp, profile)
            if iso:
                # "March 5, 2024" shown, the moment with its offset in the attribute: the raw
                # value keeps both, so the row says the offset was printed, not guessed.
                shown = _text_of(el)
                return iso, f"{shown} ({stamp})" if shown and shown != stamp else stamp
        text = _text_of(el)
        if not text or len(text) > 120 or not any(ch.isdigit() for ch in text):
            continue
        iso, raw = parse_published(text, profile)
        if iso:
            return iso, raw
    return None, None


def _breadcrumbs(root: etree._Element) -> list[etree._Element]:
    """The page's first breadcrumb elements (a class or id naming them)."""
    return compiled_xpath(_BREADCRUMB_XPATH)(root)[:3]


def _breadcrumb_category(
    root: etree._Element, crumbs: list[etree._Element] | None = None, title: str | None = None
) -> str | None:
    """The breadcrumb's last section: not its home, its separators, its "You are here:" label,
    nor the article's own ``title``, which many CMSs print as the last crumb (Joomla)."""
    for crumb in _breadcrumbs(root) if crumbs is None else crumbs:
        items = [normalize_space(t) for t in crumb.itertext()]
        items = [
            t
            for t in items
            if t and t.casefold() not in _HOME_LABELS and t not in (">", "»", "/")
            and not t.endswith(":")
        ]  # fmt: skip
        if items and _same(items[-1], title):
            items.pop()
        if items:
            return items[-1].strip(" >»/")
    return None


def _generic_sapo(root: etree._Element, skip: set[etree._Element]) -> str | None:
    for el in compiled_xpath(_SAPO_XPATH)(root)[:5]:
        if el in skip:
            continue
        text = _text_of(el)
        if len(text) >= 20:
            return text
    return None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _fold(a).strip(" .:") == _fold(b).strip(" .:")
