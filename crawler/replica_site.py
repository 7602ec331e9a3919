"""A portal replica as data: the folder of saved pages and ``pages.tsv``, and how a request
target finds its page (see ``shared/replica/sotttt/README.md``). :mod:`crawler.replica` serves
it over HTTP; benchmarks and evaluations read it directly.

* the request target is matched exactly, but a trailing ``?``, another order of the query
  parameters and ``&amp;`` left in a query (all things real crawlers produce) still match;
* like Liferay, an article ``/<section>/-/view_content/<id>-<slug>.html`` is found by its id
  alone, whatever section path it was linked under, so one article answers at many URLs;
* print pop-ups and everything else not in ``pages.tsv`` answer 404.
"""

from __future__ import annotations

import csv
import html
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

DEMO_REPLICA = Path(__file__).parent / "demo" / "sotttt"
"""Small replica bundled with the package: the fixture of the tests and of ``govarchive demo``."""

ARTICLE_PATH = re.compile(r"^(?:/(?:vi|en))?/(?!-/)[^/]+/-/view_content/(?P<id>\d+)-[^/]*\.html$")
"""An article URL path as Liferay routes it; the section segment and the slug are ignored."""

POPUP_MARKER = "/view_content/pop_up/"

# Query parameters the portal ignores when it routes an article by id (HTTrack saved a few
# articles with a ``redirect`` back-link in their URL).
_IGNORED_ARTICLE_PARAMS = frozenset({"redirect"})

_NOT_FOUND_BODY = (
    b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
    b"<body><h1>Not Found</h1><p>This page is not part of the replica.</p></body></html>\n"
)

QueryKey = tuple[tuple[str, str], ...]


DAKNONG_DEMO_REPLICA = Path(__file__).parent / "demo" / "sldtbxh-daknong"
"""Small cut of the sldtbxh-daknong replica (EasyWebHub/LacViet CMS), for the tests."""


def shared_replica(name: str = "sotttt") -> Path | None:
    """A full replica next to the repository (``../shared/replica/NAME``), if present.

    Benchmarks and the coverage evaluation want the whole site, which is too large to ship in
    the package; the bundled :data:`DEMO_REPLICA` is the fallback everywhere else.
    """
    repo = Path(__file__).resolve().parent.parent
    candidate = repo.parent / "shared" / "replica" / name
    return candidate if (candidate / "pages.tsv").is_file() else None


@dataclass(frozen=True)
class Page:
    """One servable file: where it is on disk and the metadata ``pages.tsv`` gives for it."""

    url: str
    file: Path
    kind: str
    category: str
    last_modified: str
    content_type: str


class Answer(NamedTuple):
    """What the server sends for one request (the body already read, or empty for 304/HEAD)."""

    status: int
    headers: dict[str, str]
    body: bytes


def split_target(target: str) -> tuple[str, QueryKey]:
    """Normalise a request target to (decoded path, sorted query pairs).

    Sorting the parsed pairs is what makes parameter order, a trailing ``?``, ``&amp;``
    separators and percent-encoding differences irrelevant, as they are to the real portal.
    """
    if target.startswith(("http://", "https://")):  # absolute-form request target
        parts = urlsplit(target)
        target = parts.path + ("?" + parts.query if parts.query else "")
    path, _, query = target.partition("?")
    path, _, _ = path.partition("#")
    query, _, _ = query.partition("#")
    query = query.replace("&amp;", "&")
    pairs = parse_qsl(query, keep_blank_values=True)
    return unquote(path) or "/", tuple(sorted(pairs))


class ReplicaSite:
    """The index of a replica folder, answering requests without any network involved.

    Only ``pages.tsv`` is held in memory (a few hundred KB for the full replica); page bodies
    are read from disk per request, so a 90 MB replica costs no memory and edits to a page
    file show up immediately (with a new ETag).
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory).resolve()
        tsv = self.directory / "pages.tsv"
        if not tsv.is_file():
            raise FileNotFoundError(f"{tsv}: no pages.tsv, so {self.directory} is not a replica")
        self.pages: dict[tuple[str, QueryKey], Page] = {}
        self.articles: dict[str, Page] = {}
        with tsv.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                page = Page(
                    url=row["url"],
                    file=self.directory / row["file"],
                    kind=row.get("kind") or "",
                    category=row.get("category") or "",
                    last_modified=row.get("crawled") or "",
                    content_type=row.get("content_type") or "text/html; charset=utf-8",
                )
                self.pages.setdefault(split_target(page.url), page)
                if page.kind == "article":
                    article_id = self.article_id(page.url)
                    if article_id:
                        self.articles.setdefault(article_id, page)
        robots = self.directory / "robots.txt"
        self.robots: Page | None = None
        if robots.is_file():
            self.robots = Page(
                url="/robots.txt",
                file=robots,
                kind="robots",
                category="",
                last_modified=formatdate(robots.stat().st_mtime, usegmt=True),
                content_type="text/plain; charset=utf-8",
            )

    @staticmethod
    def article_id(target: str) -> str | None:
        """The article id in a request target routed like Liferay does, or None."""
        path, query = split_target(target)
        if POPUP_MARKER in path:
            return None
        match = ARTICLE_PATH.match(path)
        if not match or any(key not in _IGNORED_ARTICLE_PARAMS for key, _ in query):
            return None
        return match.group("id")

    def resolve(self, target: str) -> Page | None:
        """The page a request target is answered with, or None for 404."""
        path, query = split_target(target)
        if POPUP_MARKER in path:
            return None  # print views are never served, even if a listing links them
        if path == "/robots.txt" and not query:
            return self.robots
        page = self.pages.get((path, query))
        if page is None:
            article_id = self.article_id(target)
            if article_id is not None:
                page = self.articles.get(article_id)
        return page

    def lookup(
        self, target: str, request_headers: dict[str, str] | None = None, head: bool = False
    ) -> Answer:
        """Answer a request target: ``(status, headers, body)`` as the server would send it.

        ``request_headers`` may carry ``If-None-Match`` / ``If-Modified-Since`` (names are
        case-insensitive) to get a 304; ``head`` leaves the body out but keeps Content-Length.
        """
        page = self.resolve(target)
        if page is None:
            headers = {
                "Content-Type": "text/html; charset=utf-8",
                "Content-Length": str(len(_NOT_FOUND_BODY)),
            }
            return Answer(404, headers, b"" if head else _NOT_FOUND_BODY)
        try:
            stat = page.file.stat()
        except OSError:
            return Answer(404, {"Content-Length": "0"}, b"")
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        headers = {"Content-Type": page.content_type, "ETag": etag}
        if page.last_modified:
            headers["Last-Modified"] = page.last_modified
        if _not_modified(request_headers or {}, etag, page.last_modified):
            return Answer(304, headers, b"")
        if head:
            headers["Content-Length"] = str(stat.st_size)
            return Answer(200, headers, b"")
        body = page.file.read_bytes()
        headers["Content-Length"] = str(len(body))
        return Answer(200, headers, body)

    def walk_listings(self, start_paths: Iterable[str]) -> ListingWalk:
        """Breadth-first walk of the listing pages a pager-following crawler can reach.

        Starting from ``start_paths``, follow the Asset Publisher pager links (``p_p_id=101``
        with ``_101_cur=N``) of every served listing page and collect the article links found
        on them, resolved the way this server resolves them (by id). That is the ground-truth
        "reachable" set a crawl of this replica is measured against, and what tells which
        start paths a (partial) replica cannot serve.
        """
        walk = ListingWalk()
        queue = deque(start_paths)
        seen: set[tuple[str, QueryKey]] = set()
        exact: set[str] = set()
        while queue:
            target = queue.popleft()
            key = split_target(target)
            if key in seen:
                continue
            seen.add(key)
            page = self.resolve(target)
            if page is None or page.kind == "article":
                walk.missing.append(target)
                continue
            walk.listings.append(target)
            text = page.file.read_text(encoding="utf-8-sig", errors="replace")
            for link in links_in(text, target):
                if is_pager_link(link):
                    if split_target(link) not in seen:
                        queue.append(link)
                elif ARTICLE_PATH.match(split_target(link)[0]) and POPUP_MARKER not in link:
                    served = self.resolve(link)
                    if served is not None and served.kind == "article":
                        article_id = self.article_id(served.url)
                        if article_id:
                            walk.articles.setdefault(article_id, target)
                            if split_target(link) == split_target(served.url):
                                exact.add(article_id)
                    else:
                        walk.unserved_links.add(link)
        walk.by_id_only = set(walk.articles) - exact
        return walk


@dataclass
class ListingWalk:
    """Result of :meth:`ReplicaSite.walk_listings`."""

    listings: list[str] = field(default_factory=list)
    """Served listing targets visited, in breadth-first order."""
    missing: list[str] = field(default_factory=list)
    """Start paths or pager links the replica answers 404 for."""
    articles: dict[str, str] = field(default_factory=dict)
    """Reachable article id -> the first listing target that links it."""
    unserved_links: set[str] = field(default_factory=set)
    """Article links on listing pages that 404 (article not in the replica)."""
    by_id_only: set[str] = field(default_factory=set)
    """Reachable article ids never linked at their saved URL: served only by the id lookup."""


_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def links_in(text: str, base_target: str) -> list[str]:
    """Same-site link targets (path + query) of the ``href`` attributes in an HTML page."""
    base = urljoin("http://replica.invalid/", base_target)
    links = []
    for match in _HREF.finditer(text):
        href = html.unescape(match.group(1) or match.group(2) or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        parts = urlsplit(urljoin(base, href))
        if parts.netloc not in ("replica.invalid", "sotttt.hanoi.gov.vn"):
            continue
        links.append(parts.path + ("?" + parts.query if parts.query else ""))
    return links


def is_pager_link(target: str) -> bool:
    """Whether a target is a page of an Asset Publisher listing (``p_p_id=101&..._101_cur=N``)."""
    path, query = split_target(target)
    params = dict(query)
    return (
        params.get("p_p_id") == "101"
        and params.get("_101_cur", "").isdigit()
        and params.get("p_p_lifecycle", "0") == "0"
        and "/view_content/" not in path
    )


def _not_modified(request_headers: dict[str, str], etag: str, last_modified: str) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins; If-Modified-Since only without it."""
    lowered = {k.lower(): v for k, v in request_headers.items()}
    if_none_match = lowered.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    if_modified_since = lowered.get("if-modified-since")
    if if_modified_since and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False
