"""Score a crawl against a ground truth of (url, title, published) lines: any portal, any CMS.

``ground_truth.jsonl`` holds one JSON object per article: ``url`` (the portal's URL),
``title`` (as the page prints it) and ``published`` (ISO 8601: a day, or a moment with its
offset). A row matches an article by URL (trailing slash, scheme, ``www.`` and the order of
query parameters aside); its title must equal the printed one (whitespace normalised) and its
``published_at`` must fall on the same day in the portal's local time (the day of the truth's
own offset, or the day printed when the truth gives only a day).

Prints one JSON line: coverage, titles and dates in percent, and a few failing examples.
Usage: ``python scripts/eval_truth.py DATA_DIR GROUND_TRUTH.jsonl [--portal NAME]``
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit


def url_key(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    # Parameters in any order, as rows store them sorted (crawler.urls.canonical_url).
    items = sorted(item for item in parts.query.replace("&amp;", "&").split("&") if item)
    query = f"?{'&'.join(items)}" if items else ""
    return f"{host}{parts.path.rstrip('/')}{query}"


def normalise(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").replace("\u00a0", " ").split())


def local_day(value: str | None, truth: str) -> str | None:
    """``value``'s day in the offset of ``truth`` (or as written, when either has no offset)."""
    if not value:
        return None
    try:
        got = datetime.fromisoformat(value.replace("Z", "+00:00"))
        want = datetime.fromisoformat(truth)
    except ValueError:
        return value[:10]
    if got.tzinfo is not None and want.tzinfo is not None:
        got = got.astimezone(want.tzinfo)
    return got.date().isoformat()


def score(db_path: Path, truth_path: Path, portal: str | None = None) -> dict:
    """Coverage, titles and dates of the ``articles`` rows against the ground truth."""
    truth = [json.loads(line) for line in truth_path.read_text("utf-8").splitlines() if line]
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        query = "select url, title, published_at from articles"
        rows = db.execute(query + (" where portal = ?" if portal else ""),
                          (portal,) if portal else ()).fetchall()  # fmt: skip
    by_url = {url_key(r["url"]): r for r in rows}
    found = titles = dates = 0
    missing, bad_titles, bad_dates = [], [], []
    for record in truth:
        row = by_url.get(url_key(record["url"]))
        if row is None:
            missing.append(record["url"])
            continue
        found += 1
        if normalise(row["title"]) == normalise(record["title"]):
            titles += 1
        else:
            bad_titles.append(f"{row['title']!r} != {record['title']!r}")
        want_day = datetime.fromisoformat(record["published"]).date().isoformat()
        if local_day(row["published_at"], record["published"]) == want_day:
            dates += 1
        else:
            bad_dates.append(f"{record['url']}: {row['published_at']!r} != {record['published']}")
    return {
        "articles": len(truth),
        "rows": len(rows),
        "coverage": round(100 * found / len(truth), 1) if truth else 0.0,
        "titles": round(100 * titles / found, 1) if found else 0.0,
        "dates": round(100 * dates / found, 1) if found else 0.0,
        "missing": missing[:5],
        "bad_titles": bad_titles[:5],
        "bad_dates": bad_dates[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("--portal")
    args = parser.parse_args(argv)
    db = args.data_dir / "archive.db"
    if not db.is_file() or not args.truth.is_file():
        print(f"error: need {db} and {args.truth}", file=sys.stderr)
        return 2
    print(json.dumps(score(db, args.truth, args.portal), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
