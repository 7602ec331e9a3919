"""HTML parsing and the small tree helpers every extraction step shares."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from crawler.dates import normalize_space

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_PARSERS = threading.local()


def _parse(text: str) -> lxml.html.HtmlElement | None:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:  # lxml parsers must not be shared between threads
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
        _PARSERS.parser = parser
    text = _CONTROL_CHARS.sub("", _XML_DECLARATION.sub("", text, count=1))
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.LxmlError, ValueError):
        return None
    return root if isinstance(root.tag, str) else None


def compiled_xpath(expression: str) -> etree.XPath:
    """``expression`` compiled once per thread: ``el.xpath(string)`` compiles it on every call,
    and the generic path runs the same few expressions on every page. lxml's compiled XPath
    objects must not be shared between threads, like its parsers."""
    cache = getattr(_PARSERS, "xpaths", None)
    if cache is None:
        cache = _PARSERS.xpaths = {}
    compiled = cache.get(expression)
    if compiled is None:
        compiled = cache[expression] = etree.XPath(expression)
    return compiled


# --------------------------------------------------------------------------------------------
# Small helpers


@lru_cache(maxsize=512)
def css_to_xpath(selector: str) -> str:
    """CSS -> XPath once per selector string (the translation costs more than the query)."""
    from cssselect import HTMLTranslator

    return HTMLTranslator().css_to_xpath(selector)


def _select(root: etree._Element, selector: str | None) -> list[etree._Element]:
    if not selector:
        return []
    try:
        found = root.xpath(css_to_xpath(selector))
    except Exception:  # noqa: BLE001 - an unusable selector means "no match", not a crash
        return []
    return [el for el in found if isinstance(el, etree._Element) and isinstance(el.tag, str)]


def _text_of(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return normalize_space(" ".join(el.itertext()))


@lru_cache(maxsize=1024)
def _fold(text: str) -> str:
    """Casefolded, without diacritics (đ -> d): "Phó Ban biên tập" == "pho ban bien tap".

    Cached: a page's title and sapo are compared with many of its lines."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return normalize_space(text.casefold())


def _is_within(el: etree._Element, ancestor: etree._Element) -> bool:
    return el is ancestor or any(a is ancestor for a in el.iterancestors())


def _common_ancestor(elements: list[etree._Element]) -> etree._Element | None:
    elements = [el for el in elements if el is not None]
    if not elements:
        return None
    chain = [elements[0], *elements[0].iterancestors()]
    for el in elements[1:]:
        ancestors = {id(a) for a in (el, *el.iterancestors())}
        chain = [a for a in chain if id(a) in ancestors]
    return chain[0] if chain else None


def _attr_url(value: str | None, base: str) -> str | None:
    if not value:
        return None
    value = value.strip()
    if not value or value.startswith(("#", "data:", "javascript:", "mailto:", "about:", "tel:")):
        return None
    try:
        return urljoin(base, value)
    except ValueError:
        return None


def _first(root: etree._Element, selector: str | None) -> etree._Element | None:
    found = _select(root, selector)
    return found[0] if found else None
