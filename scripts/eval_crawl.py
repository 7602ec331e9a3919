"""Measure a finished crawl of a sotttt replica against the replica's ground truth (or, for a
replica of the EasyWebHub/LacViet CMS such as sldtbxh-daknong, ``scripts/eval_pattern_pager.py``).

A crawl "works" when it archives every article a link-following crawler can reach, with the
right fields, once each, and every row can be traced back to its WARC record. This script
checks exactly that, independently of the crawler's own code (it only shares the replica
server's URL resolution, because "reachable" means "the server answers it"):

* reachable set: a breadth-first walk over the replica's listing pages, from the profile's
  start paths through the Asset Publisher pager (``_101_cur``), collecting the article links
  the server can serve (exactly or by article id);
* coverage: share of those article ids present as rows of ``archive.db`` (matched by the id in
  the row's URL, since one article answers under many paths);
* fields, against ``ground_truth.jsonl``: title == listing title, published_at == listing date,
  text contains the sapo (listing summary), no template boilerplate in the text;
* integrity: no duplicate article ids, and each row's WARC pointer opens (warcio) on a
  ``response`` record with the row's record id and an article URL with the row's id.

Prints a table and, last, one JSON line; exits 1 when a target is missed, 2 on bad input.

Usage: ``python scripts/eval_crawl.py DATA_DIR [--replica DIR] [--portal NAME]``
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sqlite3
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import eval_pattern_pager  # noqa: E402

from crawler.replica import DEMO_REPLICA, ReplicaSite, shared_replica  # noqa: E402

PORTAL_HOST_URL = "https://sotttt.hanoi.gov.vn/"
ARTICLE_ID = re.compile(r"/-/view_content/(\d+)-[^/?#]*\.html")
LOCAL_TZ = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has had no DST since 1975
SAPO_PREFIX = 60
# Template text that must never reach an article's text: date/view-count block, related list,
# print/mail actions and the breadcrumb. None of these occurs in any article body of the
# replica (checked over all 1531 article pages).
BOILERPLATE = (
    "View count",
    "Các tin khác",
    "In bài viết",
    "Gửi mail",
    "Ngày đăng",
    "Publish date",
    "Trang chủ",
)
# (metric, target, "min" | "max"); the crawl passes when every target is met.
TARGETS = (
    ("reachable_coverage", 98.0, "min"),
    ("title", 99.0, "min"),
    ("date", 98.0, "min"),
    ("sapo", 95.0, "min"),
    ("no_boilerplate", 99.0, "min"),
    ("duplicate_ids", 0, "max"),
    ("warc_pointers", 100.0, "min"),
)


class InputError(Exception):
    """The crawl folder or the replica cannot be evaluated (exit status 2)."""


def article_id(url: str | None) -> str | None:
    """The portal's article id in a URL (any host, any section path), or None."""
    match = ARTICLE_ID.search(url or "")
    return match.group(1) if match else None


def normalise(text: str | None) -> str:
    """Compare texts as a reader would: entities decoded, NFC, NBSP and runs of spaces as one."""
    text = unicodedata.normalize("NFC", html.unescape(text or ""))
    return " ".join(text.replace("\u00a0", " ").split())


def sapo_probe(summary: str | None) -> str:
    """The start of a listing summary, without the "..." the listing adds when it truncates."""
    text = normalise(summary)
    text = re.sub(r"(?:\.\.\.|…)+$", "", text).rstrip()
    return text[:SAPO_PREFIX].rstrip()


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime; naive values are portal-local (+07:00)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


@dataclass
class Metric:
    """One line of the report: passes/total, plus a few failing examples."""

    name: str
    description: str
    passed: int = 0
    total: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, ok: bool, example: str = "") -> None:
        self.total += 1
        if ok:
            self.passed += 1
        elif example and len(self.examples) < 5:
            self.examples.append(example)

    @property
    def percent(self) -> float:
        return 100.0 * self.passed / self.total if self.total else 0.0


def load_rows(db_path: Path, portal: str) -> list[dict]:
    """The ``articles`` rows of the archive, of ``portal`` if the table has several portals."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        columns = {r["name"] for r in connection.execute("PRAGMA table_info(articles)")}
        if not columns:
            raise InputError(f"{db_path}: no 'articles' table")
        wanted = ["url", "title", "published_at", "text", "warc_filename", "warc_offset"]
        wanted.append("warc_record_id")
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise InputError(f"{db_path}: table 'articles' lacks column(s) {', '.join(missing)}")
        select = ", ".join(wanted)
        rows = [dict(r) for r in connection.execute(f"SELECT {select} FROM articles")]
        if "portal" in columns:
            mine = [
                dict(r)
                for r in connection.execute(
                    f"SELECT {select} FROM articles WHERE portal = ?", (portal,)
                )
            ]
            if mine or not rows:
                return mine
            print(f"warning: no row has portal = {portal!r}; evaluating all rows", file=sys.stderr)
        return rows
    finally:
        connection.close()


def load_truth(replica: Path) -> dict[str, dict]:
    truth: dict[str, dict] = {}
    with (replica / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            truth.setdefault(str(record["article_id"]), record)
    return truth


class WarcChecker:
    """Opens each row's WARC pointer; keeps files open because rows share a few WARC files."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._files: dict[str, object] = {}

    def check(self, row: dict, expected_id: str | None, id_of=None) -> str:
        """Empty when the pointer is good, else what is wrong with it."""
        from warcio.archiveiterator import ArchiveIterator

        name, offset, record_id = row["warc_filename"], row["warc_offset"], row["warc_record_id"]
        if not name or offset is None or not record_id:
            return "no WARC pointer"
        path = self.data_dir / name
        if name not in self._files:
            if not path.is_file():
                return f"missing file {name}"
            self._files[name] = path.open("rb")
        handle = self._files[name]
        try:
            handle.seek(int(offset))
            record = next(iter(ArchiveIterator(handle)), None)
        except Exception as exc:  # any failure to read is a broken pointer
            return f"unreadable at {name}:{offset}: {exc.__class__.__name__}: {str(exc)[:80]!r}"
        if record is None:
            return f"no record at {name}:{offset}"
        if record.rec_type != "response":
            return f"{record.rec_type} record at {name}:{offset}, not response"
        found_id = record.rec_headers.get_header("WARC-Record-ID")
        if found_id != record_id:
            return f"record id {found_id} != {record_id}"
        target = record.rec_headers.get_header("WARC-Target-URI")
        if (id_of or article_id)(target) != expected_id:
            return f"target {target} is not article {expected_id}"
        return ""

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()  # type: ignore[attr-defined]


def evaluate(
    data_dir: Path, replica: Path, start_paths: list[str], portal: str = "sotttt"
) -> tuple[dict[str, Metric], dict]:
    """All metrics of a crawl in ``data_dir`` against ``replica``; also some plain counts."""
    site = ReplicaSite(replica)
    walk = site.walk_listings(start_paths)
    reachable = set(walk.articles)
    truth = load_truth(replica)
    rows = load_rows(data_dir / "archive.db", portal)

    metrics = {
        "reachable_coverage": Metric("reachable_coverage", "reachable article ids archived"),
        "title": Metric("title", "title == listing title"),
        "date": Metric("date", "published_at == listing date"),
        "sapo": Metric("sapo", f"text contains sapo ({SAPO_PREFIX}-char prefix)"),
        "no_boilerplate": Metric("no_boilerplate", "text free of template boilerplate"),
        "warc_pointers": Metric("warc_pointers", "WARC pointer opens the response record"),
        "portal_url": Metric("portal_url", f"row url absolute on {PORTAL_HOST_URL} (info)"),
    }
    ids_seen: dict[str, int] = {}
    title_fallbacks = 0
    warc = WarcChecker(data_dir)
    try:
        for row in rows:
            aid = article_id(row["url"])
            label = f"{aid or '?'} {row['url']}"
            metrics["portal_url"].add(str(row["url"] or "").startswith(PORTAL_HOST_URL), label)
            problem = warc.check(row, aid)
            metrics["warc_pointers"].add(not problem, f"{label}: {problem}")
            if aid is None:
                continue
            ids_seen[aid] = ids_seen.get(aid, 0) + 1
            text = normalise(row["text"])
            hits = [m for m in BOILERPLATE if m in text]
            metrics["no_boilerplate"].add(not hits, f"{aid}: {hits}")
            record = truth.get(aid)
            if record is None:
                continue
            expected_title = record.get("listing_title")
            if expected_title is None:
                expected_title = record.get("title")
                title_fallbacks += 1
            if expected_title is not None:
                got, want = normalise(row["title"]), normalise(expected_title)
                metrics["title"].add(got == want, f"{aid}: {got!r} != {want!r}")
            expected_date = parse_instant(record.get("expected_iso"))
            if expected_date is not None:
                got_date = parse_instant(row["published_at"])
                metrics["date"].add(
                    got_date == expected_date,
                    f"{aid}: {row['published_at']!r} != {record['expected_iso']!r}",
                )
            probe = sapo_probe(record.get("listing_summary"))
            if probe:
                metrics["sapo"].add(probe in text, f"{aid}: missing {probe!r}")
    finally:
        warc.close()

    coverage = metrics["reachable_coverage"]
    for aid in sorted(reachable, key=int):
        coverage.add(aid in ids_seen, f"{aid} (linked from {walk.articles[aid]})")
    duplicates = {aid: n for aid, n in ids_seen.items() if n > 1}
    counts = {
        "rows": len(rows),
        "rows_without_article_id": sum(1 for r in rows if article_id(r["url"]) is None),
        "distinct_article_ids": len(ids_seen),
        "duplicate_ids": len(duplicates),
        "duplicate_examples": sorted(duplicates.items())[:5],
        "reachable_articles": len(reachable),
        "reachable_listings": len(walk.listings),
        "start_paths_404": [p for p in start_paths if site.resolve(p) is None],
        "rows_not_in_replica": sum(1 for aid in ids_seen if aid not in site.articles),
        "rows_beyond_reachable": sum(1 for aid in ids_seen if aid not in reachable),
        "title_checked_against_page_title": title_fallbacks,
    }
    return metrics, counts


def verdict(metrics: dict[str, Metric], counts: dict) -> dict[str, bool]:
    """Per target: met or not."""
    results = {}
    for name, target, kind in TARGETS:
        value = counts[name] if name == "duplicate_ids" else metrics[name].percent
        results[name] = value <= target if kind == "max" else value >= target
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure a finished crawl (DATA_DIR/archive.db + WARCs) against a replica."
    )
    parser.add_argument("data_dir", type=Path, help="crawl output folder (has archive.db)")
    default_replica = shared_replica() or DEMO_REPLICA
    parser.add_argument(
        "--replica",
        type=Path,
        default=default_replica,
        help=f"replica folder with ground_truth.jsonl (default: {default_replica})",
    )
    parser.add_argument(
        "--start-path",
        action="append",
        dest="start_paths",
        help="listing start path (repeatable; default: the sotttt profile's start_paths)",
    )
    parser.add_argument(
        "--portal",
        default=None,
        help="value of articles.portal to evaluate (default: sotttt, or sldtbxh-daknong for a "
        "replica with URL-pattern pagers)",
    )
    parser.add_argument("--examples", type=int, default=3, help="failing examples per metric")
    args = parser.parse_args(argv)

    if not (args.data_dir / "archive.db").is_file():
        print(f"error: {args.data_dir / 'archive.db'} does not exist", file=sys.stderr)
        return 2
    if not (args.replica / "ground_truth.jsonl").is_file():
        print(f"error: {args.replica} has no ground_truth.jsonl", file=sys.stderr)
        return 2
    start_paths = args.start_paths
    pattern_pager = eval_pattern_pager.is_pattern_pager_replica(args.replica)
    if not start_paths and not pattern_pager:
        from crawler.profiles import load_profile

        start_paths = list(load_profile("sotttt").start_paths)

    try:
        if pattern_pager:  # the EasyWebHub/LacViet replica (sldtbxh-daknong)
            metrics, counts = eval_pattern_pager.evaluate(
                args.data_dir,
                args.replica,
                args.portal or "sldtbxh-daknong",
                Metric,
                normalise,
                WarcChecker,
            )
            results = eval_pattern_pager.verdict(metrics, counts)
            all_targets = eval_pattern_pager.TARGETS
        else:
            metrics, counts = evaluate(
                args.data_dir, args.replica, start_paths, args.portal or "sotttt"
            )
            results = verdict(metrics, counts)
            all_targets = TARGETS
    except (InputError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    targets = {name: (target, kind) for name, target, kind in all_targets}

    print(f"replica: {args.replica}")
    print(f"crawl:   {args.data_dir}")
    print(
        f"rows {counts['rows']}, distinct article ids {counts['distinct_article_ids']}, "
        f"reachable articles {counts['reachable_articles']} "
        f"(from {counts['reachable_listings']} listing pages)"
    )
    print()
    print(f"{'metric':<20} {'value':>8} {'passed/total':>13} {'target':>8}  result  description")
    for name, metric in metrics.items():
        target, kind = targets.get(name, (None, ""))
        shown_target = f"{'≥' if kind == 'min' else '≤'}{target:g}" if target is not None else ""
        result = "" if name not in results else ("ok" if results[name] else "MISS")
        print(
            f"{name:<20} {metric.percent:7.2f}% {f'{metric.passed}/{metric.total}':>13} "
            f"{shown_target:>8}  {result:<6}  {metric.description}"
        )
    for name, label in (
        ("duplicate_ids", "article ids stored more than once"),
        ("not_articles_archived", "rows for pages that are not articles"),
    ):
        if name in results:
            shown = "ok" if results[name] else "MISS"
            print(f"{name:<20} {counts[name]:>8} {'':>13} {'≤0':>8}  {shown:<6}  {label}")
    if "date_sources" in counts:
        print(f"date sources: {counts['date_sources']}")
    for name, metric in metrics.items():
        if metric.examples and args.examples:
            print(f"\n{name}: failing examples")
            for example in metric.examples[: args.examples]:
                print(f"  {example}")
    if counts["duplicate_examples"]:
        print(f"\nduplicate ids (id, rows): {counts['duplicate_examples']}")
    if counts["start_paths_404"]:
        print(f"\nstart paths the replica answers 404: {counts['start_paths_404']}")

    ok = all(results.values())
    summary = {
        "ok": ok,
        "replica": str(args.replica),
        **{name: round(metric.percent, 2) for name, metric in metrics.items()},
        **{f"{name}_total": metric.total for name, metric in metrics.items()},
        **{k: v for k, v in counts.items() if not k.endswith("_examples")},
        "missed": [name for name, met in results.items() if not met],
    }
    print()
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
