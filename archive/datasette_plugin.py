"""Datasette plugin: accent-insensitive search, and each row's provenance one click away.

``articles_fts`` holds folded text (see archive.textfold), so a query must be folded too:
FTS5 alone would strip the tone marks of "Đảng ủy" but keep đ, and find nothing.

Provenance: the ``warc_record_id`` cell of ``articles`` and ``fetches`` links to a replay of
that very capture (file, offset and digest are their own columns), so a researcher can check a
row against the page as it was served. The replay address comes from the plugin configuration
in the metadata, ``plugins: {govarchive: {replay_url: ...}}`` (``govarchive serve
--replay-url``), a template such as ``http://127.0.0.1:8080/coll/{timestamp}/{url}`` for a local
pywb; without it the cell stays the plain record id. The links are built by archive.replay.

Pages for people (templates in archive/web/templates): the article page (``articles`` row page),
search results with highlighted snippets, the timeline on the database page; the
``/-/govarchive/capture/`` route serving an archived page sandboxed (archive.capture_view),
a ``.jsonl`` output renderer (archive.export) and a facet by year (archive.facets). On the
``articles`` table page the body text and the WARC pointer columns are left out unless the
request names its columns (``_col``/``_nocol``). What the pages show beyond Datasette's own
context is gathered by archive.page_context; this module holds the hooks.

Registered through the ``datasette`` entry point ``govarchive`` in pyproject.toml.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.utils import escape_fts
from markupsafe import Markup

from archive import search
from archive.capture_view import capture_view
from archive.export import render_jsonl
from archive.facets import YearFacet
from archive.page_context import _article, _results, _timeline
from archive.replay import PLUGIN_NAME, replay_link, with_replay_url
from archive.textfold import fold, fold_sql

__all__ = [
    "HIDDEN_BY_DEFAULT",
    "PLUGIN_NAME",
    "RESULT_COLUMNS",
    "asgi_wrapper",
    "extra_template_vars",
    "fold_search_query",
    "fts_match",
    "prepare_connection",
    "register_facet_classes",
    "register_output_renderer",
    "register_routes",
    "render_cell",
    "replay_link",
    "with_replay_url",
]


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _is_search_key(key: str) -> bool:
    # _searchmode is a setting ("raw"/"escaped"), not a query.
    return key == "_search" or key.startswith("_search_")


def fold_search_query(query_string: bytes) -> bytes:
    """Fold ``_search`` and ``_search_<column>`` values; anything else passes untouched.

    Returns the input object itself when nothing needed folding, so ordinary requests keep
    their exact query string.
    """
    if b"_search" not in query_string and b"%5" not in query_string.upper():
        return query_string  # the common case: no search, and no percent-encoded "_"
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    folded = [(key, fold(value) if _is_search_key(key) else value) for key, value in pairs]
    if folded == pairs:
        return query_string
    return urlencode(folded).encode("ascii")


#: Columns of ``articles`` a reader of the table page does not need to see: the whole body (one
#: cell a screen long per row) and the WARC pointer (the article page shows it).
HIDDEN_BY_DEFAULT = (
    "text",
    "warc_filename",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "warc_payload_digest",
)
#: Columns the search results list shows (with the key, ``url``, which Datasette always adds).
RESULT_COLUMNS = ("title", "published_at", "portal", "category")
_ARTICLES_HTML = re.compile(r"^/(?P<database>[^/.]+)/articles$")


async def _hidden_columns(datasette: Any, database: str) -> list[tuple[str, str]]:
    """``_nocol`` pairs for the default-hidden columns this archive has (looked up once: a
    column is never dropped, and one added while serving merely shows)."""
    cache = datasette.__dict__.setdefault("_govarchive_hidden_columns", {})
    if database not in cache:
        try:
            columns = await datasette.get_database(database).table_columns("articles")
        except KeyError:
            return []
        cache[database] = [("_nocol", name) for name in HIDDEN_BY_DEFAULT if name in columns]
    return cache[database]


async def _default_columns(datasette: Any, path: str, query_string: bytes) -> bytes:
    """``_nocol=`` the columns hidden by default, unless the request chose its columns."""
    view = _ARTICLES_HTML.match(path)
    if not view:
        return query_string
    args = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    if args.keys() & {"_col", "_nocol"}:
        return query_string
    searching = args.get("_search") or args.get(search.PLANNED_SEARCH)
    if searching and not args.get("_grid"):
        # The list of results shows these (and reads each text for its snippet itself):
        # fewer columns to read and render for rows shown as a title, a date and a snippet.
        chosen = [("_col", name) for name in RESULT_COLUMNS]
    else:
        chosen = await _hidden_columns(datasette, view["database"])
    if not chosen:
        return query_string
    extra = urlencode(chosen).encode("ascii")
    return query_string + b"&" + extra if query_string else extra


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    """Rewrite the query string before Datasette parses it: there is no search hook."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def folding_app(scope: Scope, receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                original = scope.get("query_string") or b""
                query_string = fold_search_query(original) if original else original
                query_string = await _default_columns(datasette, scope["path"], query_string)
                if query_string is not original:
                    scope = {**scope, "query_string": query_string}
            await app(scope, receive, send)

        return folding_app

    return wrap


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Offer ``fold()`` in SQL, so hand-written queries can match the folded index:
    ``select * from articles_fts where articles_fts match fold('Đảng ủy')``."""
    conn.create_function("fold", 1, fold_sql, deterministic=True)
    conn.create_function("fts_match", 1, fts_match, deterministic=True)


def fts_match(query: object) -> object:
    """What a user typed as an FTS5 match expression on the folded index, each word quoted (as
    Datasette's ``_search`` does): ``fts_match('Hội nghị')`` → ``"Hoi" "nghi"``."""
    if not isinstance(query, str):
        return query
    # Nothing to look for (an empty box, a lone quote) matches nothing instead of failing.
    return escape_fts(fold(query)) or '""'


# -- provenance -------------------------------------------------------------------------------

# Where each table keeps the URL the record was captured at and the capture time.
_CAPTURE_COLUMNS = {
    "articles": (("fetched_url", "url"), "crawled_at"),
    "fetches": (("url",), "fetched_at"),
}


def _cell(row: Any, column: str) -> Any:
    try:
        return row[column]
    except (IndexError, KeyError):  # a column hidden with ?_col= / ?_nocol=
        return None


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Markup | None:
    """Link a row's ``warc_record_id`` to the replay of its capture, when a replay URL is set."""
    if column != "warc_record_id" or table not in _CAPTURE_COLUMNS or not value:
        return None
    config = datasette.plugin_config(PLUGIN_NAME, database=database, table=table) or {}
    template = config.get("replay_url")
    if not isinstance(template, str) or not template:
        return None
    url_columns, time_column = _CAPTURE_COLUMNS[table]
    url = next((_cell(row, name) for name in url_columns if _cell(row, name)), None)
    captured_at = _cell(row, time_column)
    href = replay_link(template, url or "", captured_at or "")
    if href is None:
        return None
    return Markup('<a href="{}" title="{}">{}</a>').format(
        href, f"Replay this capture of {url}", value
    )


# -- pages for people -------------------------------------------------------------------------


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/-/govarchive/capture/(?P<database>[^/]+)$", capture_view)]


@hookimpl
def register_output_renderer() -> dict[str, Any]:
    return {"extension": "jsonl", "render": render_jsonl}


@hookimpl
def register_facet_classes() -> list[type]:
    return [YearFacet]


@hookimpl
def extra_template_vars(
    template: str, database: str | None, request: Any, datasette: Any
) -> dict[str, Any]:
    if template.startswith("row-") and database:
        return {"govarchive_article": lambda row: _article(datasette, database, row)}
    if template.startswith(("table-", "query-")) and database:
        return {
            "govarchive_results": lambda rows, query: _results(datasette, database, rows, query)
        }
    if template.startswith("database-") and database:

        async def timeline() -> dict[str, Any]:
            return {"govarchive_timeline": await _timeline(datasette, database)}

        return timeline
    return {}


# Search plans that hold up on a million articles live in a plugin module of their own; the
# templates in a package of their own (see archive.web).
def _register_search_plugin() -> None:
    from datasette.plugins import pm

    from archive import search, web

    if not pm.is_registered(search):
        pm.register(search, name="govarchive_search")
    if not pm.is_registered(web):
        pm.register(web, name="govarchive_web")


_register_search_plugin()
