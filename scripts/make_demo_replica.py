"""Regenerate ``crawler/demo/sotttt``, the small replica bundled with govarchive.

The full sotttt replica (``shared/replica/sotttt``, ~93 MB, 1531 articles) is too big to ship
and too slow for unit tests, so the package carries a cut of it. This script is that cut,
written down: the same input always gives byte-identical output, and the choice of pages is
the ``LISTINGS`` / ``EXTRA_ARTICLES`` tables below rather than a hand-copied folder.

How the cut is made:

1. Whole listing pages are chosen per section (``LISTINGS``): the bare start page of every
   section in the profile's ``start_paths`` plus the first pager pages of some of them, so a
   crawler started from the profile finds every chosen listing through the pager.
2. Every article linked from a chosen listing page that the full replica can serve (exactly,
   or by article id as the live portal does) is included, so nearly every article link a
   crawler follows in the demo answers 200 (links to articles the full replica lacks 404
   in both).
3. ``EXTRA_ARTICLES`` adds a few articles for extractor test cases whose listing page is not
   in the cut (they are served, but a crawl does not reach them).
4. The homepage, a ``robots.txt`` (``Disallow: /c/`` and ``/dang-nhap``: harmless here, but it
   exercises the crawler's robots handling), trimmed ``pages.tsv`` / ``ground_truth.jsonl``
   (``listed_on`` keeps only listing pages in the cut) and a README are written.

Usage: ``python scripts/make_demo_replica.py [--source DIR] [--out DIR] [--check]``
(``--check`` compares instead of writing, and exits 1 if the folder is out of date).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.replica_site import (  # noqa: E402 (the script runs from a checkout)
    ARTICLE_PATH,
    DEMO_REPLICA,
    POPUP_MARKER,
    ReplicaSite,
    is_pager_link,
    links_in,
    shared_replica,
    split_target,
)

# Section path -> listing pages to include (None is the bare section page, N is `_101_cur=N`).
LISTINGS: dict[str, tuple[int | None, ...]] = {
    # "Ngày đăng" label, 20 per page; items link articles saved under other sections too.
    # p148 is the pager's "last page" link and p143 is on its pager: old 2011-2013 articles,
    # among them 4385956 (CMS date 01/12/2011 for a 2021 event) and 697782 ("(Theo Tuổi trẻ)").
    "/vi/tin-tuc-su-kien": (None, 1, 2, 148, 143),
    # No date label, 10 per page; root and /vi/ list the same articles under two paths.
    "/cong-nghe-thong-tin": (None, 1, 2),
    "/vi/cong-nghe-thong-tin": (None, 1, 2),
    # No date label, 20 per page, attachments.
    "/vi/buu-chinh-vien-thong": (None, 1),
    "/vi/thanh-tra": (None, 1, 2),
    # The whole section: 4 pages, 6 articles with attachments.
    "/vi/thong-tin-dt": (None, 1, 2, 3),
    # Single-page sections whose items link `/<section>/...` while the saved copy is under
    # `/en/<section>/...`: only served through the by-id lookup.
    "/cai-cach-hanh-chinh": (None,),
    "/pctn": (None,),
    "/luatthudo": (None,),
    "/chuyen-doi-ipv6": (None,),
    "/chi-dao-dieu-hanh": (None,),
    "/phong-chong-dich-benh-covid-19": (None,),
}

# Article id -> why it is included although no chosen listing page links it.
EXTRA_ARTICLES: dict[str, str] = {
    "690654": "byline '(Theo HNP)' as the last body line; listed on /vi/tin-tuc-su-kien p110",
    "2054357": "no date block at all; ends with 'Chi tiết xem file đính kèm ./.' and a document",
}

# Article id -> the quirk it carries; checked to be in the cut and listed in the README.
NOTABLE_ARTICLES: dict[str, str] = {
    "4385956": "CMS date 01/12/2011 for a 2021 event, on the listing and the page alike",
    "697782": "byline with a source, `Đ.THIỆN - M.QUANG - V.TR (Theo Tuổi trẻ)`",
    "690654": "byline `(Theo HNP)` as the last body line (not reachable by a crawl)",
    "2054357": "no date block at all, attachment after `Chi tiết xem file đính kèm ./.`",
    "704793": "`Publish date` label; linked as /luatthudo/..., saved as /en/luatthudo/...",
    "4424088": "last body line `Theo https://mic.gov.vn/`",
}

ROBOTS_TXT = """\
# robots.txt of the govarchive demo replica. Not the portal's own (HTTrack saved none): it only
# exists so that a crawl of the demo exercises robots.txt handling. /c/ is Liferay's portal
# servlet and /dang-nhap the login page; neither is a news page.
User-agent: *
Disallow: /c/
Disallow: /dang-nhap
"""

_CUR = re.compile(r"[?&]_101_cur=(\d+)")


def _listing_key(url: str) -> tuple[str, int | None]:
    match = _CUR.search(url)
    return url.split("?", 1)[0], int(match.group(1)) if match else None


def _provenance(source_readme: str) -> str:
    """The "Provenance and status of the content" section of the source README, verbatim."""
    match = re.search(r"^## Provenance.*?(?=^## )", source_readme, re.S | re.M)
    if not match:
        raise SystemExit("source README.md has no '## Provenance' section")
    return match.group(0).strip()


def select(source: Path) -> tuple[list[dict], dict[str, str]]:
    """The pages.tsv rows to keep (in source order) and, per kept article, why it is kept."""
    site = ReplicaSite(source)
    with (source / "pages.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    wanted = {(path, cur) for path, curs in LISTINGS.items() for cur in curs}
    listings = [r for r in rows if r["kind"] == "listing" and _listing_key(r["url"]) in wanted]
    found = {_listing_key(r["url"]) for r in listings}
    if wanted - found:
        raise SystemExit(f"listing pages not in the source replica: {sorted(wanted - found)}")
    reasons: dict[str, str] = {}
    for row in listings:
        text = (source / row["file"]).read_text(encoding="utf-8-sig", errors="replace")
        for link in links_in(text, row["url"]):
            path = split_target(link)[0]
            if is_pager_link(link) or POPUP_MARKER in link or not ARTICLE_PATH.match(path):
                continue
            page = site.resolve(link)
            if page is not None and page.kind == "article":
                reasons.setdefault(site.article_id(page.url) or "", "linked")
    for article_id, why in EXTRA_ARTICLES.items():
        if article_id not in site.articles:
            raise SystemExit(f"extra article {article_id} is not in the source replica")
        reasons.setdefault(article_id, why)
    keep_urls = {r["url"] for r in listings}
    keep_urls |= {site.articles[a].url for a in reasons}
    keep_urls.add("/")
    absent = [a for a in NOTABLE_ARTICLES if a not in reasons]
    if absent:
        raise SystemExit(f"notable articles not in the cut: {absent}")
    return [r for r in rows if r["url"] in keep_urls], reasons


def copy_pages(source: Path, out: Path, rows: list[dict]) -> None:
    """Copy the pages of ``rows`` (pages.tsv rows of ``source``) byte for byte into ``out``
    (created), with their own ``pages.tsv``."""
    out.mkdir(parents=True)
    for row in rows:
        target = out / row["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / row["file"], target)
    fields = ["url", "file", "kind", "category", "crawled", "content_type"]
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=fields, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE
    )
    writer.writeheader()
    writer.writerows({k: r[k] for k in fields} for r in rows)
    (out / "pages.tsv").write_text(buffer.getvalue(), encoding="utf-8")


def write_cut(source: Path, out: Path, fresh_name: str, build_cut, check: bool) -> int:
    """Build a cut with ``build_cut(source, fresh)`` in a temporary folder, then compare it with
    ``out`` (``check``) or replace ``out`` with it; the exit status of ``main``."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / fresh_name
        stats = build_cut(source.resolve(), fresh)
        if check:
            diffs = _same_tree(fresh, out) if out.exists() else [f"missing: {out}"]
            for line in diffs[:20]:
                print(line)
            print("up to date" if not diffs else f"{len(diffs)} differences")
            return 1 if diffs else 0
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(fresh, out)
    print(json.dumps(stats, ensure_ascii=False, indent=1))
    return 0


def build(source: Path, out: Path) -> dict:
    """Write the demo replica into ``out`` (which must not exist yet); return its statistics."""
    rows, reasons = select(source)
    copy_pages(source, out, rows)
    (out / "robots.txt").write_text(ROBOTS_TXT, encoding="utf-8")

    listing_urls = {r["url"] for r in rows if r["kind"] == "listing"}
    article_urls = {r["url"] for r in rows if r["kind"] == "article"}
    truth = []
    with (source / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["url"] in article_urls:
                record["listed_on"] = [u for u in record["listed_on"] if u in listing_urls]
                truth.append(record)
    (out / "ground_truth.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in truth), encoding="utf-8"
    )
    stats = _stats(out, rows, truth, reasons)
    readme = _readme(stats, _provenance((source / "README.md").read_text(encoding="utf-8")))
    (out / "README.md").write_text(readme, encoding="utf-8")
    return stats


def _stats(out: Path, rows: list[dict], truth: list[dict], reasons: dict[str, str]) -> dict:
    from crawler.profiles import load_profile

    start_paths = load_profile("sotttt").start_paths
    site = ReplicaSite(out)
    walk = site.walk_listings(start_paths)
    kinds = Counter(r["kind"] for r in rows)
    per_category: dict[str, Counter] = {}
    for row in rows:
        if row["kind"] in ("article", "listing"):
            per_category.setdefault(row["category"], Counter())[row["kind"]] += 1
    for record in truth:
        counter = per_category[record["category"]]
        block = record["date_block"] or ""
        if "Ngày đăng" in block:
            counter["ngay_dang"] += 1
        elif "Publish date" in block:
            counter["publish_date"] += 1
        else:
            counter["bare_date" if block else "no_date"] += 1
        counter["attachment"] += bool(record["has_attachment_link"])
        counter["no_listing"] += record["expected_iso"] is None
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "kinds": dict(kinds),
        "per_category": {k: dict(v) for k, v in sorted(per_category.items())},
        "bytes": size,
        "start_paths": list(start_paths),
        "start_paths_404": [p for p in start_paths if site.resolve(p) is None],
        "reachable_listings": len(walk.listings),
        "reachable_articles": len(walk.articles),
        "unserved_article_links": len(walk.unserved_links),
        "extra_articles": {a: r for a, r in reasons.items() if r != "linked"},
        "by_id_only": len(walk.by_id_only),
    }


def _readme(stats: dict, provenance: str) -> str:
    kinds = stats["kinds"]
    columns = ("article", "listing", "ngay_dang", "publish_date", "bare_date", "no_date")
    columns += ("attachment",)
    table = [
        "| category | articles | listing pages | `Ngày đăng` date | `Publish date` date "
        "| date without label | no date | with attachment link |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for category, c in stats["per_category"].items():
        table.append(f"| {category} | " + " | ".join(str(c.get(k, 0)) for k in columns) + " |")
    listing_lines = []
    for path, curs in LISTINGS.items():
        shown = ", ".join("bare" if c is None else f"p{c}" for c in curs)
        listing_lines.append(f"- `{path}`: {shown}")
    extras = "\n".join(f"- `{a}`: {why}" for a, why in EXTRA_ARTICLES.items())
    missing = ", ".join(f"`{p}`" for p in stats["start_paths_404"]) or "none"
    notable = "\n".join(f"- `{a}`: {why}" for a, why in NOTABLE_ARTICLES.items())
    return f"""# Demo replica: sotttt.hanoi.gov.vn (subset)

A small cut of the sotttt replica (`shared/replica/sotttt`, the DEV split), bundled with
govarchive as package data. It is what the tests crawl and what `govarchive demo` serves
(`crawler.replica.DEMO_REPLICA`, `python -m crawler.replica` with no argument). The layout and
the page bytes are those of the full replica: see its README for the file formats, the portal
structure and the serving rules; nothing here is edited except the trimmed index files.

Generated by `scripts/make_demo_replica.py` from the full replica; do not edit by hand, change
the script's tables and run it again (`--check` tells whether this folder is up to date).

{provenance}

## How it was cut

Whole listing pages of the sections below (bare = the section page itself, pN = `_101_cur=N`):

{chr(10).join(listing_lines)}

Every article linked from those listing pages that the full replica serves is included (by its
exact URL or, as the live portal answers, by its article id under another section's path).
Links to articles the full replica lacks, pager links to pages outside the cut and links into
other sections still 404. Extra articles, included for extractor test cases although no
listing page in the cut links them (served, but not reachable by a crawl):

{extras}

Also included: the homepage `/`, and a `robots.txt` written for the demo (the portal's own was
not saved) that disallows only `/c/` and `/dang-nhap`, so robots handling is exercised.
`pages.tsv` and `ground_truth.jsonl` list exactly the included pages; in `ground_truth.jsonl`
`listed_on` keeps only listing pages of the cut, while the listing fields (`listing_title`,
`expected_iso`, ...) stay as in the full replica.

Articles worth a look in tests (by article id):

{notable}

## Counts

| kind | pages |
|---|---:|
| home | {kinds.get("home", 0)} |
| listing | {kinds.get("listing", 0)} |
| article | {kinds.get("article", 0)} |

{chr(10).join(table)}

Size: {stats["bytes"] / 1e6:.1f} MB.

Walking the pager links from the start paths of `crawler/portals/sotttt.toml`
({len(stats["start_paths"])} paths; 404 here: {missing}) reaches:

- {stats["reachable_listings"]} listing pages,
- {stats["reachable_articles"]} articles, {stats["by_id_only"]} of which are linked only \
under another section's path (served through the by-id lookup),
- {stats["unserved_article_links"]} article links that 404.
"""


def _same_tree(a: Path, b: Path) -> list[str]:
    names_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    names_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    diffs = [f"only in {a}: {n}" for n in sorted(names_a - names_b)]
    diffs += [f"only in {b}: {n}" for n in sorted(names_b - names_a)]
    diffs += [
        f"differs: {n}"
        for n in sorted(names_a & names_b)
        if (a / n).read_bytes() != (b / n).read_bytes()
    ]
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=shared_replica(), help="full replica")
    parser.add_argument("--out", type=Path, default=DEMO_REPLICA, help="demo replica folder")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    if args.source is None or not (args.source / "pages.tsv").is_file():
        parser.error("the full replica was not found; pass --source shared/replica/sotttt")
    return write_cut(args.source, args.out, "sotttt", build, args.check)


if __name__ == "__main__":
    sys.exit(main())
