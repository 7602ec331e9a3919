"""Merge archives: the data directories of many workers (or machines) into one archive.

Workers of one Redis frontier (``govarchive crawl PORTAL --redis``) each write their own data
directory. :func:`merge_archives` brings them together:

* **WARC files and CDXJ indexes** are hard-linked into ``DATA/warc`` and ``DATA/indexes`` (copied
  when the directories are on different file systems). Worker WARC names carry the worker id,
  so names never collide; a name that exists with other bytes stops the merge before any row
  is written. A missing index is rebuilt from its WARC.
* **Rows.** ``crawls`` are copied with new ids; ``fetches`` follow their crawl; ``articles`` are
  deduplicated by canonical URL (their primary key): captures are applied oldest first through
  :meth:`archive.store.Archive.save_articles`, so the newest capture wins and every earlier,
  different one is kept in ``article_versions`` (identical captures keep the first record, as
  a re-crawl does). Versions the sources had recorded themselves are carried over.
* Every pointer keeps its ``warc/NAME`` path relative to the data directory, so it is valid in
  the merged archive as it was in the worker's (``govarchive verify`` checks it).

Merging is idempotent: a source merged twice adds nothing the second time. Sources are locked
while they are read (a worker still crawling into one is refused), and what a killed worker left
is put right first (unfinished WARC closed at its last complete record, crawl marked
interrupted). No Scrapy here: this is archive code.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.cdxj import INDEX_DIR, cdxj_path, write_cdxj
from archive.lock import DataDirLock
from archive.store import ARTICLE_FIELDS, FETCH_FIELDS, Archive, ArchiveError, text_hash
from archive.warc import repair_open_files

__all__ = ["MergeError", "MergeReport", "merge_archives"]

_BATCH = 500


class MergeError(ArchiveError):
    """A merge that cannot go on (a WARC name collision, a source that is no archive)."""


@dataclass
class MergeReport:
    sources: int = 0
    warc_files: int = 0
    warc_files_present: int = 0
    crawls: int = 0
    fetches: int = 0
    captures: int = 0
    articles: dict[str, int] = field(default_factory=lambda: {"new": 0, "updated": 0,
                                                              "unchanged": 0})  # fmt: skip
    versions_carried: int = 0
    repaired: list[str] = field(default_factory=list)

    def summary(self) -> str:
        a = self.articles
        return (
            f"merged {self.sources} archives: {self.warc_files} WARC files linked "
            f"({self.warc_files_present} already there), {self.crawls} crawls, "
            f"{self.fetches} fetches, {self.captures} article captures: {a['new']} new, "
            f"{a['updated']} newer (older kept as versions), {a['unchanged']} identical; "
            f"{self.versions_carried} versions carried over"
        )


def merge_archives(sources: Iterable[Path | str], target: Path | str) -> MergeReport:
    """Merge the data directories ``sources`` into the data directory ``target``."""
    target = Path(target)
    sources = [Path(s) for s in sources]
    for source in sources:
        if not (source / "archive.db").is_file():
            raise MergeError(f"{source}: no archive.db here (not a govarchive data directory)")
        if source.resolve() == target.resolve():
            raise MergeError(f"{source}: is the target itself")
    target.mkdir(parents=True, exist_ok=True)
    report = MergeReport(sources=len(sources))
    with ExitStack() as stack:
        stack.enter_context(DataDirLock(target))
        for source in sources:
            stack.enter_context(DataDirLock(source))
            report.repaired += [str(p) for p in repair_open_files(source / "warc")]
            with Archive(source / "archive.db") as archive:
                archive.mark_interrupted()
        # Files first: no row may point at a record that is not in the target yet.
        planned: dict[Path, Path] = {}
        for source in sources:
            for src, dest in _plan_files(source, target):
                earlier = planned.setdefault(dest, src)
                if earlier is not src and not _same_file(earlier, src):
                    raise MergeError(_collision(dest, src))
        for dest, src in planned.items():
            if dest.exists():
                report.warc_files_present += dest.suffix != ".cdxj"
                continue
            _link_or_copy(src, dest)
            report.warc_files += dest.suffix != ".cdxj"
        _index_missing(target)
        with Archive(target / "archive.db") as merged:
            captures: list[dict[str, Any]] = []
            for source in sources:
                with Archive(source / "archive.db", readonly=True) as archive:
                    crawl_ids = _merge_crawls(archive, merged, report)
                    _merge_fetches(archive, merged, crawl_ids, report)
                    captures += _articles(archive, crawl_ids)
            _merge_articles(captures, merged, report)
            for source in sources:
                with Archive(source / "archive.db", readonly=True) as archive:
                    versions = list(archive.db.query("SELECT * FROM article_versions"))
                report.versions_carried += _carry_versions(versions, merged)
    return report


# -- files ----------------------------------------------------------------------------------


def _plan_files(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """(source file, target path) for every closed WARC file and its index; checks collisions."""
    plan = []
    for warc in sorted((source / "warc").glob("*.warc.gz")):
        dest = target / "warc" / warc.name
        if dest.exists() and not _same_file(warc, dest):
            raise MergeError(_collision(dest, warc))
        plan.append((warc, dest))
        index = cdxj_path(warc, source / INDEX_DIR)
        if index.is_file():
            plan.append((index, cdxj_path(dest, target / INDEX_DIR)))
    return plan


def _collision(dest: Path, warc: Path) -> str:
    return (
        f"{dest.name}: {warc} and another file of that name hold different bytes; WARC names "
        "carry the portal and the worker id, so two workers were given the same "
        "GOVARCHIVE_WORKER_ID"
    )


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(1 << 20)
            if chunk != fb.read(1 << 20):
                return False
            if not chunk:
                return True


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:  # another file system, or links not allowed: copy
        partial = dest.with_name(dest.name + ".partial")
        shutil.copy2(src, partial)
        partial.rename(dest)


def _index_missing(target: Path) -> None:
    for warc in sorted((target / "warc").glob("*.warc.gz")):
        if not cdxj_path(warc, target / INDEX_DIR).is_file():
            write_cdxj(warc, target / INDEX_DIR)


# -- rows -----------------------------------------------------------------------------------


def _merge_crawls(source: Archive, merged: Archive, report: MergeReport) -> dict[int, int]:
    """Copy the source's crawl rows; returns old id → id in the merged archive.

    A crawl already merged (same portal, start time, settings and versions) maps to its row and
    is marked with a negative id, so its fetches are not copied twice.
    """
    mapping: dict[int, int] = {}
    for crawl in source.db.query("SELECT * FROM crawls ORDER BY id"):
        old_id = crawl.pop("id")
        existing = merged.db.execute(
            "SELECT id FROM crawls WHERE portal = ? AND started_at = ? AND settings IS ?"
            " AND versions IS ?",
            [crawl["portal"], crawl["started_at"], crawl["settings"], crawl["versions"]],
        ).fetchone()
        if existing:
            mapping[old_id] = -existing[0]
            continue
        columns = ", ".join(crawl)
        placeholders = ", ".join(f":{name}" for name in crawl)
        with merged.db.atomic():
            cursor = merged.db.execute(
                f"INSERT INTO crawls ({columns}) VALUES ({placeholders})", crawl
            )
        mapping[old_id] = int(cursor.lastrowid or 0)
        report.crawls += 1
    return mapping


def _merge_fetches(
    source: Archive, merged: Archive, crawl_ids: dict[int, int], report: MergeReport
) -> None:
    batch: list[dict[str, Any]] = []
    columns = ", ".join(FETCH_FIELDS)
    for row in source.db.query(f"SELECT {columns} FROM fetches ORDER BY id"):
        new_id = crawl_ids.get(row["crawl_id"])
        if new_id is not None and new_id < 0:
            continue  # that crawl was merged before
        row["crawl_id"] = new_id
        batch.append(row)
        if len(batch) >= _BATCH:
            merged.add_fetches(batch)
            report.fetches += len(batch)
            batch = []
    merged.add_fetches(batch)
    report.fetches += len(batch)


def _articles(source: Archive, crawl_ids: dict[int, int]) -> list[dict[str, Any]]:
    """Every article row of a source with its images and attachments, crawl ids mapped."""
    images: dict[str, list[dict]] = {}
    for row in source.db.query("SELECT article_url, url, caption, alt FROM images"
                               " ORDER BY article_url, position"):  # fmt: skip
        images.setdefault(row.pop("article_url"), []).append(row)
    attachments: dict[str, list[dict]] = {}
    for row in source.db.query("SELECT article_url, url, title FROM attachments"
                               " ORDER BY article_url, position"):  # fmt: skip
        attachments.setdefault(row.pop("article_url"), []).append(row)
    rows = []
    for row in source.db.query(f"SELECT {', '.join(ARTICLE_FIELDS)} FROM articles"):
        if row["crawl_id"] is not None:
            row["crawl_id"] = abs(crawl_ids.get(row["crawl_id"], 0)) or None
        row["images"] = images.get(row["url"], [])
        row["attachments"] = attachments.get(row["url"], [])
        rows.append(row)
    return rows


def _merge_articles(captures: list[dict[str, Any]], merged: Archive, report: MergeReport) -> None:
    """Apply captures oldest first, so the newest wins and older differing ones become versions."""
    captures.sort(key=lambda row: (row["crawled_at"] or "", row["warc_filename"] or ""))
    # Captures no newer than what the archive already holds (merged before, or a late worker's)
    # do not replace the row: a different one is kept as a version, an identical one skipped.
    stored = {
        url: (crawled_at or "", title, text_hash(text))
        for url, crawled_at, title, text in merged.db.execute(
            "SELECT url, crawled_at, title, text FROM articles"
        )
    }
    older = [row for row in captures if row["url"] in stored
             and (row["crawled_at"] or "") <= stored[row["url"]][0]]  # fmt: skip
    captures = [row for row in captures if not (row["url"] in stored
                and (row["crawled_at"] or "") <= stored[row["url"]][0])]  # fmt: skip
    report.captures += len(older)
    report.articles["unchanged"] += len(older)
    report.versions_carried += _carry_versions(
        [
            _as_version(row)
            for row in older
            if (row["title"], text_hash(row["text"])) != stored[row["url"]][1:]
        ],
        merged,
    )
    newest: dict[str, dict[str, Any]] = {}
    for batch in _batches_of_distinct_urls(captures):
        removed = [{k: row.pop(k) for k in ("removed_at", "removed_reason")} for row in batch]
        counts = merged.save_articles(batch, reason="edit")
        for key, value in counts.items():
            report.articles[key] += value
        for row, state in zip(batch, removed, strict=True):
            newest[row["url"]] = state
        report.captures += len(batch)
    # A take-down seen by the newest capture's worker stays recorded.
    removals = [
        {"url": url, "reason": state["removed_reason"] or "removed", "seen_at": state["removed_at"]}
        for url, state in newest.items()
        if state["removed_at"]
    ]
    merged.mark_removed(removals)


def _as_version(row: dict[str, Any]) -> dict[str, Any]:
    """An ``article_versions`` row for a capture that is not the article's newest."""
    return {
        "article_url": row["url"],
        "version": 0,  # numbered by _carry_versions
        "observed_at": row["crawled_at"],
        "reason": "edit",
        "silent_edit": None,
        "title": row["title"],
        "published_at": row["published_at"],
        "text_hash": text_hash(row["text"]),
        "diff": None,
        "text": row["text"],
        "extractor": row["extractor"],
        "warc_filename": row["warc_filename"],
        "warc_offset": row["warc_offset"],
        "warc_record_id": row["warc_record_id"],
    }


def _batches_of_distinct_urls(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches in which no URL repeats: a repeat within one save would not be
    recorded as a version."""
    batch: list[dict[str, Any]] = []
    urls: set[str] = set()
    for row in rows:
        if row["url"] in urls or len(batch) >= _BATCH:
            yield batch
            batch, urls = [], set()
        batch.append(row)
        urls.add(row["url"])
    if batch:
        yield batch


def _carry_versions(versions: list[dict[str, Any]], merged: Archive) -> int:
    """Add a source's own versions that the merged archive does not hold yet (same article,
    same record, same text), numbered after the article's last version."""
    carried = 0
    versions.sort(key=lambda v: (v["article_url"], v["observed_at"] or "", v["version"]))
    with merged.db.atomic():
        for version in versions:
            version.pop("id", None)
            known = merged.db.execute(
                "SELECT 1 FROM article_versions WHERE article_url = ? AND warc_record_id IS ?"
                " AND text_hash IS ?",
                [version["article_url"], version["warc_record_id"], version["text_hash"]],
            ).fetchone()
            if known:
                continue
            exists = merged.db.execute(
                "SELECT 1 FROM articles WHERE url = ?", [version["article_url"]]
            ).fetchone()
            if not exists:
                continue
            last = merged.db.execute(
                "SELECT coalesce(max(version), 0) FROM article_versions WHERE article_url = ?",
                [version["article_url"]],
            ).fetchone()[0]
            version["version"] = last + 1
            columns = ", ".join(version)
            merged.db.execute(
                f"INSERT INTO article_versions ({columns}) VALUES "
                f"({', '.join(':' + name for name in version)})",
                version,
            )
            carried += 1
    return carried
