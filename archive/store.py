"""The SQLite side of an archive: schema, batched upserts and the folded full-text index.

Every article row points at the WARC record it was extracted from, so nothing here is
unverifiable. The module knows nothing about Scrapy: a researcher can open an archive with
``Archive(path, readonly=True)`` and read rows without installing the crawler.

Write pattern (measured on SQLite 3.40): one ``upsert()`` per row manages ~275 rows/s, so every
write method takes a list and runs it as a single transaction (a savepoint when the caller has
already opened one with :meth:`Archive.transaction`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlite_utils

from archive.diskfull import is_disk_full
from archive.schema import (  # noqa: F401 - re-exported: the public names of the schema
    _ARTICLE_COLUMNS,
    _ATTACHMENT_COLUMNS,
    _ATTACHMENT_FIELDS,
    _COLUMN_SEPARATOR,
    _CONTENT_FIELDS,
    _CRAWL_COLUMNS,
    _FETCH_COLUMNS,
    _FTS_FIELDS,
    _IMAGE_COLUMNS,
    _IMAGE_FIELDS,
    _INDEXES_ON_ADDED_COLUMNS,
    _PROVENANCE_FIELDS,
    _SCHEMA,
    _TABLE_COLUMNS,
    ARTICLE_FIELDS,
    CRAWL_COUNTS,
    CRAWL_STATUSES,
    FETCH_FIELDS,
    SCHEMA_VERSION,
    SECTION_STATES,
)
from archive.textfold import fold, fold_sql

__all__ = [
    "ARTICLE_FIELDS",
    "CRAWL_COUNTS",
    "CRAWL_STATUSES",
    "FETCH_FIELDS",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
]


class ArchiveError(Exception):
    """A problem the user can fix (wrong file, wrong field); the message says which."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _text(value: Any, field: str) -> str | None:
    # Normalise on the way in so that a re-crawl compares equal to what SQLite hands back
    # (an int article_id would otherwise come back as '123' and look "updated" every time).
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ArchiveError(f"field {field!r}: expected text, got {type(value).__name__} {value!r}")


def _integer(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArchiveError(f"field {field!r}: expected an integer, got {value!r}")
    return value


def _coerce(row: Mapping[str, Any], columns: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {
        name: (_integer if sql_type == "INTEGER" else _text)(row.get(name), name)
        for name, sql_type in columns
    }


def _check_fields(row: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = set(row) - set(allowed)
    if unknown:
        raise ArchiveError(
            f"{what}: unknown field(s) {sorted(unknown)}; known fields are {sorted(allowed)}"
        )


def _json_list(values: Iterable[Any]) -> str:
    # Passing a list as one JSON parameter sidesteps SQLite's 999-variable limit.
    return json.dumps(list(values), ensure_ascii=False)


class Archive:
    """An archive database: ``Archive("data/archive.db")`` creates or upgrades it in place.

    Writers (the crawl pipeline, re-extraction) and readers (Datasette, notebooks) share the
    file, hence WAL mode and a busy timeout. Use as a context manager so the connection closes.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                if not self.path.is_file():
                    raise ArchiveError(f"{self.path}: no such archive database")
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), timeout=timeout)
            self.db = sqlite_utils.Database(conn)
            self._setup()
        except (sqlite3.DatabaseError, ArchiveError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, ArchiveError):
                raise
            if "not a database" in str(exc):
                raise ArchiveError(
                    f"{self.path}: not a SQLite database (SQLite says: {exc}); point govarchive "
                    "at another data directory, or move this file aside"
                ) from exc
            raise ArchiveError(f"{self.path}: cannot open the archive database: {exc}") from exc

    # -- lifecycle -------------------------------------------------------------------------

    def _setup(self) -> None:
        conn = self.db.conn
        conn.create_function("fold", 1, fold_sql, deterministic=True)
        # Reading the header first turns "file is not a database" into an early, clear error.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ArchiveError(
                f"{self.path}: schema version {version} was written by a newer govarchive "
                f"(this one knows {SCHEMA_VERSION}); upgrade govarchive to open it"
            )
        conn.execute("PRAGMA foreign_keys = ON")
        if self.readonly:
            return
        self.db.enable_wal()
        # NORMAL is durable against crashes in WAL mode; a power cut may lose the last
        # transactions, which the WARC files (written first) let us re-extract.
        conn.execute("PRAGMA synchronous = NORMAL")
        with self.db.atomic():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self._add_missing_columns()
            for statement in _INDEXES_ON_ADDED_COLUMNS:
                self.db.execute(statement)
            self._check_is_ours()
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _add_missing_columns(self) -> None:
        # Lets a newer govarchive add columns to an archive created by an older one.
        for table, columns in _TABLE_COLUMNS.items():
            existing = set(self.db[table].columns_dict)
            for name, sql_type in columns:
                if name not in existing:
                    self.db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {sql_type}')

    def _check_is_ours(self) -> None:
        if self.db["articles"].pks != ["url"]:
            raise ArchiveError(
                f"{self.path}: has an 'articles' table that is not a govarchive table "
                "(its primary key is not url); use a different data directory"
            )

    def close(self) -> None:
        """Close the connection; lets SQLite refresh planner statistics first."""
        try:
            if not self.readonly:
                self.db.execute("PRAGMA optimize")
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):  # statistics are an optimisation: no room, no matter
                raise
        finally:
            self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Archive]:
        """Group several calls (fetches + articles of one batch) into one commit.

        Each write method is already atomic on its own; inside this block they become
        savepoints, and everything is rolled back if the block raises.
        """
        with self.db.atomic():
            yield self

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

    # -- articles --------------------------------------------------------------------------

    def save_articles(
        self, articles: list[dict[str, Any]], *, reason: str = "edit"
    ) -> dict[str, int]:
        """Upsert a batch of extracted articles; unchanged ones are left exactly as stored.

        "Unchanged" means every extracted field (title, text, published_at, author, …) and the
        image and attachment lists equal what is stored; only provenance (crawled_at, WARC
        pointer, crawl_id, extractor) may differ. Such rows keep pointing at the record they
        were extracted from, so a re-crawl of the same pages writes nothing. A changed article
        is replaced whole and points at its new record, and both states are kept in
        ``article_versions`` (``reason``: "edit" when the portal changed the page, "reextract"
        when a new extractor read the same bytes differently): nothing is silently overwritten.
        """
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        if not articles:
            return counts
        prepared = [_prepare_article(article) for article in articles]
        with self.db.atomic():
            stored = self._stored_states({row["url"] for row, _, _ in prepared})
            in_database = set(stored)
            pending: dict[str, tuple[dict[str, Any], list[dict], list[dict]]] = {}
            changed: dict[str, dict[str, Any]] = {}
            for row, images, attachments in prepared:
                url = row["url"]
                state = _state(row, images, attachments)
                previous = stored.get(url)
                if previous is None:
                    counts["new"] += 1
                elif previous == state:
                    counts["unchanged"] += 1
                    continue
                else:
                    counts["updated"] += 1
                    if url in in_database:  # not for a URL repeated within this batch
                        changed[url] = row
                stored[url] = state
                pending[url] = (row, images, attachments)
            if changed:
                self._record_versions(changed, reason)
            if pending:
                self._write(pending)
            # Seen again: an article the portal had taken down is back.
            self.db.execute(
                "UPDATE articles SET removed_at = NULL, removed_reason = NULL"
                " WHERE removed_at IS NOT NULL AND url IN (SELECT value FROM json_each(?))",
                [_json_list(stored)],
            )
        return counts

    def _record_versions(self, changed: dict[str, dict[str, Any]], reason: str) -> None:
        """Keep the stored state and the new one as numbered versions of each changed article."""
        param = [_json_list(changed)]
        previous = {
            row["url"]: row
            for row in self.db.query(
                "SELECT a.*, (SELECT max(version) FROM article_versions v"
                " WHERE v.article_url = a.url) AS last_version"
                " FROM articles a WHERE url IN (SELECT value FROM json_each(?))",
                param,
            )
        }
        versions = []
        for url, new in changed.items():
            old = previous[url]
            number = old["last_version"] or 0
            if number == 0:  # the first change: the state we had becomes version 1
                number = 1
                versions.append(_version(old, 1, old["crawled_at"], "first", None, None))
            text_changed = (old["text"] or "") != (new["text"] or "")
            silent = (
                int(text_changed and old["published_at"] == new["published_at"])
                if reason == "edit"
                else None
            )
            diff = _short_diff(old["text"] or "", new["text"] or "")
            versions.append(_version(new, number + 1, new["crawled_at"], reason, silent, diff))
        self.db.conn.executemany(
            "INSERT INTO article_versions (article_url, version, observed_at, reason,"
            " silent_edit, title, published_at, text_hash, diff, text, extractor,"
            " warc_filename, warc_offset, warc_record_id) VALUES (:article_url, :version,"
            " :observed_at, :reason, :silent_edit, :title, :published_at, :text_hash, :diff,"
            " :text, :extractor, :warc_filename, :warc_offset, :warc_record_id)",
            versions,
        )

    def _stored_states(self, urls: set[str]) -> dict[str, tuple]:
        param = [_json_list(urls)]
        in_urls = "IN (SELECT value FROM json_each(?))"
        images: dict[str, list[tuple]] = {}
        for article_url, *image in self.db.execute(
            f"SELECT article_url, {', '.join(_IMAGE_FIELDS)} FROM images "
            f"WHERE article_url {in_urls} ORDER BY article_url, position",
            param,
        ):
            images.setdefault(article_url, []).append(tuple(image))
        attachments: dict[str, list[tuple]] = {}
        for article_url, *attachment in self.db.execute(
            f"SELECT article_url, {', '.join(_ATTACHMENT_FIELDS)} FROM attachments "
            f"WHERE article_url {in_urls} ORDER BY article_url, position",
            param,
        ):
            attachments.setdefault(article_url, []).append(tuple(attachment))
        return {
            url: (tuple(content), tuple(images.get(url, ())), tuple(attachments.get(url, ())))
            for url, *content in self.db.execute(
                f"SELECT url, {', '.join(_CONTENT_FIELDS)} FROM articles WHERE url {in_urls}",
                param,
            )
        }

    def _write(self, pending: dict[str, tuple[dict[str, Any], list[dict], list[dict]]]) -> None:
        urls = _json_list(pending)
        # found_via says how the article was *first* found: a later crawl never replaces it.
        found_via = [
            {"url": url, "found_via": row.pop("found_via", None)}
            for url, (row, _, _) in pending.items()
        ]
        self.db["articles"].upsert_all((row for row, _, _ in pending.values()), pk="url")
        self.db.conn.executemany(
            "UPDATE articles SET found_via = :found_via WHERE url = :url AND found_via IS NULL",
            [item for item in found_via if item["found_via"]],
        )
        for table in ("images", "attachments"):
            self.db.execute(
                f"DELETE FROM {table} WHERE article_url IN (SELECT value FROM json_each(?))",
                [urls],
            )
        self.db.conn.executemany(
            "INSERT INTO images (article_url, position, url, caption, alt) "
            "VALUES (:article_url, :position, :url, :caption, :alt)",
            [image for _, images, _ in pending.values() for image in images],
        )
        self.db.conn.executemany(
            "INSERT INTO attachments (article_url, position, url, title) "
            "VALUES (:article_url, :position, :url, :title)",
            [item for _, _, attachments in pending.values() for item in attachments],
        )
        rowids = dict(
            self.db.execute(
                "SELECT url, rowid FROM articles WHERE url IN (SELECT value FROM json_each(?))",
                [urls],
            ).fetchall()
        )
        # Also for new rows: a stale index row left on a reused rowid would make the insert fail.
        self.db.execute(
            "DELETE FROM articles_fts WHERE rowid IN (SELECT value FROM json_each(?))",
            [_json_list(rowids.values())],
        )
        self.db.conn.executemany(
            "INSERT INTO articles_fts (rowid, title, text, url) VALUES (?, ?, ?, ?)",
            [
                (rowids[url], *(fold(row[f] or "") for f in _FTS_FIELDS), url)
                for url, (row, _, _) in pending.items()
            ],
        )

    # -- reading ---------------------------------------------------------------------------

    def known_article_ids(self, portal: str) -> set[str]:
        """Article ids already archived, so an incremental crawl can stop at known pages."""
        return {
            article_id
            for (article_id,) in self.db.execute(
                "SELECT article_id FROM articles WHERE portal = ? AND article_id IS NOT NULL",
                [portal],
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

    def mark_removed(self, removals: list[dict[str, Any]]) -> int:
        """Record that articles were seen missing (``url``, ``reason``, ``seen_at``).

        Nothing is deleted: the row, its versions and its WARC records stay; ``removed_at``
        says since when the portal no longer shows it. Returns how many were newly marked.
        """
        if not removals:
            return 0
        with self.db.atomic():
            cursor = self.db.conn.executemany(
                "UPDATE articles SET removed_at = :seen_at, removed_reason = :reason"
                " WHERE url = :url AND removed_at IS NULL",
                [
                    {"seen_at": r.get("seen_at") or _now(), "reason": r["reason"], "url": r["url"]}
                    for r in removals
                ],  # fmt: skip
            )
        return cursor.rowcount

    def recheck_candidates(self, portal: str, published_since: str) -> list[dict[str, Any]]:
        """Archived, not removed articles published since a date, with their validators.

        ``etag`` and ``last_modified`` come from the latest successful fetch of the URL the
        article was fetched at, so the recheck can be a conditional request.
        """
        return list(
            self.db.query(
                "SELECT a.url, a.fetched_url, a.article_id, f.etag, f.last_modified"
                " FROM articles a LEFT JOIN fetches f ON f.id = ("
                "   SELECT max(id) FROM fetches WHERE url = a.fetched_url AND status = 200)"
                " WHERE a.portal = ? AND a.removed_at IS NULL AND a.published_at >= ?"
                " ORDER BY a.published_at DESC",
                [portal, published_since],
            )
        )

    def listing_dates(self) -> dict[str, str]:
        """The listing date (as printed beside the link) of every row that has one, keyed by
        the row's URL and by the URL it was fetched from."""
        dates: dict[str, str] = {}
        for url, fetched_url, listing_date in self.db.execute(
            "SELECT url, fetched_url, listing_date FROM articles WHERE listing_date IS NOT NULL"
        ):
            dates[url] = listing_date
            if fetched_url:
                dates.setdefault(fetched_url, listing_date)
        return dates

    def article_urls_by_id(self, portal: str) -> dict[str, str]:
        """Canonical URL of every archived, not removed article of a portal, by article id."""
        return dict(
            self.db.execute(
                "SELECT article_id, url FROM articles WHERE portal = ?"
                " AND article_id IS NOT NULL AND removed_at IS NULL",
                [portal],
            ).fetchall()
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

    def article_count(self, portal: str | None = None) -> int:
        """Number of archived articles, overall or for one portal."""
        if portal is None:
            cursor = self.db.execute("SELECT count(*) FROM articles")
        else:
            cursor = self.db.execute("SELECT count(*) FROM articles WHERE portal = ?", [portal])
        return int(cursor.fetchone()[0])

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

    def fetch_statuses(self, urls: Iterable[str]) -> dict[str, int | None]:
        """The status of the latest fetch of each URL fetched before (None: no response)."""
        return dict(
            self.db.execute(
                "SELECT url, status FROM fetches WHERE id IN (SELECT max(id) FROM fetches"
                " WHERE url IN (SELECT value FROM json_each(?)) GROUP BY url)",
                [_json_list(urls)],
            ).fetchall()
        )

    def article_capture_times(self, portal: str) -> dict[str, str]:
        """When each archived article of a portal was captured, by article id."""
        return dict(
            self.db.execute(
                "SELECT article_id, crawled_at FROM articles WHERE portal = ?"
                " AND article_id IS NOT NULL AND removed_at IS NULL",
                [portal],
            ).fetchall()
        )

    def recheck_rows(self, portal: str, article_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Archived articles by id, with the validators of their last fetch (as
        :meth:`recheck_candidates` gives them)."""
        return list(
            self.db.query(
                "SELECT a.url, a.fetched_url, a.article_id, f.etag, f.last_modified"
                " FROM articles a LEFT JOIN fetches f ON f.id = ("
                "   SELECT max(id) FROM fetches WHERE url = a.fetched_url AND status = 200)"
                " WHERE a.portal = ? AND a.article_id IN (SELECT value FROM json_each(?))",
                [portal, _json_list(article_ids)],
            )
        )

    # -- full-text index maintenance -------------------------------------------------------

    def check_fts(self) -> list[str]:
        """Find index rows that no longer match their article.

        The index is keyed by the articles' implicit rowid, which a dump/restore (``.dump``,
        ``iterdump``) or a table rebuild renumbers if rows were ever deleted; the index keeps
        each article's url so that such drift is detectable. Empty list = consistent.
        """
        problems = []
        missing = self.db.execute(
            "SELECT count(*) FROM articles a LEFT JOIN articles_fts f ON f.rowid = a.rowid "
            "WHERE f.rowid IS NULL"
        ).fetchone()[0]
        if missing:
            problems.append(f"{missing} article(s) missing from articles_fts")
        wrong = self.db.execute(
            "SELECT count(*) FROM articles_fts f LEFT JOIN articles a ON a.rowid = f.rowid "
            "WHERE a.url IS NOT f.url"
        ).fetchone()[0]
        if wrong:
            problems.append(f"{wrong} articles_fts row(s) point at the wrong or no article")
        return problems

    def rebuild_fts(self) -> int:
        """Re-index every article: after check_fts() reports drift, or after fold() changes."""
        with self.db.atomic():
            self.db.execute("DELETE FROM articles_fts")
            rows = self.db.execute("SELECT rowid, title, text, url FROM articles")
            self.db.conn.executemany(
                "INSERT INTO articles_fts (rowid, title, text, url) VALUES (?, ?, ?, ?)",
                (
                    (rowid, fold(title or ""), fold(text or ""), url)
                    for rowid, title, text, url in rows
                ),
            )
            self.db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('optimize')")
        return self.article_count()


def _dumps(value: Any) -> str:
    # default=str: crawler settings hold classes and paths that JSON cannot encode natively.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _prepare_article(
    article: Mapping[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    fields = {k: v for k, v in article.items() if k not in ("images", "attachments")}
    _check_fields(fields, ARTICLE_FIELDS, f"article {article.get('url')!r}")
    for required in ("url", "portal"):
        if not fields.get(required):
            raise ArchiveError(f"article {article.get('url')!r}: {required!r} is required")
    row = _coerce(fields, _ARTICLE_COLUMNS)
    row["crawled_at"] = row["crawled_at"] or _now()
    url = row["url"]

    images = []
    for position, image in enumerate(article.get("images") or (), start=1):
        _check_fields(image, _IMAGE_FIELDS, f"article {url!r} image {position}")
        values = _coerce(image, ((name, "TEXT") for name in _IMAGE_FIELDS))
        if not values["url"]:
            raise ArchiveError(f"article {url!r} image {position}: 'url' is required")
        images.append({"article_url": url, "position": position, **values})

    attachments = []
    seen: set[str] = set()
    for item in article.get("attachments") or ():
        _check_fields(item, _ATTACHMENT_FIELDS, f"article {url!r} attachment")
        values = _coerce(item, ((name, "TEXT") for name in _ATTACHMENT_FIELDS))
        if not values["url"]:
            raise ArchiveError(f"article {url!r} attachment {item!r}: 'url' is required")
        if values["url"] in seen:  # the same file linked twice on a page is one attachment
            continue
        seen.add(values["url"])
        attachments.append({"article_url": url, "position": len(attachments) + 1, **values})
    return row, images, attachments


def text_hash(text: str | None) -> str:
    """A short, stable fingerprint of an article body (to spot edits without reading texts)."""
    return "sha1:" + hashlib.sha1((text or "").encode("utf-8")).hexdigest()


def _short_diff(old: str, new: str, limit: int = 4000) -> str:
    """A unified diff of two bodies, by paragraph, cut at ``limit`` characters."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", n=1,
                                 lineterm="")  # fmt: skip
    diff = "\n".join(lines)
    return diff if len(diff) <= limit else diff[:limit] + "\n…"


def _version(
    row: Mapping[str, Any],
    number: int,
    observed_at: str | None,
    reason: str,
    silent_edit: int | None,
    diff: str | None,
) -> dict[str, Any]:
    return {
        "article_url": row["url"],
        "version": number,
        "observed_at": observed_at or _now(),
        "reason": reason,
        "silent_edit": silent_edit,
        "title": row.get("title"),
        "published_at": row.get("published_at"),
        "text_hash": text_hash(row.get("text")),
        "diff": diff,
        "text": row.get("text"),
        "extractor": row.get("extractor"),
        "warc_filename": row.get("warc_filename"),
        "warc_offset": row.get("warc_offset"),
        "warc_record_id": row.get("warc_record_id"),
    }


def _state(row: dict[str, Any], images: list[dict], attachments: list[dict]) -> tuple:
    """What an article says, in the shape _stored_states() reads back, for comparison."""
    return (
        tuple(row[f] for f in _CONTENT_FIELDS),
        tuple(tuple(image[f] for f in _IMAGE_FIELDS) for image in images),
        tuple(tuple(item[f] for f in _ATTACHMENT_FIELDS) for item in attachments),
    )
