"""Datasette metadata for an archive database.

Researchers meet the archive through Datasette, often without reading our code: the table and
column descriptions are where they learn what a row means and how to get back to the bytes it
came from. ``govarchive serve`` passes this to ``Datasette(metadata=...)``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["datasette_metadata", "datasette_settings"]

_WARC_POINTER = {
    "warc_filename": "WARC file holding the HTTP response, relative to the data directory.",
    "warc_offset": (
        "Byte offset of the record inside warc_filename: seek there and read one gzip member "
        "to get the record back."
    ),
    "warc_length": "Length in bytes of the (compressed) record at warc_offset.",
    "warc_record_id": (
        "WARC-Record-ID of that record, to cite it or check you read the right one; a link to "
        "the replay of the capture when served with `govarchive serve --replay-url`."
    ),
}

_ARTICLE_COLUMNS = {
    "url": "Canonical URL of the article: the row's key. The same URL is never stored twice.",
    "portal": "Portal profile the article was crawled with (crawler/portals/NAME.toml).",
    "article_id": "The portal's own id for the article.",
    "title": "Headline as published.",
    "published_at": "Publication date and time as parsed, ISO 8601.",
    "published_raw": "The date exactly as printed on the page, before parsing.",
    "author": "Byline, when the page names one.",
    "category": "Section of the portal the article was filed under.",
    "sapo": "Lead paragraph (sapo) printed above the body; also the start of text.",
    "text": "Sapo followed by the body, one paragraph per line, without byline or page furniture.",
    "language": "Language code of the text (usually vi).",
    "posted_by": "Account or office that posted the article, when the portal shows it.",
    "source": "Original source named by the portal (e.g. another newspaper).",
    "crawled_at": "When the HTTP response this row was extracted from was fetched (UTC).",
    "extractor": "Extractor name and version that produced the fields, for re-extraction.",
    **_WARC_POINTER,
    "warc_payload_digest": "WARC-Payload-Digest (sha1, base32) of the response body.",
    "crawl_id": "Crawl that fetched the response this row was extracted from.",
    "found_via": (
        "How a crawl first came to the article: 'listing URL' (a listing page), 'sitemap URL', "
        "'feed URL' (RSS/Atom) or 'recheck'."
    ),
}

_SECTION_COLUMNS = {
    "url": "The section: its listing's URL without the pager's part (the row's key).",
    "title": "The listing page's title.",
    "found_via": "'start' (the home page or a profile start path) or 'link URL' (the page "
    "that linked it first).",
    "first_seen": "When a crawl first walked it (UTC).",
    "last_seen": "When a crawl last found it listing articles (UTC).",
    "articles_seen": "Distinct articles listed on the pages its latest crawl walked (a routine "
    "crawl walks only the newest pages).",
    "state": "active, or vanished: it answered 404/410 or no longer lists articles.",
    "entry_url": "The page a routine crawl revisits (the section's first page).",
    "depth": "Links from the home page to the section (0: the home page itself).",
}

_CRAWL_COLUMNS = {
    "id": "Crawl number, referenced by articles.crawl_id and fetches.crawl_id.",
    "portal": "Portal profile crawled.",
    "started_at": "Start time (UTC).",
    "finished_at": "End time (UTC); empty while running or if the process died.",
    "status": (
        "running, done, done_with_errors (some fetches failed: see fetches.error), failed, "
        "or interrupted (stopped by the user). A crash leaves 'running' behind."
    ),
    "requests": "HTTP requests made.",
    "pages": "Pages fetched successfully (listings and articles).",
    "articles_new": "Articles seen for the first time.",
    "articles_updated": "Articles whose content changed since the stored version.",
    "articles_unchanged": "Articles fetched again with identical content (rows left as they were).",
    "errors": "Failed fetches and extraction errors.",
    "bytes": "Bytes downloaded.",
    "settings": "Effective crawl settings (JSON), to reproduce the crawl.",
    "versions": "Software versions used (JSON), to reproduce the extraction.",
}

_FETCH_COLUMNS = {
    "id": "Fetch number.",
    "crawl_id": "Crawl this fetch belongs to.",
    "url": "Requested URL.",
    "status": "HTTP status code; empty when no response arrived.",
    "content_type": "Content-Type of the response.",
    "length": "Body length in bytes as received.",
    "fetched_at": "When the response arrived (UTC).",
    "error": "Why the fetch failed (timeout, DNS, HTTP error…); empty when it succeeded.",
    "note": (
        "What happened that is not a failure: an attempt that was retried, a page robots.txt "
        "forbids, a PDF served as HTML (archived, not extracted)."
    ),
    **_WARC_POINTER,
}
_FETCH_COLUMNS["warc_record_id"] += " Empty when nothing was archived."

_HIDDEN = {"hidden": True}

#: ISO 8601 dates start with four digits: anything else (NULL, an unparsed string) is left out.
_DATED = "glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*'"

# Canned queries: what researchers ask of a news archive, ready to run (database page, "Queries").
_QUERIES = {
    "search_by_relevance": {
        "title": "Search, most relevant first",
        "description": (
            "Full-text search ranked by relevance (bm25), accents ignored: 'hoi nghi' finds "
            "'Hội nghị'. The table page's search lists the newest first. On a very large "
            "archive a common word makes this ranking slow: it scores every match."
        ),
        "sql": (
            "select a.url, a.title, a.published_at, a.portal, a.category\n"
            "from (select rowid, rank from articles_fts where articles_fts match fts_match(:q)\n"
            "      order by rank limit 20) as hit\n"
            "join articles a on a.rowid = hit.rowid\norder by hit.rank"
        ),
    },
    "new_this_week": {
        "title": "New this week",
        "description": "Articles archived for the first time in the last 7 days, newest first.",
        "sql": (
            "select url, title, published_at, portal, category, crawled_at\nfrom articles a\n"
            "where coalesce((select observed_at from article_versions v\n"
            "                where v.article_url = a.url and v.version = 1), a.crawled_at)\n"
            "      >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-7 days')\n"
            "order by published_at desc"
        ),
    },
    "silent_edits": {
        "title": "Silent edits",
        "description": (
            "Articles whose body changed while the published date stayed the same: what "
            "changed (diff) and when the change was seen."
        ),
        "sql": (
            "select v.article_url as url, a.title, a.portal, v.version, v.observed_at,\n"
            "       a.published_at, v.diff\n"
            "from article_versions v join articles a on a.url = v.article_url\n"
            "where v.silent_edit = 1\norder by v.observed_at desc"
        ),
    },
    "removed_articles": {
        "title": "Removed articles",
        "description": (
            "Articles the portal no longer shows, since when and why (gone, redirected "
            "away…). Their last archived state is still here."
        ),
        "sql": (
            "select url, title, portal, published_at, removed_at, removed_reason\n"
            "from articles where removed_at is not null\norder by removed_at desc"
        ),
    },
    "articles_by_author": {
        "title": "Articles by author",
        "description": "Articles whose byline contains the name given, accents ignored.",
        "sql": (
            "select url, title, author, published_at, portal, category\nfrom articles\n"
            "where fold(author) like '%' || fold(:author) || '%'\norder by published_at desc"
        ),
    },
    "articles_per_category_and_month": {
        "title": "Articles per category and month",
        "description": "How many articles each section published each month (portal's time).",
        "sql": (
            "select portal, category, substr(published_at, 1, 7) as month, count(*) as articles\n"
            f"from articles where published_at {_DATED}\n"
            "group by portal, category, month\norder by month desc, articles desc"
        ),
    },
    "attachments": {
        "title": "Attachments",
        "description": "Files (PDF, DOC…) linked from articles, with the article linking them.",
        "sql": (
            "select f.title, f.url, a.title as article, a.url as article_url, a.published_at,\n"
            "       a.portal\nfrom attachments f join articles a on a.url = f.article_url\n"
            "order by a.published_at desc, f.position"
        ),
    },
    "crawl_history": {
        "title": "Crawl history",
        "description": "Every crawl run, newest first: when, how it ended and what it found.",
        "sql": "select * from crawls order by id desc",
    },
}


def _timeline_dashboard(database: str) -> dict[str, Any]:
    """The datasette-dashboards "timeline" dashboard; the database page draws the same charts.

    Vega-Lite, rendered as SVG in the browser from the Vega files the plugin ships (nothing is
    fetched from a CDN): one mark per month and portal, with a tooltip.
    """
    svg = {"embedOptions": {"renderer": "svg", "actions": False}}
    month = {"field": "month", "type": "temporal", "timeUnit": "yearmonth", "title": "Month"}
    return {
        "title": "Timeline",
        "description": "What the archive holds over time: articles published, edits, removals.",
        "layout": [["articles_per_month"], ["changes_per_month"]],
        "charts": {
            "articles_per_month": {
                "title": "Articles per month, by portal (month published)",
                "db": database,
                "library": "vega-lite",
                "query": (
                    "select substr(published_at, 1, 7) as month, portal, count(*) as articles "
                    f"from articles where published_at {_DATED} "
                    "group by month, portal order by month"
                ),
                "display": {
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": month,
                        "y": {"field": "articles", "type": "quantitative", "title": "Articles"},
                        "color": {"field": "portal", "type": "nominal", "title": "Portal"},
                    },
                    "height": 220,
                    "usermeta": svg,
                },
            },
            "changes_per_month": {
                "title": "Edits and removals per month (month seen)",
                "db": database,
                "library": "vega-lite",
                "query": (
                    "select substr(observed_at, 1, 7) as month, case when silent_edit = 1 "
                    "then 'silent edit' else 'edit' end as change, count(*) as articles "
                    "from article_versions where reason = 'edit' group by month, change "
                    "union all select substr(removed_at, 1, 7), 'removal', count(*) "
                    "from articles where removed_at is not null group by 1 order by month"
                ),
                "display": {
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": month,
                        "y": {"field": "articles", "type": "quantitative", "title": "Articles"},
                        "color": {"field": "change", "type": "nominal", "title": "Change"},
                    },
                    "height": 160,
                    "usermeta": svg,
                },
            },
        },
    }


def datasette_metadata(database: str = "archive") -> dict[str, Any]:
    """Metadata for an archive served under ``database`` (Datasette names it after the file).

    Search goes through ``articles_fts``, which holds accent-folded text: the govarchive
    Datasette plugin folds ``_search`` the same way, and SQL users can call ``fold()``.
    """
    return {
        "title": "govarchive",
        "description": (
            "Articles archived from Hanoi government news portals. Every article row points at "
            "the WARC record (file, offset, length, id) holding the HTTP response it was "
            "extracted from. Search ignores Vietnamese accents: 'dang uy' finds 'Đảng ủy'."
        ),
        "databases": {
            database: {
                "description": (
                    "One row per article (latest content), plus crawls, every HTTP fetch, "
                    "and each article's images and attachments."
                ),
                "queries": _QUERIES,
                "tables": {
                    "articles": {
                        "description": (
                            "One row per canonical article URL. A re-crawl that finds the same "
                            "content leaves the row untouched; changed content replaces it and "
                            "the WARC pointer moves to the new record (the old record stays in "
                            "the WARC files and in fetches)."
                        ),
                        "columns": _ARTICLE_COLUMNS,
                        "fts_table": "articles_fts",
                        "fts_pk": "rowid",
                        "sort_desc": "published_at",
                        "facets": ["portal", "category", {"year": "published_at"}],
                        "label_column": "title",
                        # Every row carries a whole article: 100 of them are ~500 KB of JSON
                        # (30 ms to encode), and a search's cost grows with the page size.
                        "size": 20,
                    },
                    "crawls": {
                        "description": "One row per crawl run, with its settings and counters.",
                        "columns": _CRAWL_COLUMNS,
                        "sort_desc": "id",
                        "facets": ["portal", "status"],
                        "label_column": "started_at",
                    },
                    "fetches": {
                        "description": (
                            "One row per HTTP exchange, failures included: what was asked, what "
                            "came back and where its bytes are archived."
                        ),
                        "columns": _FETCH_COLUMNS,
                        "sort_desc": "id",
                        "facets": ["status", "content_type"],
                        "label_column": "url",
                    },
                    "sections": {
                        "description": (
                            "Listing sections of each portal, found from its home page, the "
                            "pages it links, its sitemaps and feeds: what a routine crawl "
                            "revisits, and which sections appeared or vanished."
                        ),
                        "columns": _SECTION_COLUMNS,
                        "sort_desc": "first_seen",
                        "facets": ["portal", "state"],
                        "label_column": "title",
                    },
                    "article_versions": {
                        "description": (
                            "Every state an article has been seen in, once it changed: version 1 "
                            "is what was first archived. reason 'edit' means the portal changed "
                            "the page (silent_edit: the body changed but the published date did "
                            "not); 'reextract' means a newer extractor read the same bytes "
                            "differently."
                        ),
                        "sort_desc": "observed_at",
                        "facets": ["reason", "silent_edit"],
                        "label_column": "title",
                        "columns": {
                            "text_hash": "sha1 of the body text: equal hashes, equal bodies.",
                            "diff": "Unified diff from the previous version, by paragraph.",
                            "warc_record_id": "The WARC record this version was extracted from.",
                        },
                    },
                    "images": {
                        "description": "Images in an article's body, in page order.",
                        "columns": {
                            "article_url": "Article the image belongs to.",
                            "position": "1 for the first image in the article, 2 for the next…",
                            "url": "Absolute image URL.",
                            "caption": "Caption printed under the image.",
                            "alt": "The img tag's alt text.",
                        },
                        "label_column": "url",
                    },
                    "attachments": {
                        "description": "Files linked from an article (PDF, DOC…), in page order.",
                        "columns": {
                            "article_url": "Article linking the file.",
                            "position": "Order of first appearance in the article.",
                            "url": "Absolute file URL.",
                            "title": "Link text.",
                        },
                        "label_column": "title",
                    },
                    "articles_fts": _HIDDEN,
                    **{
                        f"articles_fts_{shadow}": _HIDDEN
                        for shadow in ("data", "idx", "content", "docsize", "config")
                    },
                    "sqlite_sequence": _HIDDEN,
                },
            }
        },
        "plugins": {"datasette-dashboards": {"timeline": _timeline_dashboard(database)}},
    }


def datasette_settings() -> dict[str, Any]:
    """Datasette settings for ``govarchive serve`` (and the search benchmark, which must match).

    No suggested facets: on every page Datasette would try a facet on each of the ~25 columns
    of ``articles``, one query per column over the rows shown, which on a large archive means
    a second per page. Facets stay one click away in each column's menu.
    """
    return {"suggest_facets": False}
