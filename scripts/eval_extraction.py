#!/usr/bin/env python
"""Measure crawler.extract against the sotttt replica's ground truth; exit 1 below target.

The ground truth's listing fields (``listing_title``, ``expected_iso``, ``listing_summary``) come
from the portal's listing pages, independently of the article page, so they are a fair yardstick
for what the extractor reads from the article page. Run it after any change to extract.py,
dates.py or a profile:

    python scripts/eval_extraction.py [--replica DIR] [--profile sotttt|none] [--show-failures 5]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.dates import normalize_space  # noqa: E402
from crawler.extract import extract_article  # noqa: E402
from crawler.profiles import load_profile  # noqa: E402

DEFAULT_REPLICA = Path("/work/shared/replica/sotttt")
TARGETS = {"title": 0.99, "date": 0.98, "sapo": 0.95, "clean": 0.99}
# Strings that only page furniture contains: menus, breadcrumb, date block, related list, footer.
# BOILERPLATE_LINES must not be a whole line of the text (an article may mention "Trang chủ").
BOILERPLATE_LINES = ("Trang chủ", "Tin tức sự kiện", "Đấu thấu mua sắm công")
BOILERPLATE = (
    "View count",
    "Các tin khác",
    "Ngày đăng",
    "Publish date",
    "In bài viết",
    "Gửi mail",
    "Truy cập nội dung luôn",
    "Nhập từ tìm kiếm",
    "Sơ đồ cổng",
    "liên kết website",
    "Về đầu trang",
    "Đăng nhập |",
    "Ghi rõ nguồn",
    "CỔNG THÔNG TIN ĐIỆN TỬ SỞ THÔNG TIN VÀ TRUYỀN THÔNG",
    "Tin tức nổi bật",
    "Pho Ban bien tap",
    "admin admin",
)


def norm(text: str | None) -> str:
    """Entities decoded (twice: some listing titles are double-escaped), NBSP and spaces folded."""
    if not text:
        return ""
    return normalize_space(html.unescape(html.unescape(text)))


def summary_prefix(summary: str, length: int = 80) -> str:
    """The listing summary is the sapo cut at a word with "...": keep a safe prefix of it."""
    text = norm(summary)
    text = re.sub(r"\s*(?:\.\.\.|…)\s*$", "", text)
    return text[:length].rsplit(" ", 1)[0] if len(text) > length else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replica", type=Path, default=DEFAULT_REPLICA)
    parser.add_argument(
        "--profile", default="sotttt", help="portal profile, or 'none' for generic extraction"
    )
    parser.add_argument("--base", default="https://sotttt.hanoi.gov.vn")
    parser.add_argument("--show-failures", type=int, default=3, metavar="N")
    args = parser.parse_args(argv)

    profile = None if args.profile == "none" else load_profile(args.profile)
    rows = [json.loads(line) for line in (args.replica / "ground_truth.jsonl").open()]
    pages = [(row, (args.replica / row["file"]).read_bytes()) for row in rows]

    counts: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    failures: dict[str, list[str]] = {k: [] for k in TARGETS}
    boiler_hits: Counter[str] = Counter()
    cpu = 0.0
    for row, body in pages:
        url = args.base + row["url"]
        started = time.process_time()
        article = extract_article(body, url, profile)
        cpu += time.process_time() - started

        counts["pages"] += 1
        counts["with_text"] += bool(article.text)
        counts["images"] += len(article.images)
        counts["captioned"] += sum(1 for i in article.images if i.caption)
        counts["attachments"] += len(article.attachments)
        counts["with_attachments"] += bool(article.attachments)
        counts["gt_attachment_pages"] += bool(row.get("has_attachment_link"))
        counts["canonical_id_ok"] += article.article_id == row["article_id"]
        text_lines = set(article.text.split("\n"))
        hits = [s for s in BOILERPLATE if s in article.text]
        hits += [s for s in BOILERPLATE_LINES if s in text_lines]
        boiler_hits.update(hits)

        # author sanity, over every page
        last = norm(row.get("last_body_line"))
        if article.author is None and article.source is None:
            authors["none"] += 1
        if article.source:
            authors["source"] += 1
        if article.author:
            authors["author"] += 1
            if last and (article.author in last or last.endswith(article.author)):
                authors["author_from_last_body_line"] += 1
            elif article.author == article.posted_by:
                authors["author_from_posted_by"] += 1
            else:
                authors["author_other"] += 1
        if last and last in article.text.split("\n")[-1:] and last == article.author:
            authors["byline_left_in_text"] += 1
        if article.posted_by and article.author == article.posted_by:
            authors["posted_by_is_author"] += 1

        if not row.get("listing_title"):
            continue
        counts["listed"] += 1
        if norm(article.title) == norm(row["listing_title"]):
            counts["title"] += 1
        else:
            failures["title"].append(f"{row['url']}: {article.title!r} != {row['listing_title']!r}")
        if article.published_at == row.get("expected_iso"):
            counts["date"] += 1
        else:
            failures["date"].append(
                f"{row['url']}: {article.published_at} (raw {article.published_raw!r})"
                f" != {row.get('expected_iso')}"
            )
        prefix = summary_prefix(row.get("listing_summary") or "")
        if not prefix or prefix in norm(article.text):
            counts["sapo"] += 1
        elif norm(row["listing_summary"]) == norm(row["listing_title"]) and article.sapo is None:
            # The sapo only repeats the title: dropped from the text by design (see extract.py).
            counts["sapo"] += 1
            counts["sapo_is_title"] += 1
        else:
            failures["sapo"].append(f"{row['url']}: {prefix[:60]!r} not in {article.text[:80]!r}")
        if not hits:
            counts["clean"] += 1
        else:
            failures["clean"].append(f"{row['url']}: {hits}")

    listed = counts["listed"] or 1
    shares = {k: counts[k] / listed for k in TARGETS}
    print(f"articles: {counts['pages']}  with listing data: {counts['listed']}")
    labels = {
        "title": "title == listing_title",
        "date": "published_at == expected_iso",
        "sapo": "text contains listing sapo",
        "clean": "no boilerplate in text",
    }
    for key, label in labels.items():
        mark = "ok " if shares[key] >= TARGETS[key] else "LOW"
        print(
            f"  {mark} {label:30} {counts[key]:5}/{listed}  {shares[key]:7.2%}"
            f"  (target {TARGETS[key]:.0%})"
        )
    print(
        f"  (sapo identical to the title, dropped from text by design: {counts['sapo_is_title']})"
    )
    print(
        f"  text non-empty {counts['with_text']}/{counts['pages']}; article_id from canonical "
        f"{counts['canonical_id_ok']}/{counts['pages']}"
    )
    print(
        f"  images {counts['images']} ({counts['captioned']} captioned); attachments "
        f"{counts['attachments']} on {counts['with_attachments']} pages "
        f"(ground truth: {counts['gt_attachment_pages']} pages with attachment links)"
    )
    print("author: " + ", ".join(f"{k} {v}" for k, v in sorted(authors.items())))
    if boiler_hits:
        print("boilerplate hits: " + ", ".join(f"{k!r} {v}" for k, v in boiler_hits.items()))
    print(f"cpu: {cpu / max(counts['pages'], 1) * 1000:.1f} ms/page over {counts['pages']} pages")
    for key, items in failures.items():
        for item in items[: args.show_failures]:
            print(f"  fail {key}: {item}")
    below = [k for k in TARGETS if shares[k] < TARGETS[k]]
    if below:
        print("BELOW TARGET: " + ", ".join(below))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
