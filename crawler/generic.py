"""Generic link rules for a portal on no known template, inferred from its home page.

What the web does, not what one portal does:

* **Articles** are the many links of one URL shape whose last path segment names one item: a
  slug of several words, or a numeric id (``/news/2024/05/some-long-title-123.html``,
  ``/section/-/view_content/4542171-title.html``, ``/some-long-title``). Links are grouped by
  the shape of that segment (id first, id last, bare slug), its extension and the segment
  before it (kept literally unless it is a number, such as a month); the largest group is the
  article pattern, with the groups that number their items or are printed with dates (and
  the items of the feed the page announces, see :func:`article_pattern`). A numeric id in the
  segment becomes the article id, so the same article under several section paths is fetched
  once. Item URLs may end with a slash. A script may name the item in its query instead
  (``detail.aspx?ItemID=123``, ``index.php?option=com_content&view=article&id=42:title``): the
  links to one path with the same parameters, one of them a number that differs link to link.
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
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

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
_PAGE_PARAM_NAME = r"[?&][\w.-]*?(?:page|cur|pg|trang|paged|pagina|seite|start|offset|p)"
PAGE_PARAM = rf"(?:{_PAGE_PARAM_NAME}=(\d+))"
PAGE_PATH = r"(?:/(?:page|trang|p|pages|pagina|seite)[/-](\d+)/?$)"
LISTING_PATTERN = PAGE_PARAM + "|" + PAGE_PATH
PAGE_NUMBER_PATTERN = (
    r"(?:[?&][\w.-]*?(?:page|cur|pg|trang|paged|pagina|seite|p)="
    r"|/(?:page|trang|p|pages|pagina|seite)[/-])(\d+)"
)

EXCLUDE_PATTERNS = (
    rf"\.(?:{FILE_EXTENSIONS})(?:[?#]|$)",
    # "print" as a word of its own: not "printemps", "blueprint" or "sprint".
    r"(?i)(?<![a-z])print(?:able|view|version)?(?![a-z])|pop_?up|popup|in-bai|/feed/?$|/rss",
    # A path segment that is the action itself (/search, /user/login, /recherche, search.php,
    # advanced-search), not an article whose title mentions it ("national-search-for-...").
    # In the path only: listing queries carry empty search fields (advancedSearch=false).
    r"(?i)^[^?#]*/(?:[a-z]+[-_])?(?:log-?in|log-?out|dang-nhap|dang-ky|sign-?in|register|search|"
    r"tim-?kiem|recherche[rs]?|buscar|busqueda|buscador|suche|ricerca|pesquisa|pencarian|cari)"
    r"(?:[-_][a-z]+)?(?:\.[a-z]+)?(?:[/?#]|$)",
    r"(?i)[?&](?:q|query|keywords?|keys|search|search_api_fulltext|s)=[^&#]",
    r"(?i)[?&](?:p_p_lifecycle=1|action|do|format|share|replytocom|lang|languageId)=",
    r"(?i)^https?://[^/?#]+/web/\d{4,}",  # a copy of an archived site (Wayback-style paths)
    r"(/[^/?#]+/[^/?#]+/).*\1",  # a path that repeats itself: a relative-link trap
    r"/-/view_content/[^/?#]+/-/",
)

_SLUG_WORDS = re.compile(r"[^\W_]+(?:[-_][^\W_]+){3,}")
_ID_FIRST = re.compile(r"^(\d{3,})[-_.]")
# A number ending a slug is its id, unless it is a year ("national-plan-2024").
_ID_LAST = re.compile(r"[-_.](?!(?:19|20)\d\d$)(\d{3,})$")
_ONLY_ID = re.compile(r"^\d{2,}$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
#: A date printed beside a link, as listings print them: 05/03/2024, 2024-03-05, 5 mars 2024,
#: 1er avril 2024, March 5, 2024, 5. März 2024.
_PRINTED_DATE = re.compile(
    r"\b\d{1,2}(?:er|st|nd|rd|th|\.)?[\s/.-]+(?:\d{1,2}|[^\W\d_]{3,}\.?)[\s/.,-]+(?:19|20)\d\d\b"
    r"|\b(?:19|20)\d\d[-/.]\d{1,2}[-/.]\d{1,2}\b"
    r"|\b[^\W\d_]{3,}\.? \d{1,2}(?:st|nd|rd|th)?,? (?:19|20)\d\d\b"
)
#: How far up from a link its teaser may print the date, and how long a teaser is at most.
_TEASER_LEVELS = 3
_TEASER_CHARS = 600


def infer_profile_tables(
    page_url: str, html: str, tables: dict, feed_items: list[str] | None = None
) -> dict:
    """``tables`` (a ``[portal]`` table) completed with generic ``[links]`` rules inferred
    from the links of the start page, and the items of the feed it announces (articles, and
    dated). Sections are left to discovery (crawler/discovery.py), which finds them on the
    start page and on every page visited, within its bounds."""
    host = urlsplit(page_url).hostname or ""
    items = [url for url in feed_items or () if urlsplit(url).hostname == host]
    links = list(dict.fromkeys(same_host_links(html, page_url, host) + items))
    article = article_pattern(links, dated_links(html, page_url, host) | set(items))
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


def dated_links(html: str, base: str, host: str) -> set[str]:
    """The page's same-host links printed with a date beside them, in their own teaser (the
    largest element around the link that links nowhere else): how listings and "latest news"
    blocks show articles, and menus and buttons never show pages."""
    try:
        root = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return set()
    found = set()
    for anchor in root.xpath("//body//a[@href]"):
        href = anchor.get("href", "").strip()
        element = anchor
        for _ in range(_TEASER_LEVELS + 1):
            text = " ".join(element.itertext())
            if len(text) > _TEASER_CHARS:
                break
            if element.xpath("boolean(.//time)") or _PRINTED_DATE.search(text):
                absolute = urljoin(base, href).split("#", 1)[0]
                if urlsplit(absolute).hostname == host:
                    found.add(absolute)
                break
            parent = element.getparent()
            if parent is None or any(
                (a.get("href") or "").strip() != href for a in parent.iter("a") if a.get("href")
            ):
                break  # the parent holds other links: a list, a menu, not this link's teaser
            element = parent
    return found


def _segment_shape(segment: str, parent: str = "") -> tuple[str, str] | None:
    """How an item's last path segment is built ("id-first", "id-last", "slug", "id"), and its
    extension; None when it does not name one item. A number under a number is a date's part
    (``/2024/03``), and a year is an archive, not an item."""
    segment = unquote(segment)
    stem, dot, ext = segment.rpartition(".")
    if not dot or ext.lower() not in PAGE_EXTENSIONS:
        stem, ext = segment, ""
    if _ID_FIRST.match(stem) and len(stem) > 8:
        return "id-first", ext
    if _ID_LAST.search(stem) and _SLUG_WORDS.search(stem):
        return "id-last", ext
    if _ONLY_ID.match(stem):
        if _YEAR.match(stem) or ((not parent or parent.isdigit()) and len(stem) < 4):
            return None
        return "id", ext
    if _SLUG_WORDS.fullmatch(stem) and len(stem) >= 20:
        return "slug", ext
    return None


_SHAPE_REGEX = {
    "id-first": r"(?P<{id}>\d{{3,}})[-_.][^/?#]*",
    "id-last": r"[^/?#]*?[-_.](?P<{id}>\d{{3,}})",
    "id": r"(?P<{id}>\d{{2,}})",
    "slug": r"(?P<{id}>[^/?#.]*[^\W\d_][^/?#.]*)",  # never only digits: a date's part, a page
}
#: Shapes that number their items: a group of them is articles even when it is not the largest.
_ID_SHAPES = ("id-first", "id-last", "id")
#: A query value naming an item: a number, perhaps followed by its slug (``42:title``).
_QUERY_ID = re.compile(r"\d{2,}(?=$|[-:_])")


def article_pattern(links: list[str], dated: set[str] | frozenset[str] = frozenset()) -> str | None:
    """The regular expression of the article links, or None.

    Links are grouped by shape; the largest group is articles (ties go to the group with more
    links printed with a date, ``dated``). Other groups of at least :data:`MIN_ARTICLE_LINKS`
    links are articles too when they number their items or are printed with dates: a home
    page shows news and press releases, and a CMS may alias one content type and not the
    other (Drupal's ``/actualites/slug`` beside ``/node/142``). Each alternative names its id
    group ``id``, ``id2``...; the portal's article id is whichever matched.
    """
    groups: dict[tuple, set[str]] = defaultdict(set)
    by_query: dict[tuple, set[str]] = defaultdict(set)
    excluded = [re.compile(p) for p in EXCLUDE_PATTERNS]
    pager = re.compile(LISTING_PATTERN)
    for link in links:
        parts = urlsplit(link)
        if any(p.search(link) for p in excluded) or pager.search(link):
            continue
        if parts.query:
            names = frozenset(name for name, _ in parse_qsl(parts.query, keep_blank_values=True))
            by_query[(parts.path or "/", names)].add(link)
            continue
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            continue
        parent = segments[-2] if len(segments) > 1 else ""
        shape = _segment_shape(segments[-1], parent)
        if shape is None:
            continue
        if parent.isdigit():
            parent = r"\d+"
        elif parent:
            parent = re.escape(parent)
        groups[(*shape, parent)].add(link)
    for (path, _), members in by_query.items():
        key = _query_key(path, members)
        if key is not None:
            groups[key] = members
    ranked = sorted(
        groups.items(), key=lambda item: (len(item[1]), len(item[1] & dated)), reverse=True
    )
    if not ranked or len(ranked[0][1]) < MIN_ARTICLE_LINKS:
        return None
    kind, ext = ranked[0][0][:2]
    chosen = (
        [ranked[0]]
        + [
            (key, members)
            for key, members in ranked[1:]
            if (
                len(members) >= MIN_ARTICLE_LINKS
                and (key[0] in _ID_SHAPES or len(members & dated) >= MIN_ARTICLE_LINKS)
            )
            # Shaped like the articles, under another section, and printed with a date:
            # /press-releases/slug/ beside /news/slug/ (WordPress's /%category%/%postname%/).
            # (A script's other parameters are another shape: view=category, not view=article.)
            or (kind != "query" and key[:2] == (kind, ext) and members & dated)
        ]
    )
    alternatives = [
        _group_regex(key, members, "id" if index == 0 else f"id{index + 1}")
        for index, (key, members) in enumerate(chosen)
    ]
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    # CMSs that end item URLs with a slash (WordPress, Django) link them both ways.
    return rf"^https?://[^/?#]+{body}/?$"


def _query_key(path: str, members: set[str]) -> tuple | None:
    """The shape of links to one script that name their item in the query (``?ItemID=123``,
    ``index.php?option=com_content&view=article&id=42:title``), or None.

    The item's parameter is the one whose values are numbers (an id, perhaps followed by a
    slug) that differ from link to link, the most varied if several do (``id`` over ``catid``).
    Parameters with one word for value in every link (``view=article``) are part of the shape,
    so a script's other views (``view=category``) are not articles; numbers that stay the same
    (Joomla's menu ``Itemid``) are context, not shape.
    """
    values: dict[str, list[str]] = defaultdict(list)
    for link in members:
        for name, value in parse_qsl(urlsplit(link).query, keep_blank_values=True):
            values[name].append(value)
    best = None
    for name, found in values.items():
        ids = [match.group(0) for match in map(_QUERY_ID.match, found) if match]
        if len(ids) < len(members) or not any(len(i) >= 3 for i in ids):
            continue
        rank = (len(set(ids)), max(map(int, ids)))
        if rank[0] >= 0.8 * len(members) and (best is None or rank > best[0]):
            best = (rank, name)
    if best is None:
        return None
    fixed = tuple(
        sorted(
            (name, found[0])
            for name, found in values.items()
            if len(found) == len(members) and len(set(found)) == 1 and not found[0].isdigit()
        )
    )
    return ("query", path, best[1], fixed)


def _query_regex(key: tuple, id_name: str) -> str:
    _, path, name, fixed = key
    shape = "".join(rf"(?=(?:[^#]*&)?{re.escape(n)}={re.escape(v)}(?:&|$))" for n, v in fixed)
    item = rf"(?:[^#]*&)?{re.escape(name)}=(?P<{id_name}>\d+)[^&#]*(?:&[^#]*)?"
    return rf"{re.escape(path)}(?![^#]*{_PAGE_PARAM_NAME}=\d)\?{shape}{item}"


def _group_regex(key: tuple, members: set[str], id_name: str) -> str:
    if key[0] == "query":
        return _query_regex(key, id_name)
    kind, ext, parent = key
    depths = Counter(len([s for s in urlsplit(m).path.split("/") if s]) for m in members)
    last = _SHAPE_REGEX[kind].format(id=id_name) + (re.escape("." + ext) if ext else "")
    if kind == "id" and (not parent or parent == r"\d+"):
        last = last.replace("{2,}", "{4,}")
    if not parent:
        return f"/{last}"
    prefix = r"(?:/[^/?#]+)*" if max(depths) > 2 else ""
    return rf"{prefix}/{parent}/{last}"
