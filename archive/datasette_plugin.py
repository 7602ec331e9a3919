"""Datasette plugin: make searches accent-insensitive the same way the index is.

``articles_fts`` holds folded text (see archive.textfold), so a query must be folded too:
FTS5 alone would strip the tone marks of "Đảng ủy" but keep đ, and find nothing. Registered
through the ``datasette`` entry point ``govarchive`` in pyproject.toml.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl

from archive.textfold import fold, fold_sql

__all__ = ["asgi_wrapper", "fold_search_query", "prepare_connection"]

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
