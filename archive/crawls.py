"""The crawl ledger: one row per crawl (how it started, ended and what it counted), the fetch
log of every HTTP exchange, failures and remarks included, and the status read from them.

Mixed into :class:`archive.store.Archive`, which provides the connection (``db``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.rows import (
    ArchiveError,
    _check_fields,
    _coerce,
    _dumps,
    _integer,
    _json_list,
    _now,
)
from archive.schema import _FETCH_COLUMNS, CRAWL_COUNTS, CRAWL_STATUSES, FETCH_FIELDS


class CrawlLedgerMixin:
    """Crawls, fetches and their notes, broken links, and per-portal status."""

    db: sqlite_utils.Database
    path: Path

    # -- crawls ----------------------------------------------------------------------------

    def begin_crawl(self, portal: str, settings: dict[str, Any], versions: dict[str, Any]) -> int:
        """Record that a crawl started, so even a crash leaves a 'running' row to explain."""
        cursor = self.db.execute(
            "INSERT INTO crawls (portal, started_at, status, settings, versions) "
            "VALUES (?, ?, 'running', ?, ?)",
            [portal, _now(), _dumps(settings), _dumps(versions)],
        )
        return int(cursor.lastrowid or 0)

    def finish_crawl(
        self,
        crawl_id: int,
        status: str,
        counts: Mapping[str, int],
        *,
        mode: str | None = None,
        duration_s: float | None = None,
        exit_code: int | None = None,
        failure: str | None = None,
        drift: str | None = None,
    ) -> None:
        """Close a crawl row with its outcome, its walk mode and the pipeline's counters.

        ``mode`` is "full" (every listing page), "incremental" (stopped at known articles) or
        "limited" (--max-articles): only a finished full walk lets later crawls be incremental.
        """
        if status not in CRAWL_STATUSES:
            raise ArchiveError(f"crawl status {status!r}: expected one of {CRAWL_STATUSES}")
        _check_fields(counts, CRAWL_COUNTS, f"crawl {crawl_id} counts")
        values = {name: _integer(value, name) or 0 for name, value in counts.items()}
        assignments = "".join(f", {name} = :{name}" for name in values)
        cursor = self.db.execute(
            f"UPDATE crawls SET finished_at = :finished_at, status = :status, "
            f"mode = coalesce(:mode, mode), duration_s = :duration_s, exit_code = :exit_code, "
            f"failure = :failure, drift = :drift{assignments} WHERE id = :id",
            {
                "finished_at": _now(),
                "status": status,
                "id": crawl_id,
                "mode": mode,
                "duration_s": duration_s,
                "exit_code": exit_code,
                "failure": failure,
                "drift": drift,
                **values,
            },
        )
        if cursor.rowcount == 0:
            raise ArchiveError(f"crawl {crawl_id}: no such crawl in {self.path}")

    def mark_interrupted(self) -> list[int]:
        """Close the rows of crawls that died without finishing (killed, power loss)."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM crawls WHERE status = 'running'")]
        if ids:
            with self.db.atomic():
                self.db.execute(
                    "UPDATE crawls SET status = 'interrupted', finished_at = ?"
                    " WHERE status = 'running'",
                    [_now()],
                )
        return ids

    def fail_running_crawls(self, failure: str) -> None:
        """Mark ``failed`` the crawl rows a fatal failure left ``running`` (see crawler/fatal)."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE crawls SET status = 'failed', exit_code = 1, finished_at = ?,"
                " failure = ? WHERE status = 'running'",
                [_now(), failure],
            )

    def portal_status(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Per portal: last crawl and its result, articles, new in 24 h and 7 days, errors."""
        now = now or dt.datetime.now(dt.UTC)
        day = (now - dt.timedelta(days=1)).isoformat(timespec="seconds")
        week = (now - dt.timedelta(days=7)).isoformat(timespec="seconds")
        return list(
            self.db.query(
                """
                SELECT c.portal,
                  last.id AS last_crawl_id, last.started_at AS last_started_at,
                  last.finished_at AS last_finished_at, last.status AS last_status,
                  last.mode AS last_mode, last.errors AS last_errors,
                  last.broken_links AS last_broken_links, last.failure AS last_failure,
                  last.drift AS last_drift,
                  (SELECT count(*) FROM articles a WHERE a.portal = c.portal) AS articles,
                  (SELECT count(*) FROM articles a WHERE a.portal = c.portal
                     AND a.removed_at IS NOT NULL) AS removed,
                  sum(CASE WHEN c.started_at >= :day THEN c.articles_new ELSE 0 END) AS new_24h,
                  sum(CASE WHEN c.started_at >= :week THEN c.articles_new ELSE 0 END) AS new_7d,
                  sum(CASE WHEN c.started_at >= :day THEN c.errors ELSE 0 END) AS errors_24h
                FROM crawls c
                JOIN crawls last ON last.id = (SELECT max(id) FROM crawls WHERE portal = c.portal)
                GROUP BY c.portal ORDER BY c.portal
                """,
                {"day": day, "week": week},
            )
        )

    def has_complete_walk(self, portal: str) -> bool:
        """Whether a full walk of the portal ever finished (so incremental crawls are safe)."""
        row = self.db.execute(
            "SELECT 1 FROM crawls WHERE portal = ? AND mode = 'full'"
            " AND status IN ('done', 'done_with_errors') LIMIT 1",
            [portal],
        ).fetchone()
        return row is not None

    def last_crawl(self, portal: str | None = None) -> dict[str, Any] | None:
        """The most recent crawl row (of one portal, or of any), to report how a run ended."""
        where, params = ("WHERE portal = ?", [portal]) if portal is not None else ("", [])
        rows = list(self.db.query(f"SELECT * FROM crawls {where} ORDER BY id DESC LIMIT 1", params))
        return rows[0] if rows else None

    # -- fetches ---------------------------------------------------------------------------

    def add_fetches(self, rows: list[dict[str, Any]]) -> None:
        """Log HTTP exchanges, failures included, so a researcher can see what was missed."""
        if not rows:
            return
        prepared = []
        for row in rows:
            _check_fields(row, FETCH_FIELDS, "fetch")
            if not row.get("url"):
                raise ArchiveError(f"fetch {row!r}: 'url' is required")
            values = _coerce(row, _FETCH_COLUMNS)
            values["fetched_at"] = values["fetched_at"] or _now()
            prepared.append(values)
        columns = ", ".join(FETCH_FIELDS)
        placeholders = ", ".join(f":{name}" for name in FETCH_FIELDS)
        with self.db.atomic():
            self.db.conn.executemany(
                f"INSERT INTO fetches ({columns}) VALUES ({placeholders})", prepared
            )

    def add_notes(self, notes: list[dict[str, Any]], crawl_id: int | None) -> None:
        """Attach remarks (``url``, ``note``, ``seen_at``) to this crawl's fetch row of each URL
        (a sitemap that could not be read), or record them as rows of their own when the URL
        was not fetched (pages discovery left out)."""
        with self.db.atomic():
            for item in notes:
                cursor = self.db.execute(
                    "UPDATE fetches SET note = CASE WHEN note IS NULL THEN :note"
                    " ELSE note || '; ' || :note END WHERE id = (SELECT max(id) FROM fetches"
                    " WHERE url = :url AND crawl_id IS :crawl_id)",
                    {"url": item["url"], "note": item["note"], "crawl_id": crawl_id},
                )
                if cursor.rowcount == 0:
                    self.add_fetches(
                        [
                            {
                                "url": item["url"],
                                "note": item["note"],
                                "crawl_id": crawl_id,
                                "fetched_at": item.get("seen_at"),
                            }
                        ]  # fmt: skip
                    )

    def broken_links(self, portal: str, since: str) -> set[str]:
        """URLs of a portal whose latest fetch since ``since`` found a broken link (404/410 of a
        page never archived), so routine crawls need not ask for them again."""
        return {
            url
            for (url,) in self.db.execute(
                "SELECT f.url FROM fetches f JOIN crawls c ON c.id = f.crawl_id"
                " WHERE c.portal = ? AND f.broken_link = 1 AND f.fetched_at >= ?"
                " AND NOT EXISTS (SELECT 1 FROM fetches later WHERE later.url = f.url"
                "   AND later.id > f.id AND later.status < 400)",
                [portal, since],
            )
        }

    def captures(self) -> Iterator[dict[str, Any]]:
        """Every archived response that holds a payload, oldest first.

        A crawl loads these to write ``revisit`` records instead of second copies, and to make
        conditional requests (ETag / Last-Modified) for pages it already has.
        """
        yield from self.db.query(
            "SELECT url, fetched_at, status, payload_digest, etag, last_modified, warc_filename,"
            " warc_offset, warc_length, warc_record_id FROM fetches"
            " WHERE record_type = 'response' AND payload_digest IS NOT NULL ORDER BY id"
        )

    def fetch_statuses(self, urls: Iterable[str]) -> dict[str, int | None]:
        """The status of the latest fetch of each URL fetched before (None: no response)."""
        return dict(
            self.db.execute(
                "SELECT url, status FROM fetches WHERE id IN (SELECT max(id) FROM fetches"
                " WHERE url IN (SELECT value FROM json_each(?)) GROUP BY url)",
                [_json_list(urls)],
            ).fetchall()
        )
