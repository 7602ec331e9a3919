"""Measure a finished crawl of an EasyWebHub/LacViet replica (``sldtbxh-daknong``) against its
ground truth; ``scripts/eval_crawl.py`` calls this when the replica's ground truth has
``reach_page_n`` (any replica of that CMS built the same way).

* coverage: of the articles a link-following crawler reaches through listings and their
  ``/page/N`` pages (``reach_page_n``), the share archived (row URL path == ground truth path);
* title == the listing's title, date == the listing's date (``expected_iso``: the day when the
  listing prints only the day, the minute when it prints a time; +07:00);
* no page furniture in the text (view counter, print/back links, "TIN ĐÃ ĐƯA", placeholders);
* no row for a page that is not an article (placeholders, empty posts, listings, static pages);
* each row's WARC pointer opens a ``response`` record of the row's URL.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlsplit

FURNITURE = (
    "Số lượt người xem",
    "TIN ĐÃ ĐƯA",
    "Bản in",
    "tải file đính kèm",
    "Default 404 Not Found Page",
    "Default Category Layout",
    "quan tri",
)
TARGETS = (
    ("reachable_coverage", 98.0, "min"),
    ("title", 99.0, "min"),
    ("date", 98.0, "min"),
    ("no_furniture", 99.0, "min"),
    ("not_articles_archived", 0, "max"),
    ("warc_pointers", 100.0, "min"),
)


def is_pattern_pager_replica(replica: Path) -> bool:
    with (replica / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        first = handle.readline()
    return bool(first.strip()) and "reach_page_n" in json.loads(first)


def _path(url: str | None) -> str:
    return unquote(urlsplit(url or "").path) or "/"


def evaluate(data_dir: Path, replica: Path, portal: str, metric_class, normalise, warc_checker):
    """Metrics and counts, in the shapes ``eval_crawl`` prints."""
    truth = {}
    with (replica / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            truth[unquote(record["url"])] = record
    kinds = {}
    with (replica / "pages.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            url, _file, kind, *_ = line.rstrip("\n").split("\t")
            kinds[unquote(url)] = kind
    connection = sqlite3.connect(f"file:{data_dir / 'archive.db'}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    rows = [
        dict(r) for r in connection.execute("SELECT * FROM articles WHERE portal = ?", (portal,))
    ]
    connection.close()

    m = {
        "reachable_coverage": metric_class("reachable_coverage", "reach_page_n articles archived"),
        "title": metric_class("title", "title == listing title"),
        "date": metric_class("date", "published_at == listing date (day, or minute if printed)"),
        "no_furniture": metric_class("no_furniture", "text free of page furniture"),
        "warc_pointers": metric_class("warc_pointers", "WARC pointer opens the response record"),
    }
    archived = {}
    not_articles = []
    sources: dict[str, int] = {}
    warc = warc_checker(data_dir)
    try:
        for row in rows:
            path = _path(row["url"])
            archived[path] = row
            problem = warc.check(row, path, _path)
            m["warc_pointers"].add(not problem, f"{path}: {problem}")
            if kinds.get(path) != "article":
                not_articles.append(f"{path} ({kinds.get(path, 'not in pages.tsv')})")
                continue
            sources[row.get("date_source") or "none"] = (
                sources.get(row.get("date_source") or "none", 0) + 1
            )
            text = normalise(row["text"])
            hits = [f for f in FURNITURE if f.casefold() in text.casefold()]
            m["no_furniture"].add(not hits, f"{path}: {hits}")
            record = truth[path]
            if record.get("listing_title"):
                got, want = normalise(row["title"]), normalise(record["listing_title"])
                m["title"].add(got == want, f"{path}: {got!r} != {want!r}")
            expected = record.get("expected_iso")
            if expected:
                got = row["published_at"] or ""
                if record.get("expected_precision") == "day":
                    ok = got[:10] == expected[:10] and (len(got) == 10 or got.endswith("+07:00"))
                else:
                    ok = got == expected
                m["date"].add(ok, f"{path}: {got!r} != {expected!r} ({row.get('date_source')})")
    finally:
        warc.close()
    reachable = [p for p, r in truth.items() if r.get("reach_page_n")]
    for path in sorted(reachable):
        m["reachable_coverage"].add(path in archived, path)
    counts = {
        "rows": len(rows),
        "distinct_article_ids": len(archived),
        "reachable_articles": len(reachable),
        "reachable_listings": sum(1 for k in kinds.values() if k == "listing"),
        "not_articles_archived": len(not_articles),
        "not_article_examples": not_articles[:5],
        "rows_beyond_reachable": sum(1 for p in archived if p not in set(reachable)),
        "date_sources": sources,
        "duplicate_ids": 0,
        "duplicate_examples": [],
        "start_paths_404": [],
    }
    return m, counts


def verdict(metrics: dict, counts: dict) -> dict[str, bool]:
    results = {}
    for name, target, kind in TARGETS:
        value = counts[name] if name in counts else metrics[name].percent
        results[name] = value <= target if kind == "max" else value >= target
    return results
