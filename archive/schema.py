"""The archive's SQLite schema: tables, columns and their order, and which columns are content
and which are provenance. Kept apart from :mod:`archive.store` and its mixins, which write and
read rows.
"""

from __future__ import annotations

# 2: `sections` table, `articles.found_via` (added in place to version-1 archives).
SCHEMA_VERSION = 2

SECTION_STATES = ("active", "vanished")

CRAWL_STATUSES = ("running", "done", "done_with_errors", "failed", "interrupted")
CRAWL_COUNTS = (
    "requests",
    "pages",
    "articles_new",
    "articles_updated",
    "articles_unchanged",
    "articles_removed",
    "errors",
    "bytes",
    # Linked pages the portal does not serve (404/410, never archived): not crawl errors.
    "broken_links",
    # Pages fetched as articles that held no article (no title, no text): noted in fetches.
    "not_articles",
    # Article pages the profile's body selector missed (generic extraction), or without a date:
    # when most pages are, the portal probably changed its template (``drift``).
    "articles_fallback",
    "articles_undated",
)

# (name, SQL type). Order is the column order researchers see in Datasette.
_ARTICLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("url", "TEXT"),
    ("portal", "TEXT"),
    ("article_id", "TEXT"),
    ("title", "TEXT"),
    ("published_at", "TEXT"),
    ("published_raw", "TEXT"),
    ("author", "TEXT"),
    ("category", "TEXT"),
    ("sapo", "TEXT"),
    ("text", "TEXT"),
    ("language", "TEXT"),
    ("posted_by", "TEXT"),
    ("source", "TEXT"),
    # Where published_at came from (page, listing, metadata), and the date printed beside the
    # link on the listing the crawl followed (re-extraction needs it again).
    ("date_source", "TEXT"),
    ("listing_date", "TEXT"),
    ("crawled_at", "TEXT"),
    ("extractor", "TEXT"),
    ("warc_filename", "TEXT"),
    ("warc_offset", "INTEGER"),
    ("warc_length", "INTEGER"),
    ("warc_record_id", "TEXT"),
    ("warc_payload_digest", "TEXT"),
    ("fetched_url", "TEXT"),
    ("removed_at", "TEXT"),
    ("removed_reason", "TEXT"),
    # How the crawl first came to the article: "listing URL", "sitemap URL", "feed URL",
    # "link URL" (another article) or "recheck". Kept from the first crawl that found it.
    ("found_via", "TEXT"),
    ("crawl_id", "INTEGER"),
)
_FETCH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("crawl_id", "INTEGER"),
    ("url", "TEXT"),
    ("status", "INTEGER"),
    ("content_type", "TEXT"),
    ("length", "INTEGER"),
    ("fetched_at", "TEXT"),
    ("error", "TEXT"),
    ("warc_filename", "TEXT"),
    ("warc_offset", "INTEGER"),
    ("warc_length", "INTEGER"),
    ("warc_record_id", "TEXT"),
    ("record_type", "TEXT"),
    ("payload_digest", "TEXT"),
    ("etag", "TEXT"),
    ("last_modified", "TEXT"),
    # What happened that is not a failure: a retried attempt, robots.txt, a PDF sent as HTML.
    ("note", "TEXT"),
    # 1 for a 404/410 of a linked page that was never archived (a broken link, not an error).
    ("broken_link", "INTEGER"),
)
_CRAWL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("portal", "TEXT"),
    ("started_at", "TEXT"),
    ("finished_at", "TEXT"),
    ("status", "TEXT"),
    ("mode", "TEXT"),
    *((name, "INTEGER") for name in CRAWL_COUNTS),
    ("duration_s", "REAL"),
    ("exit_code", "INTEGER"),
    # Why a crawl failed as a whole (a missing module, a full disk), in one line.
    ("failure", "TEXT"),
    # Set when most article pages no longer match the profile: the counts, in one line.
    ("drift", "TEXT"),
    ("settings", "TEXT"),
    ("versions", "TEXT"),
)
_IMAGE_COLUMNS = (("article_url", "TEXT"), ("position", "INTEGER"), ("url", "TEXT"),
                  ("caption", "TEXT"), ("alt", "TEXT"))  # fmt: skip
_ATTACHMENT_COLUMNS = (("article_url", "TEXT"), ("position", "INTEGER"), ("url", "TEXT"),
                       ("title", "TEXT"))  # fmt: skip

ARTICLE_FIELDS: tuple[str, ...] = tuple(name for name, _ in _ARTICLE_COLUMNS)
FETCH_FIELDS: tuple[str, ...] = tuple(name for name, _ in _FETCH_COLUMNS)
_IMAGE_FIELDS = ("url", "caption", "alt")
_ATTACHMENT_FIELDS = ("url", "title")

# Where a row came from rather than what the page said: a re-crawl that changes only these is
# "unchanged", and the row keeps pointing at the WARC record it was first extracted from.
_PROVENANCE_FIELDS = frozenset(
    {
        "crawled_at",
        "extractor",
        "warc_filename",
        "warc_offset",
        "warc_length",
        "warc_record_id",
        "warc_payload_digest",
        "fetched_url",
        "listing_date",
        "removed_at",
        "removed_reason",
        "found_via",
        "crawl_id",
    }
)
_CONTENT_FIELDS = tuple(f for f in ARTICLE_FIELDS if f not in _PROVENANCE_FIELDS and f != "url")
# The extractor puts the sapo at the head of `text`, so indexing it separately would only
# count its words twice.
_FTS_FIELDS = ("title", "text")

_COLUMN_SEPARATOR = ",\n    "
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS crawls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    portal TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ({", ".join(f"'{s}'" for s in CRAWL_STATUSES)})),
    mode TEXT,
    {_COLUMN_SEPARATOR.join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in CRAWL_COUNTS)},
    duration_s REAL,
    exit_code INTEGER,
    settings TEXT,
    versions TEXT
);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY NOT NULL,
    portal TEXT NOT NULL,
    {_COLUMN_SEPARATOR.join(f"{n} {t}" for n, t in _ARTICLE_COLUMNS[2:-1])},
    crawl_id INTEGER REFERENCES crawls(id)
);
CREATE INDEX IF NOT EXISTS articles_portal ON articles(portal, article_id);
CREATE INDEX IF NOT EXISTS articles_published_at ON articles(published_at);
-- Articles per portal and month (the timeline), a portal's articles newest first.
CREATE INDEX IF NOT EXISTS articles_portal_published_at ON articles(portal, published_at);
CREATE INDEX IF NOT EXISTS articles_category ON articles(category);
CREATE INDEX IF NOT EXISTS articles_crawl_id ON articles(crawl_id);
CREATE TABLE IF NOT EXISTS fetches (
    id INTEGER PRIMARY KEY,
    crawl_id INTEGER REFERENCES crawls(id),
    url TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    length INTEGER,
    fetched_at TEXT NOT NULL,
    error TEXT,
    warc_filename TEXT,
    warc_offset INTEGER,
    warc_length INTEGER,
    warc_record_id TEXT,
    record_type TEXT,
    payload_digest TEXT,
    etag TEXT,
    last_modified TEXT
);
CREATE INDEX IF NOT EXISTS fetches_crawl_id ON fetches(crawl_id);
CREATE INDEX IF NOT EXISTS fetches_url ON fetches(url);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    article_url TEXT NOT NULL REFERENCES articles(url) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    caption TEXT,
    alt TEXT,
    UNIQUE (article_url, position)
);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY,
    article_url TEXT NOT NULL REFERENCES articles(url) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    UNIQUE (article_url, url)
);
CREATE TABLE IF NOT EXISTS article_versions (
    id INTEGER PRIMARY KEY,
    article_url TEXT NOT NULL REFERENCES articles(url),
    version INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    silent_edit INTEGER,
    title TEXT,
    published_at TEXT,
    text_hash TEXT,
    diff TEXT,
    text TEXT,
    extractor TEXT,
    warc_filename TEXT,
    warc_offset INTEGER,
    warc_record_id TEXT,
    UNIQUE (article_url, version)
);
CREATE TABLE IF NOT EXISTS sections (
    url TEXT PRIMARY KEY NOT NULL,
    portal TEXT NOT NULL,
    title TEXT,
    found_via TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    articles_seen INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'active'
        CHECK (state IN ({", ".join(f"'{s}'" for s in SECTION_STATES)})),
    vanished_at TEXT,
    vanished_reason TEXT,
    entry_url TEXT,
    depth INTEGER,
    first_crawl_id INTEGER REFERENCES crawls(id),
    last_crawl_id INTEGER REFERENCES crawls(id)
);
CREATE INDEX IF NOT EXISTS sections_portal ON sections(portal, state);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    {", ".join(_FTS_FIELDS)},
    url UNINDEXED,
    tokenize = "unicode61 remove_diacritics 2"
);
"""
# On columns older archives may lack until _add_missing_columns() has run.
_INDEXES_ON_ADDED_COLUMNS = (
    # Removals over time (the timeline): few rows, so a partial index.
    "CREATE INDEX IF NOT EXISTS articles_removed_at ON articles(removed_at)"
    " WHERE removed_at IS NOT NULL",
)
_TABLE_COLUMNS = {
    "articles": _ARTICLE_COLUMNS,
    "crawls": _CRAWL_COLUMNS,
    "fetches": _FETCH_COLUMNS,
    "images": _IMAGE_COLUMNS,
    "attachments": _ATTACHMENT_COLUMNS,
}
