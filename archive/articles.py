"""Articles: saving a batch of extracted articles, keeping every earlier state of a changed
one as a numbered version with its diff, marking removals, and the reads a crawl needs.

"Unchanged" is decided on content alone (see :meth:`ArticlesMixin.save_articles`), so a
re-crawl of the same pages writes nothing. Mixed into :class:`archive.store.Archive`, which
provides the connection (``db``).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from archive.rows import ArchiveError, _check_fields, _coerce, _json_list, _now
from archive.schema import (
    _ARTICLE_COLUMNS,
    _ATTACHMENT_FIELDS,
    _CONTENT_FIELDS,
    _FTS_FIELDS,
    _IMAGE_FIELDS,
    ARTICLE_FIELDS,
)
from archive.textfold import fold


class ArticlesMixin:
    """Articles with their images, attachments, versions and full-text index rows."""

    db: sqlite_utils.Database

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

        def by_article(table: str, fields: tuple[str, ...]) -> dict[str, list[tuple]]:
            rows: dict[str, list[tuple]] = {}
            for article_url, *values in self.db.execute(
                f"SELECT article_url, {', '.join(fields)} FROM {table} "
                f"WHERE article_url {in_urls} ORDER BY article_url, position",
                param,
            ):
                rows.setdefault(article_url, []).append(tuple(values))
            return rows

        images = by_article("images", _IMAGE_FIELDS)
        attachments = by_article("attachments", _ATTACHMENT_FIELDS)
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

    def article_count(self, portal: str | None = None) -> int:
        """Number of archived articles, overall or for one portal."""
        if portal is None:
            cursor = self.db.execute("SELECT count(*) FROM articles")
        else:
            cursor = self.db.execute("SELECT count(*) FROM articles WHERE portal = ?", [portal])
        return int(cursor.fetchone()[0])

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
