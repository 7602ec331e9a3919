"""Datasette plugin: full-text search on ``articles`` that stays fast on a million articles.

Datasette's own ``_search`` filter is ``rowid IN (SELECT rowid FROM articles_fts WHERE
articles_fts MATCH ...)``. SQLite always drives that from the list of matches: every matching
article is read, text and all, to find the newest ones; then the row count and each facet read
them all again. On a few thousand articles that is nothing. On a million (a portal backfill plus
years of crawls) a common term such as "hội nghị" matches 600,000 articles: 1.3 s for the page
of rows alone, and the count and facets run into Datasette's time limits. Measured with
``scripts/bench_fts.py``.

So a search on ``articles`` first counts its matches, up to :data:`FEW_MATCHES` (FTS5 stops
reading there: about a millisecond):

* up to that many: Datasette's own plan, count and facets included; they are cheap at that size;
* more: walk the ``published_at`` index newest first and keep the articles that match
  (``EXISTS (... MATCH ... AND rowid = articles.rowid)``). With more than 1 % of the archive
  matching, a page of 20 needs at most a couple of thousand cheap index probes, whatever the
  archive's size. The exact total and the facets would still read every match, so they are
  left out (``_nocount``, ``_nofacet``); a researcher who needs the total can run
  ``select count(*) from articles_fts where articles_fts match fold('...')``.

Requests that sort on another column, search a single column (``_search_title=``) or already
ask for no count keep Datasette's plan. The switch happens in an ASGI wrapper, before Datasette
parses the query string: ``_search`` is handed on as ``_fts_search``, which Datasette's own
filter ignores and :func:`filters_from_request` turns into the ``EXISTS`` clause.

Registered by ``archive.datasette_plugin`` when Datasette loads it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.utils import escape_fts

from archive.textfold import fold

__all__ = ["FEW_MATCHES", "asgi_wrapper", "filters_from_request", "search_plan"]

#: Up to this many matches, Datasette's plan (read and sort every match) is the cheaper one.
FEW_MATCHES = 5_000
#: Query parameter carrying a search that takes the index-walking plan.
PLANNED_SEARCH = "_fts_search"
_ARTICLES_VIEW = re.compile(r"^/(?P<database>[^/]+)/articles(?:\.(?:json|csv))?$")
_SORTS_KEEPING_PLAN = (None, "published_at")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _match_expression(query: str, raw: bool) -> str:
    return query if raw else escape_fts(query)


async def search_plan(datasette: Any, database: str, query_string: bytes) -> bytes:
    """The query string to hand to Datasette: unchanged, or switched to the index-walking plan."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    args = dict(pairs)
    query = args.get("_search")
    if not query or args.get("_nocount") or args.get("_sort") or args.get("_facet"):
        return query_string
    if args.get("_sort_desc") not in _SORTS_KEEPING_PLAN:
        return query_string
    try:
        db = datasette.get_database(database)
        rows = await db.execute(
            "SELECT count(*) FROM (SELECT rowid FROM articles_fts"
            " WHERE articles_fts MATCH :match LIMIT :limit)",
            {
                "match": _match_expression(fold(query), args.get("_searchmode") == "raw"),
                "limit": FEW_MATCHES + 1,
            },
        )
        matches = rows.first()[0]
    except Exception:  # noqa: BLE001 - no articles_fts, a bad raw query...: Datasette reports it
        return query_string
    if matches <= FEW_MATCHES:
        return query_string
    planned = [(PLANNED_SEARCH if k == "_search" else k, v) for k, v in pairs]
    planned += [("_nocount", "1"), ("_nofacet", "1")]
    return urlencode(planned).encode("ascii")


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    """Pick the search plan before Datasette builds its query from the query string."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def planning_app(scope: Scope, receive: Any, send: Any) -> None:
            query_string = scope.get("query_string") or b""
            if scope.get("type") == "http" and b"_search=" in query_string:
                view = _ARTICLES_VIEW.match(scope.get("path", ""))
                if view:
                    planned = await search_plan(datasette, view["database"], query_string)
                    if planned is not query_string:
                        scope = {**scope, "query_string": planned}
            await app(scope, receive, send)

        return planning_app

    return wrap


@hookimpl
def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> Any:
    """``_fts_search``: articles matching the search, found from the newest article down."""
    query = request.args.get(PLANNED_SEARCH)
    if table != "articles" or not query:
        return None

    async def inner() -> FilterArguments:
        raw = request.args.get("_searchmode") == "raw"
        return FilterArguments(
            [
                "EXISTS (SELECT 1 FROM articles_fts WHERE articles_fts MATCH :govarchive_search"
                " AND articles_fts.rowid = articles.rowid)"
            ],
            {"govarchive_search": _match_expression(fold(query), raw)},
            [f'search matches "{query}" (newest first; too many matches to count)'],
            {"search": query, "supports_search": True},
        )

    return inner
