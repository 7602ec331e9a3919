"""trafilatura's page metadata (title, date, author, categories), computed field by field and
only when the generic path's own rules found nothing.

``bare_extraction(with_metadata=True)`` reads every field on every page, which costs about a
third of its time (the author search alone walks the whole tree with two dozen XPaths); the
generic path needs each field only as a fallback. Each property below gives what
``trafilatura.metadata.extract_metadata`` would have given for that field, on first use, except
the author, which is found by one cheaper search for the same marks.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any

from lxml import etree

from crawler.dates import normalize_space
from crawler.extract.bylines import parse_byline
from crawler.extract.parsing import compiled_xpath

#: Elements a template marks as the byline, outside comments and sidebars: what trafilatura's
#: ``extract_author`` looks for, found in one pass. Its own search copies the whole tree to
#: prune it, then runs regular-expression XPaths over every element, which cost the generic
#: path 5 ms a page, most of it on portals whose marked byline is only the CMS account. The
#: attributes are searched, not every element's attributes (see ``page._BREADCRUMB_XPATH``).
_MARKED_BYLINE_XPATH = (
    "((//body//*/@rel[.='author'] | //body//*/@itemprop[contains(.,'author')] | "
    "//body//*/@class[contains(.,'author') or contains(.,'Author') or contains(.,'byline') or "
    "contains(.,'Byline')] | //body//*/@id[contains(.,'author') or contains(.,'Author')])"
    "/parent::* | //body//author)"
    "[not(ancestor-or-self::*[contains(@class,'comment') or contains(@id,'comment') or "
    "contains(@class,'sidebar') or self::time or self::figure])]"
)


#: schema.org microdata: the name inside the element declared as the author. CMS themes print
#: "Written by: <span itemprop="name">Press office</span>" (Joomla), a declaration like JSON-LD.
_MICRODATA_AUTHOR_XPATH = (
    "//body//*/@itemprop[contains(concat(' ',normalize-space(.),' '),' author ')]"
    "/../descendant-or-self::*[@itemprop='name']"
)


@lru_cache(maxsize=1)
def _date_params() -> dict[str, Any]:
    from trafilatura.settings import DEFAULT_CONFIG, set_date_params

    return set_date_params(DEFAULT_CONFIG.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH"))


class PageMetadata:
    """trafilatura's metadata of one parsed page (the tree is only read, never changed)."""

    def __init__(self, root: etree._Element, url: str) -> None:
        self.root = root
        self.url = url

    @cached_property
    def _declared(self) -> Any:
        """Meta tags, then JSON-LD over them: the cheap part, which later fields start from."""
        from trafilatura import metadata

        declared = metadata.examine_meta(self.root)
        if declared.author and " " not in declared.author:
            declared.author = None
        try:
            declared = metadata.extract_meta_json(self.root, declared)
        except Exception:  # noqa: BLE001 - trafilatura's own guard: bugs in its JSON-LD reader
            pass
        return declared

    @cached_property
    def title(self) -> str | None:
        from trafilatura import metadata

        return self._declared.title or metadata.extract_title(self.root)

    @cached_property
    def _microdata_author(self) -> str | None:
        for el in compiled_xpath(_MICRODATA_AUTHOR_XPATH)(self.root):
            name = normalize_space(" ".join(el.itertext()))
            if 2 < len(name) < 120:
                return name
        return None

    @property
    def author_is_declared(self) -> bool:
        """Whether :attr:`author` comes from the page's meta tags, JSON-LD or microdata."""
        return bool(self._declared.author or self._microdata_author)

    @cached_property
    def author(self) -> str | None:
        """The declared author, else the text of the first element the template marks as the
        byline (see :data:`_MARKED_BYLINE_XPATH`), read as a byline line is ("Thu Hằng - Trọng
        Toàn" names two authors), else cleaned by trafilatura's author rules, which read
        " - " as the start of an outlet's name and keep only "Thu Hằng"."""
        from trafilatura.metadata import normalize_authors

        if self._declared.author or self._microdata_author:
            return self._declared.author or self._microdata_author
        for el in compiled_xpath(_MARKED_BYLINE_XPATH)(self.root):
            content = normalize_space(" ".join(el.itertext()))
            if 2 < len(content) < 120:
                byline = parse_byline(content)
                if byline and byline.author:
                    return byline.author
                return normalize_authors(None, content)
        return None

    @cached_property
    def date(self) -> str | None:
        from htmldate import find_date
        from trafilatura import metadata

        url = self._declared.url or metadata.extract_url(self.root, self.url)
        return find_date(self.root, **{**_date_params(), "url": url})

    @cached_property
    def categories(self) -> list[str]:
        from trafilatura import metadata

        return self._declared.categories or metadata.extract_catstags("category", self.root)
