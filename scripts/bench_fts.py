#!/usr/bin/env python3
"""Full-text search at scale: a 1,000,000-article archive, searched through Datasette's JSON API.

Why: researchers search the archive in Datasette, and a portal backfill plus years of crawls
reach a million articles. This builds a synthetic archive of that size from the replica's own
articles (titles' words and body paragraphs shuffled across articles, so the vocabulary and the
term frequencies are the portal's), then times ``/archive/articles.json?_search=...`` requests
and the results page people see (``/archive/articles?_search=...``: HTML, with highlighted
snippets of the 20 results shown) through Datasette's in-process client, configured exactly as
``govarchive serve`` configures it (same metadata, same settings, immutable file). It prints
each query's times and match count, the medians, and the archive's size per article; the last
line is a JSON object.

The archive is built once and cached (``~/.cache/govarchive-bench/fts-N/archive.db``; about
7 KB per article): the build writes the ``articles`` rows and the folded ``articles_fts`` rows
the way ``archive.store.Archive`` does, with the same schema (``Archive`` creates it), but in
large direct batches, because ``save_articles`` compares every row with the stored one first.

    scripts/bench_fts.py [--articles 1000000] [--rebuild] [--cache DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from archive.store import ARTICLE_FIELDS, Archive  # noqa: E402
from archive.textfold import fold  # noqa: E402

BUILDER_VERSION = 1  # bump when the synthetic rows change, so cached archives are rebuilt
BATCH = 20_000

#: Searches a researcher of these portals would type: common terms (half the archive matches
#: "hoi nghi"), rarer ones (blockchain: ~0.1 %) and one that matches nothing.
QUERIES = (
    "hoi nghi",
    "dang uy",
    "Hà Nội",
    "chuyen doi so",
    "an toan thong tin",
    "thanh tra",
    "bưu chính viễn thông",
    "phong chong tham nhung",
    "cai cach hanh chinh",
    "dich vu cong truc tuyen",
    "bao chi",
    "ipv6",
    "covid",
    "tiem chung",
    "5G",
    "chu ky so",
    "luat thu do",
    "giao duc",
    "tan so vo tuyen",
    "kiem dinh thiet bi",
    "ten mien",
    "Zalo",
    "Bkav",
    "blockchain",
    "hackathon",  # no match at all
)


def source_articles() -> list[dict[str, Any]]:
    """Articles extracted from the replica's pages (the full shared replica, else the demo)."""
    import csv

    from crawler.extract import extract_article
    from crawler.profiles import load_profile
    from crawler.replica import DEMO_REPLICA, shared_replica

    replica = shared_replica() or DEMO_REPLICA
    profile = load_profile("sotttt")
    articles = []
    with open(replica / "pages.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["kind"] != "article":
                continue
            html = (replica / row["file"]).read_bytes()
            article = extract_article(html, profile.base_url + row["url"], profile)
            if article.title and article.text:
                articles.append(article.to_dict())
    return articles


def synthetic_rows(articles: list[dict[str, Any]], count: int, seed: int = 5):
    """``count`` article rows plus their folded FTS values, replica text shuffled."""
    rng = random.Random(seed)
    paragraphs = [line for a in articles for line in a["text"].split("\n") if line.strip()]
    folded_paragraphs = [fold(p) for p in paragraphs]
    lengths = [len(a["text"].split("\n")) for a in articles]
    titles = [a["title"].split() for a in articles]
    categories = sorted({a["category"] for a in articles if a["category"]}) or ["Tin tức"]
    authors = sorted({a["author"] for a in articles if a["author"]}) or [None]
    start = datetime(2012, 1, 1, tzinfo=UTC)
    span = int((datetime(2025, 1, 1, tzinfo=UTC) - start).total_seconds())
    tz = timezone(timedelta(hours=7))
    for number in range(1, count + 1):
        words = list(rng.choice(titles))
        rng.shuffle(words)
        title = " ".join(words)
        picked = [rng.randrange(len(paragraphs)) for _ in range(rng.choice(lengths))]
        text = "\n".join(paragraphs[i] for i in picked)
        folded_text = "\n".join(folded_paragraphs[i] for i in picked)
        moment = (start + timedelta(seconds=rng.randrange(span))).astimezone(tz)
        category = rng.choice(categories)
        row = dict.fromkeys(ARTICLE_FIELDS)
        row.update(
            url=f"https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien/-/view_content/{number}-synthetic.html",
            portal="sotttt",
            article_id=str(number),
            title=title,
            published_at=moment.isoformat(),
            published_raw=moment.strftime("Ngày đăng %d/%m/%Y | %I:%M %p"),
            author=rng.choice(authors),
            category=category,
            sapo=paragraphs[picked[0]],
            text=text,
            language="vi",
            crawled_at=moment.astimezone(UTC).isoformat(),
            extractor="synthetic (scripts/bench_fts.py)",
        )
        yield row, fold(title), folded_text


def build(path: Path, count: int) -> None:
    """Write a ``count``-article archive at ``path`` (schema from archive.store.Archive)."""
    started = time.monotonic()
    articles = source_articles()
    print(f"building {count:,} articles from {len(articles):,} replica articles", flush=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    Archive(partial).close()  # the real schema, indexes and FTS table
    import sqlite3

    db = sqlite3.connect(partial, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")  # a failed build is thrown away, not recovered
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
    columns = ", ".join(ARTICLE_FIELDS)
    insert = f"INSERT INTO articles ({columns}) VALUES ({', '.join('?' * len(ARTICLE_FIELDS))})"
    rowid = 0
    batch: list[tuple] = []
    fts: list[tuple] = []
    for row, folded_title, folded_text in synthetic_rows(articles, count):
        rowid += 1
        batch.append(tuple(row[name] for name in ARTICLE_FIELDS))
        fts.append((rowid, folded_title, folded_text, row["url"]))
        if len(batch) >= BATCH:
            _write(db, insert, batch, fts)
            print(f"  {rowid:,} articles, {time.monotonic() - started:.0f}s", flush=True)
    _write(db, insert, batch, fts)
    print("  optimizing the full-text index", flush=True)
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('optimize')")
    db.execute("ANALYZE")
    db.close()
    os.replace(partial, path)
    print(f"built {path} in {time.monotonic() - started:.0f}s", flush=True)


def _write(db, insert: str, batch: list[tuple], fts: list[tuple]) -> None:
    db.execute("BEGIN")
    db.executemany(insert, batch)
    db.executemany("INSERT INTO articles_fts (rowid, title, text, url) VALUES (?, ?, ?, ?)", fts)
    db.execute("COMMIT")
    batch.clear()
    fts.clear()


#: What is timed: the JSON API; the results page people see (HTML, snippets of the 20 results
#: shown); the same search as Datasette's HTML table, no snippet (the baseline for the snippets).
PAGES = (
    ("json", "/archive/articles.json", {}),
    ("html", "/archive/articles", {}),
    ("grid", "/archive/articles", {"_grid": "1"}),
)


async def time_searches(path: Path, rounds: int) -> list[dict[str, Any]]:
    """Each query through Datasette's JSON API, as `govarchive serve` sets Datasette up."""
    from datasette.app import Datasette

    from archive.metadata import datasette_metadata, datasette_settings

    datasette = Datasette(
        immutables=[str(path)], metadata=datasette_metadata(), settings=datasette_settings()
    )
    await datasette.invoke_startup()
    results = []
    for query in QUERIES:
        timings: dict[str, list[float]] = {"json": [], "html": [], "grid": []}
        body: dict[str, Any] = {}
        for _ in range(rounds + 1):  # the first request of each query warms the page cache
            for page, path, extra in PAGES:
                started = time.perf_counter()
                response = await datasette.client.get(path, params={"_search": query, **extra})
                timings[page].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(
                        f"{query!r} {page}: HTTP {response.status_code}: {response.text[:500]}"
                    )
                if page == "json":
                    body = response.json()
                elif page == "html":
                    marks = response.text.count("<mark>")
        results.append(
            {
                "query": query,
                "ms": timings["json"][1:],
                "html_ms": timings["html"][1:],
                "grid_ms": timings["grid"][1:],
                "rows": len(body.get("rows", [])),
                "count": body.get("filtered_table_rows_count"),
                "marks": marks,
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_fts.py", description=__doc__)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed requests per query")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "govarchive-bench",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the archive again")
    args = parser.parse_args(argv)

    path = args.cache / f"fts-{args.articles}-v{BUILDER_VERSION}" / "archive.db"
    if args.rebuild and path.parent.exists():
        shutil.rmtree(path.parent)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build(path, args.articles)
    results = asyncio.run(time_searches(path, args.rounds))
    for result in results:
        ms = " ".join(f"{t:7.1f}" for t in result["ms"])
        html_ms = " ".join(f"{t:7.1f}" for t in result["html_ms"])
        print(f"{result['query']:<26} {result['count']!s:>9} matches  json {ms} ms"
              f"  page {html_ms} ms, {result['marks']} <mark>")  # fmt: skip
    median = statistics.median(t for r in results for t in r["ms"])
    html_median = statistics.median(t for r in results for t in r["html_ms"])
    grid_median = statistics.median(t for r in results for t in r["grid_ms"])
    size = sum(p.stat().st_size for p in path.parent.glob("archive.db*"))
    per_article = size / args.articles
    print(f"median {median:.1f} ms over {len(results)} queries x {args.rounds}; archive "
          f"{size / 2**30:.2f} GiB, {per_article / 1024:.1f} KiB per article")  # fmt: skip
    print(f"results page (HTML, snippets of the 20 shown): median {html_median:.1f} ms, "
          f"{html_median / median:.2f}x the JSON API, {html_median / grid_median:.2f}x the "
          f"HTML table without snippets ({grid_median:.1f} ms)")  # fmt: skip
    print(
        json.dumps(
            {
                "fts_articles": args.articles,
                "fts_median_ms": round(median, 1),
                "fts_max_ms": round(max(t for r in results for t in r["ms"]), 1),
                "fts_page_median_ms": round(html_median, 1),
                "fts_page_max_ms": round(max(t for r in results for t in r["html_ms"]), 1),
                "fts_table_page_median_ms": round(grid_median, 1),
                "fts_bytes_per_article": round(per_article),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
