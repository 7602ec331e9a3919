"""The profile path: fields from the template's own elements, chosen by the profile's selectors.

trafilatura is not run at all: on these templates it drops the sapo, keeps the "Các tin khác"
list, picks the portlet heading as the title and never finds the byline, and it would cost
~20-30 ms of CPU per page for nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from crawler.dates import parse_published
from crawler.extract.article import Article
from crawler.extract.attachments import _attachments
from crawler.extract.bylines import body_lines
from crawler.extract.page import (
    _HOME_LABELS,
    _breadcrumb_category,
    _generic_title,
    _same,
    _visible_date,
)
from crawler.extract.parsing import _common_ancestor, _first, _fold, _is_within, _select, _text_of
from crawler.extract.walker import _Block, _dedupe_images, _first_line, _Walker

if TYPE_CHECKING:
    from crawler.extract.core import Extraction


def extract_with_profile(
    ex: Extraction, root: etree._Element, body_el: etree._Element, article: Article
) -> None:
    """Fill ``article`` from the template's own elements (the profile's selectors)."""
    selectors = ex.profile.selectors
    title_el = _first(root, selectors.title)
    date_el = _first(root, selectors.date)
    sapo_el = _first(root, selectors.sapo)
    byline_el = _first(root, selectors.byline)
    posted_el = _first(root, selectors.posted_by)
    category_els = _select(root, selectors.category)
    skip = ex.skip_set(root, title_el, date_el, byline_el, posted_el, *category_els)

    article.title = _text_of(title_el) or _generic_title(root, None)[0]
    if date_el is not None:
        article.published_at, article.published_raw = parse_published(_text_of(date_el), ex.profile)
    if article.published_at is None:
        scope = _common_ancestor([title_el, body_el]) if title_el is not None else None
        iso, raw = _visible_date(scope if scope is not None else body_el, ex.profile)
        if iso:
            article.published_at, article.published_raw = iso, raw
    categories = [t for t in map(_text_of, category_els) if t]
    categories = [t for t in categories if t.casefold() not in _HOME_LABELS]
    if categories:
        article.category = categories[-1]
    elif not category_els:
        article.category = _breadcrumb_category(root)
    # else: the template's category element is there and empty (a post outside any labelled
    # category); a breadcrumb elsewhere on the page may be the layout's, not the article's.
    article.posted_by = _first_line(posted_el, ex.base)

    lead_images: list[_Block] = []
    links: list[tuple[str, str]] = []
    sapo = None
    if sapo_el is not None and not _is_within(sapo_el, body_el):
        sapo = _text_of(sapo_el) or None
        wrapper = sapo_el.getparent()
        if wrapper is None or _is_within(body_el, wrapper):
            wrapper = sapo_el
        head = _Walker(ex.base, skip).walk(wrapper)
        lead_images = [b for b in head.blocks if b.image is not None]
        links.extend(head.links)
    # The template prints the CMS account right after the body. When the body's HTML is
    # unclosed (a CMS cut the article mid-tag), the rest of the page nests inside it, so the
    # body ends at that account line whatever the tree says.
    stop = posted_el if posted_el is not None and _is_within(posted_el, body_el) else None
    body = _Walker(ex.base, skip, stop).walk(body_el)
    links.extend(body.links)

    if _same(sapo, article.title):
        sapo = None  # the editor repeated the title in the lead field: not a lead
    article.sapo = sapo
    byline_text = _text_of(byline_el) if byline_el is not None else None
    lines = body_lines(body.blocks, article, byline_text, ex.not_authors)
    if sapo and not (lines and _fold(lines[0]).startswith(_fold(sapo))):
        lines.insert(0, sapo)
    article.text = "\n".join(lines)
    article.images = _dedupe_images(lead_images + body.blocks)
    article.attachments = _attachments(links)
