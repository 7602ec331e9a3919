"""Sections: the listing pages a crawl walked, when each was first and last seen, and which
the portal no longer serves (marked vanished, never deleted).

Mixed into :class:`archive.store.Archive`, which provides the connection (``db``).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from archive.rows import _now


class SectionsMixin:
    """A portal's listing sections and how they change between crawls."""

    db: sqlite_utils.Database

    # -- sections and discovery ---------------------------------------------------------------

    def save_sections(self, rows: list[dict[str, Any]], crawl_id: int | None) -> None:
        """Record listing sections a crawl saw (``url``, ``portal``, ``title``, ``found_via``,
        ``seen_at``, ``articles``, ``entry_url``, ``depth``), one row per page it walked.

        A section keeps its first ``found_via`` and ``first_seen``; ``articles_seen`` is the
        number of distinct articles listed on the pages its latest crawl walked (``articles``
        of a row: so far in that crawl); seeing it again makes it active.
        """
        if not rows:
            return
        with self.db.atomic():
            for row in rows:
                seen_at = row.get("seen_at") or _now()
                self.db.execute(
                    "INSERT INTO sections (url, portal, title, found_via, first_seen, last_seen,"
                    " articles_seen, state, entry_url, depth, first_crawl_id, last_crawl_id)"
                    " VALUES (:url, :portal, :title, :found_via, :seen_at, :seen_at, :articles,"
                    " 'active', coalesce(:entry_url, :url), :depth, :crawl_id, :crawl_id)"
                    " ON CONFLICT (url) DO UPDATE SET"
                    " title = coalesce(excluded.title, title), last_seen = excluded.last_seen,"
                    " articles_seen = CASE WHEN last_crawl_id IS excluded.last_crawl_id"
                    "   THEN max(articles_seen, excluded.articles_seen)"
                    "   ELSE excluded.articles_seen END,"
                    " state = 'active', vanished_at = NULL, vanished_reason = NULL,"
                    " entry_url = coalesce(:entry_url, entry_url),"
                    " depth = min(coalesce(depth, excluded.depth), excluded.depth),"
                    " last_crawl_id = excluded.last_crawl_id",
                    {
                        "url": row["url"],
                        "portal": row["portal"],
                        "title": row.get("title"),
                        "found_via": row.get("found_via"),
                        "seen_at": seen_at,
                        "articles": int(row.get("articles") or 0),
                        "entry_url": row.get("entry_url"),
                        "depth": row.get("depth"),
                        "crawl_id": crawl_id,
                    },
                )

    def mark_sections_vanished(self, rows: list[dict[str, Any]]) -> int:
        """Mark sections the portal no longer serves as listings (``url``, ``reason``,
        ``seen_at``); nothing is deleted. Returns how many were newly marked."""
        if not rows:
            return 0
        with self.db.atomic():
            cursor = self.db.conn.executemany(
                "UPDATE sections SET state = 'vanished', vanished_at = :seen_at,"
                " vanished_reason = :reason WHERE url = :url AND state = 'active'",
                [
                    {"url": r["url"], "reason": r["reason"], "seen_at": r.get("seen_at") or _now()}
                    for r in rows
                ],
            )
        return cursor.rowcount

    def sections(self, portal: str, state: str | None = None) -> list[dict[str, Any]]:
        """A portal's known sections (of one state, or all), shallowest first."""
        where, params = "portal = ?", [portal]
        if state is not None:
            where, params = where + " AND state = ?", [portal, state]
        return list(
            self.db.query(
                f"SELECT * FROM sections WHERE {where} ORDER BY coalesce(depth, 0), url", params
            )
        )

    def section_changes(self, portal: str, since: str) -> dict[str, list[dict[str, Any]]]:
        """Sections found since a moment by a crawl after the portal's first, and sections
        vanished (for ``status``)."""
        return {
            "new": list(
                self.db.query(
                    "SELECT url, title, first_seen FROM sections WHERE portal = ?"
                    " AND first_seen >= ? AND state = 'active' AND first_crawl_id > ("
                    "   SELECT min(id) FROM crawls WHERE portal = ?) ORDER BY first_seen",
                    [portal, since, portal],
                )
            ),
            "vanished": list(
                self.db.query(
                    "SELECT url, title, vanished_at, vanished_reason FROM sections"
                    " WHERE portal = ? AND state = 'vanished' ORDER BY vanished_at",
                    [portal],
                )
            ),
        }
