"""Datasette plugin: accent-insensitive search, and each row's provenance one click away.

``articles_fts`` holds folded text (see archive.textfold), so a query must be folded too:
FTS5 alone would strip the tone marks of "Đảng ủy" but keep đ, and find nothing.

Provenance: the ``warc_record_id`` cell of ``articles`` and ``fetches`` links to a replay of
that very capture (file, offset and digest are their own columns), so a researcher can check a
row against the page as it was served. The replay address comes from the plugin configuration
in the metadata, ``plugins: {govarchive: {replay_url: ...}}`` (``govarchive serve
--replay-url``), a template such as ``http://127.0.0.1:8080/coll/{timestamp}/{url}`` for a local
pywb; without it the cell stays the plain record id.

Registered through the ``datasette`` entry point ``govarchive`` in pyproject.toml.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from datasette import hookimpl
from markupsafe import Markup

from archive.textfold import fold, fold_sql

__all__ = [
    "PLUGIN_NAME",
    "asgi_wrapper",
    "fold_search_query",
    "prepare_connection",
    "render_cell",
    "replay_link",
    "with_replay_url",
]

PLUGIN_NAME = "govarchive"

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


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    """Rewrite the query string before Datasette parses it: there is no search hook."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def folding_app(scope: Scope, receive: Any, send: Any) -> None:
            if scope.get("type") == "http" and scope.get("query_string"):
                query_string = fold_search_query(scope["query_string"])
                if query_string is not scope["query_string"]:
                    scope = {**scope, "query_string": query_string}
            await app(scope, receive, send)

        return folding_app

    return wrap


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Offer ``fold()`` in SQL, so hand-written queries can match the folded index:
    ``select * from articles_fts where articles_fts match fold('Đảng ủy')``."""
    conn.create_function("fold", 1, fold_sql, deterministic=True)


# -- provenance -------------------------------------------------------------------------------

# Where each table keeps the URL the record was captured at and the capture time.
_CAPTURE_COLUMNS = {
    "articles": (("fetched_url", "url"), "crawled_at"),
    "fetches": (("url",), "fetched_at"),
}
# Characters left as they are in the archived URL: what a URL may carry in a path or query.
# Anything else (spaces, quotes, "<", "#", non-ASCII) is percent-encoded.
_URL_SAFE = "/:?&=%+,;@!$'()*~[]-._"


def _timestamp(moment: str) -> str | None:
    """``2024-04-05T06:16:00+07:00`` → ``20240404231600`` (UTC, as replay tools index it)."""
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def replay_link(template: str, url: str, captured_at: str) -> str | None:
    """The replay address of the capture of ``url`` at ``captured_at`` (ISO 8601).

    ``template`` holds ``{timestamp}`` and ``{url}``, or is a collection base to which
    ``/{timestamp}/{url}`` is appended. Only http(s) templates give a link: anything else
    (``javascript:``…) would be a script in a researcher's browser. None when no link can
    be made.
    """
    if not template.lower().startswith(("http://", "https://")):
        return None
    timestamp = _timestamp(captured_at)
    if not timestamp or not url:
        return None
    if "{url}" not in template:
        template = template.rstrip("/") + "/{timestamp}/{url}"
    quoted = quote(url, safe=_URL_SAFE)
    # Plain replacement, not str.format: a template is configuration, not code.
    return template.replace("{timestamp}", timestamp).replace("{url}", quoted)


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


def with_replay_url(metadata: dict[str, Any], replay_url: str | None) -> dict[str, Any]:
    """``metadata`` plus the plugin configuration that turns record ids into replay links.

    Raises ValueError for a replay URL that is not http(s), so a typo is reported when the
    server starts rather than silently giving no links.
    """
    if not replay_url:
        return metadata
    if not replay_url.lower().startswith(("http://", "https://")):
        raise ValueError(f"replay URL {replay_url!r}: expected an http:// or https:// address")
    plugins = dict(metadata.get("plugins") or {})
    plugins[PLUGIN_NAME] = {**plugins.get(PLUGIN_NAME, {}), "replay_url": replay_url}
    return {**metadata, "plugins": plugins}


# Search plans that hold up on a million articles live in a plugin module of their own.
def _register_search_plugin() -> None:
    from datasette.plugins import pm

    from archive import search

    if not pm.is_registered(search):
        pm.register(search, name="govarchive_search")


_register_search_plugin()
