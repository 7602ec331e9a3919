"""The archive database: opening it (creating or upgrading its schema in place), transactions,
and the integrity of the folded full-text index. What it stores is written and read by the
mixins it is composed of: archive.crawls (crawls, fetches, status), archive.articles (articles
and their versions) and archive.sections (listing sections).

Every article row points at the WARC record it was extracted from, so nothing here is
unverifiable. The package knows nothing about Scrapy: a researcher can open an archive with
``Archive(path, readonly=True)`` and read rows without installing the crawler.

Write pattern (measured on SQLite 3.40): one ``upsert()`` per row manages ~275 rows/s, so every
write method takes a list and runs it as a single transaction (a savepoint when the caller has
already opened one with :meth:`Archive.transaction`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import sqlite_utils

from archive.articles import ArticlesMixin, text_hash
from archive.crawls import CrawlLedgerMixin
from archive.diskfull import is_disk_full
from archive.rows import ArchiveError
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
from archive.sections import SectionsMixin
from archive.textfold import fold, fold_sql

__all__ = [
    "ARTICLE_FIELDS",
    "CRAWL_COUNTS",
    "CRAWL_STATUSES",
    "FETCH_FIELDS",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "text_hash",
]


class Archive(CrawlLedgerMixin, ArticlesMixin, SectionsMixin):
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
