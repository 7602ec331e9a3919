"""Articles out of the archive as CSV or newline-delimited JSON, for tools that are not Datasette.

``govarchive export --format csv|jsonl [--portal P] [--since DATE] OUT`` calls
:func:`export_articles`; it streams rows (the archive may hold millions), opens the database
read-only, and writes every ``articles`` column. JSON lines also carry each article's images
and attachments as lists; CSV stays one flat row per article.

In Datasette, :func:`render_jsonl` is the ``.jsonl`` output renderer: any table, row or SQL query
page offers "jsonl", one JSON object per line.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from datasette.utils.asgi import Response

__all__ = ["FORMATS", "export_articles", "render_jsonl"]

FORMATS = ("csv", "jsonl")


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def _output(out: Path | str) -> Iterator[IO[str]]:
    if str(out) == "-":
        yield sys.stdout
        return
    with open(out, "w", encoding="utf-8", newline="") as handle:
        yield handle


def _children(conn: sqlite3.Connection, table: str, columns: str) -> dict[str, list[dict]]:
    by_article: dict[str, list[dict]] = {}
    for row in conn.execute(f"select article_url, {columns} from {table} order by position"):
        item = dict(row)
        by_article.setdefault(item.pop("article_url"), []).append(item)
    return by_article


def export_articles(
    db_path: Path,
    out: Path | str,
    fmt: str,
    portal: str | None = None,
    since: str | None = None,
) -> int:
    """Write the articles of ``db_path`` (optionally one portal, published on or after ``since``,
    an ISO date) to ``out`` (``-`` for stdout), oldest first. Returns the number written."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    where, params = [], []
    if portal:
        where.append("portal = ?")
        params.append(portal)
    if since:
        where.append("published_at >= ?")
        params.append(since)
    sql = "select * from articles" + (" where " + " and ".join(where) if where else "")
    sql += " order by published_at, url"
    conn = _connect(db_path)
    try:
        images = attachments = {}
        if fmt == "jsonl":
            images = _children(conn, "images", "position, url, caption, alt")
            attachments = _children(conn, "attachments", "position, url, title")
        cursor = conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        count = 0
        with _output(out) as handle:
            if fmt == "csv":
                writer = csv.writer(handle)
                writer.writerow(columns)
                for row in cursor:
                    writer.writerow(row)
                    count += 1
            else:
                for row in cursor:
                    item = dict(row)
                    item["images"] = images.get(item["url"], [])
                    item["attachments"] = attachments.get(item["url"], [])
                    handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                    count += 1
        return count
    finally:
        conn.close()


def render_jsonl(columns: list[str], rows: list[Any]) -> Response:
    """Datasette output renderer: the rows of the page or query, one JSON object per line."""
    body = "".join(
        json.dumps(dict(zip(columns, row, strict=False)), ensure_ascii=False, default=str) + "\n"
        for row in rows
    )
    return Response(body, content_type="application/x-ndjson; charset=utf-8")
