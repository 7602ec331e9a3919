"""What the archive's pages are given beyond Datasette's own context: the article page's
extras, the search results with their snippets, and the database page's timeline charts.

The templates (archive/web/templates) ask for these through the variables the plugin's
``extra_template_vars`` hook offers (archive.datasette_plugin).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from datasette.utils import tilde_encode

from archive import article_page
from archive.replay import _replay_template, replay_link
from archive.snippets import highlight, snippet


async def _article(datasette: Any, database: str, row: Any) -> dict[str, Any]:
    """What the article page shows beyond the row's own columns."""
    db = datasette.get_database(database)
    extras = await article_page.article_extras(db, row["url"])
    template = _replay_template(datasette, database)
    replay = None
    if template:
        replay = replay_link(template, row["fetched_url"] or row["url"], row["crawled_at"] or "")
    return {
        **extras,
        "published_local": article_page.local_date(row["published_at"]),
        "paragraphs": article_page.paragraphs(row["text"], row["sapo"]),
        "citation": article_page.citation(row),
        "replay_url": replay,
        "capture_url": (
            datasette.urls.path(article_page.capture_path(database, row["url"]))
            if row["warc_filename"]
            else None
        ),
        "version_capture_url": lambda number: datasette.urls.path(
            article_page.capture_path(database, row["url"], number)
        ),
    }


async def _results(datasette: Any, database: str, rows: list[Any], query: str) -> list[dict]:
    """The page of search results, each with its title and a snippet of its text highlighted.

    Only the rows shown (a page of 20) are read again for their text: a snippet is never
    computed for a match that is not on the screen.
    """
    urls = [row["url"] for row in rows]
    if not urls:
        return []
    db = datasette.get_database(database)
    stored = await db.execute(
        "select url, text, fetched_url, crawled_at, warc_filename from articles"
        f" where url in ({', '.join('?' * len(urls))})",
        urls,
    )
    stored_by_url = {row["url"]: row for row in stored.rows}
    template = _replay_template(datasette, database)
    results = []
    for row in rows:
        full = stored_by_url.get(row["url"])
        keys = row.keys()
        published_at = row["published_at"] if "published_at" in keys else None
        results.append(
            {
                "href": datasette.urls.row(database, "articles", tilde_encode(row["url"])),
                "title": highlight(
                    (row["title"] if "title" in keys else None) or row["url"], query
                ),
                "published_at": published_at,
                "published_local": article_page.local_date(published_at),
                "portal": row["portal"] if "portal" in keys else None,
                "category": row["category"] if "category" in keys else None,
                "snippet": snippet(full["text"] if full else None, query),
                "archived": _archived_link(datasette, database, template, full),
            }
        )
    return results


def _archived_link(
    datasette: Any, database: str, template: str | None, row: Any
) -> tuple[str, str] | None:
    """``(href, title)`` of the archived page: its replay when configured, else our capture."""
    if row is None:
        return None
    fetched = row["fetched_url"] or row["url"]
    if template:
        href = replay_link(template, fetched, row["crawled_at"] or "")
        if href:
            return href, f"Replay this capture of {fetched}"
    if row["warc_filename"]:
        path = datasette.urls.path(article_page.capture_path(database, row["url"]))
        return path, f"The archived page as served, sandboxed ({fetched})"
    return None


async def _timeline(datasette: Any, database: str) -> dict[str, Any]:
    """The timeline dashboard's charts with their data, for the database page.

    The data is computed here rather than fetched by the browser: on a million articles the
    grouping takes longer than Datasette's time limit for a query, and a served archive that
    is immutable never changes, so each chart's rows are computed once and kept.
    """
    dashboards = datasette.plugin_config("datasette-dashboards") or {}
    charts = (dashboards.get("timeline") or {}).get("charts") or {}
    db = datasette.get_database(database)
    cache = datasette.__dict__.setdefault("_govarchive_timeline", {})
    drawn = {}
    for slug, chart in charts.items():
        if chart.get("db") != database or chart.get("library") != "vega-lite":
            continue
        key = (database, slug)
        rows = cache.get(key)
        if rows is None:
            sql = chart["query"]
            try:
                rows = await db.execute_fn(
                    lambda conn, sql=sql: [dict(row) for row in conn.execute(sql).fetchall()]
                )
            except sqlite3.Error:  # e.g. an archive from before the table existed
                rows = []
            if not db.is_mutable:
                cache[key] = rows
        drawn[slug] = {"title": chart.get("title"), "display": chart["display"], "rows": rows}
    return drawn
