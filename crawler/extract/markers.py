"""What kind of page this is, by the template's markers: an article, a listing, or neither.

Some CMSs put articles and section listings at URLs of the same shape (EasyWebHub: ``/<slug>``
for both), so the URL cannot say which a page is; the template's elements can. A page is an
article when one of the template's article markers matches, else a listing when one of its
listing markers matches, else neither (a placeholder, a static page, another layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from crawler.extract.decoding import _looks_binary, decode_html
from crawler.extract.parsing import _parse, _select

if TYPE_CHECKING:
    from crawler.profiles import Profile

ARTICLE, LISTING, OTHER = "article", "listing", "other"


def page_kind(page: bytes | str | etree._Element, profile: Profile) -> str | None:
    """ "article", "listing" or "other"; None when the profile's template has no markers."""
    if not profile.article_markers and not profile.listing_markers:
        return None
    root = page if isinstance(page, etree._Element) else _root(page)
    if root is None:
        return OTHER
    if any(_select(root, css) for css in profile.article_markers):
        return ARTICLE
    if any(_select(root, css) for css in profile.listing_markers):
        return LISTING
    return OTHER


def _root(page: bytes | str) -> etree._Element | None:
    if _looks_binary(page):
        return None
    return _parse(decode_html(page) if isinstance(page, bytes) else page)
