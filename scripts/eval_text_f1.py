#!/usr/bin/env python
"""Body text F1 of the generic path, and of trafilatura alone, on government article pages.

The reference is each page's text as the portal's template extracts it (the profile path: the
template's own body selector, checked field by field against the replicas' ground truth by
scripts/eval_extraction.py and eval_crawl.py). Against it, on the same pages:

* ``generic``: ``extract_article`` with the portal's selectors removed (what a portal nobody
  profiled gets, crawler.generic_extraction);
* ``trafilatura``: ``trafilatura.bare_extraction(html, url=url, with_metadata=True).text``, the
  library alone with its defaults (what ``scripts/bench`` times).

Scores are bag-of-words precision, recall and F1 per page (words casefolded, as article
extraction benchmarks count them), averaged over the pages; pages where the template's selector
found no body are left out. Usage::

    python scripts/eval_text_f1.py [--replica DIR:PORTAL ...]

Prints one JSON line per replica and one for all pages.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extract import extract_article  # noqa: E402
from crawler.extract.article import FELL_BACK_TO_GENERIC  # noqa: E402
from crawler.generic_extraction import generic_profile  # noqa: E402
from crawler.profiles import load_profile  # noqa: E402

SHARED = ROOT.parent / "shared" / "replica"
DEFAULT_REPLICAS = [f"{SHARED / 'sotttt'}:sotttt", f"{SHARED / 'sldtbxh-daknong'}:sldtbxh-daknong"]
_WORD = re.compile(r"\w+")


def words(text: str | None) -> Counter:
    return Counter(word.casefold() for word in _WORD.findall(text or ""))


def scores(candidate: str | None, reference: str) -> tuple[float, float, float]:
    """Bag-of-words precision, recall and F1 of ``candidate`` against ``reference``."""
    got, want = words(candidate), words(reference)
    common = sum((got & want).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def article_pages(replica: Path) -> list[tuple[str, Path]]:
    """(path on the portal, file) of every article page of a replica, from its pages.tsv."""
    pages = []
    for line in (replica / "pages.tsv").read_text("utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) > 2 and fields[2] == "article":
            pages.append((fields[0], replica / fields[1]))
    return pages


def evaluate(replica: Path, portal: str) -> dict:
    import trafilatura

    profile = load_profile(portal)
    generic = generic_profile(profile)
    base = profile.base_url.rstrip("/")
    totals = {"generic": [0.0, 0.0, 0.0], "trafilatura": [0.0, 0.0, 0.0]}
    counted = 0
    for path, file in article_pages(replica):
        body, url = file.read_bytes(), base + path
        reference = extract_article(body, url, profile)
        if not reference.text or FELL_BACK_TO_GENERIC in (reference.extractor or ""):
            continue
        counted += 1
        document = trafilatura.bare_extraction(body, url=url, with_metadata=True)
        candidates = {
            "generic": extract_article(body, url, generic).text,
            "trafilatura": getattr(document, "text", None),
        }
        for name, text in candidates.items():
            for index, value in enumerate(scores(text, reference.text)):
                totals[name][index] += value
    result: dict = {"replica": replica.name, "pages": counted}
    for name, (precision, recall, f1) in totals.items():
        result[name] = {
            "precision": round(precision / counted, 4) if counted else 0.0,
            "recall": round(recall / counted, 4) if counted else 0.0,
            "f1": round(f1 / counted, 4) if counted else 0.0,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--replica",
        action="append",
        metavar="DIR:PORTAL",
        help="a replica folder and its portal (default: both shared replicas)",
    )
    args = parser.parse_args(argv)
    results = []
    for spec in args.replica or DEFAULT_REPLICAS:
        folder, _, portal = spec.rpartition(":")
        if not Path(folder).is_dir():
            print(f"{folder}: no such replica", file=sys.stderr)
            return 2
        results.append(evaluate(Path(folder), portal))
        print(json.dumps(results[-1], ensure_ascii=False))
    pages = sum(r["pages"] for r in results)
    overall: dict = {"replica": "all", "pages": pages}
    for name in ("generic", "trafilatura"):
        overall[name] = {
            key: round(sum(r[name][key] * r["pages"] for r in results) / pages, 4) if pages else 0
            for key in ("precision", "recall", "f1")
        }
    print(json.dumps(overall, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
