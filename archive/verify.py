"""Prove an archive is intact: every row opens its own record, every WARC byte checks out.

A row is citable only if its WARC pointer still leads to the bytes it was extracted from. Two
independent checks, neither trusting the other:

* **Pointers, by offset.** For every ``articles`` and ``fetches`` row with a pointer: seek to
  ``warc_offset`` in ``warc_filename`` (no scan), decompress exactly one gzip member, and check
  that it holds one record of the expected type whose WARC-Record-ID is the row's, whose
  WARC-Target-URI is the URL the row was fetched at, whose length is ``warc_length``, and whose
  payload, hashed again from its bytes, has the row's payload digest.
* **Files, end to end.** Every WARC file is walked gzip member by gzip member, each member
  decompressed whole and each record's digests recomputed from its bytes (see
  archive.warc_integrity). ``.open`` files (being written, or left by a crash) are checked and
  also reported.

Nothing here imports the crawler; ``govarchive verify`` is a thin command over
:func:`verify_archive`, which checks the rows against the files and puts both checks into one
report.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from archive.warc import OPEN_SUFFIX
from archive.warc_integrity import (
    _GZIP_MAGIC,
    Problem,
    _MemberError,
    _read_at,
    _Record,
    check_warc_file,
)

__all__ = ["Problem", "VerifyReport", "check_warc_file", "verify_archive"]


@dataclass
class VerifyReport:
    """What was checked and what failed; ``ok`` is the command's exit status."""

    data_dir: Path
    files: int = 0
    records: int = 0
    article_rows: int = 0
    fetch_rows: int = 0
    open_files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_counts(self) -> Counter[str]:
        return Counter(problem.kind for problem in self.problems)

    def summary(self, limit: int = 10) -> str:
        """A few lines for a terminal: totals, problems by kind, then the first ``limit``."""
        lines = [
            f"Verified {self.data_dir}",
            f"  WARC files: {self.files} ({len(self.open_files)} still .open), "
            f"{self.records} records, every gzip member and digest recomputed",
            f"  rows:       {self.article_rows} articles, {self.fetch_rows} fetches, "
            "each opened by its WARC pointer",
        ]
        if self.ok:
            lines.append("  problems:   none")
            return "\n".join(lines)
        by_kind = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.problem_counts().items()))
        lines.append(f"  problems:   {len(self.problems)} ({by_kind})")
        lines.extend(f"    {problem}" for problem in self.problems[:limit])
        if len(self.problems) > limit:
            lines.append(f"    … and {len(self.problems) - limit} more")
        return "\n".join(lines)


# -- rows -------------------------------------------------------------------------------------


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}


def _id_in_uri(article_id: str, uri: str) -> bool:
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(article_id)}(?![0-9A-Za-z])", uri) is not None


class _Files:
    """Open WARC files by their pointer name, each once (rows are checked in file order)."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.handles: dict[str, IO[bytes] | None] = {}

    def get(self, filename: str) -> IO[bytes] | None:
        if filename not in self.handles:
            path = self.data_dir / filename
            if not path.exists() and path.with_name(path.name + OPEN_SUFFIX).exists():
                path = path.with_name(path.name + OPEN_SUFFIX)
            self.handles[filename] = open(path, "rb") if path.is_file() else None
        return self.handles[filename]

    def close(self) -> None:
        for handle in self.handles.values():
            if handle is not None:
                handle.close()


def _check_pointer(
    files: _Files, row: dict[str, Any], where: str, expect_types: set[str]
) -> tuple[_Record | None, list[Problem]]:
    problems: list[Problem] = []
    filename, offset = row["warc_filename"], row["warc_offset"]
    fh = files.get(filename)
    if fh is None:
        return None, [Problem("missing-file", where, f"{filename} does not exist")]
    try:
        record, _found, length = _read_at(fh, int(offset))
    except _MemberError as exc:
        fh.seek(int(offset))
        if fh.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC:  # a member starts here, but it is damaged
            return None, [Problem("damaged-record", where, f"{filename} @ {offset}: {exc}")]
        return None, [
            Problem("bad-offset", where, f"{filename} @ {offset}: no record starts here ({exc})")
        ]
    except Exception as exc:
        return None, [Problem("bad-offset", where, f"{filename} @ {offset}: {exc}")]
    if record is None:
        return None, [Problem("bad-offset", where, f"{filename} @ {offset}: no WARC record")]
    if record.record_id != row["warc_record_id"]:
        # Another record than the row's: its URI and digest would only repeat that.
        detail = f"{filename} @ {offset} is record {record.record_id}, not {row['warc_record_id']}"
        return None, [Problem("record-id", where, detail)]
    if record.rec_type not in expect_types:
        problems.append(
            Problem(
                "record-type",
                where,
                f"{filename} @ {offset} is a {record.rec_type} record, "
                f"expected {' or '.join(sorted(expect_types))}",
            )
        )
    if row.get("warc_length") is not None and int(row["warc_length"]) != length:
        problems.append(
            Problem(
                "length",
                where,
                f"{filename} @ {offset}: record is {length} bytes, the row says "
                f"{row['warc_length']}",
            )
        )
    return record, problems


def _check_articles(conn: sqlite3.Connection, files: _Files, report: VerifyReport) -> None:
    columns = _columns(conn, "articles")
    if not columns:
        return
    fetched = "fetched_url" if "fetched_url" in columns else "NULL"
    article_id = "article_id" if "article_id" in columns else "NULL"
    query = (
        f"SELECT url, {article_id} AS article_id, {fetched} AS fetched_url, warc_filename, "
        "warc_offset, warc_length, warc_record_id, warc_payload_digest FROM articles "
        "ORDER BY warc_filename, warc_offset"
    )
    conn.row_factory = sqlite3.Row
    for row in map(dict, conn.execute(query)):
        report.article_rows += 1
        where = f"articles {row['url']}"
        if row["warc_filename"] is None or row["warc_offset"] is None:
            report.problems.append(Problem("no-pointer", where, "row has no WARC pointer"))
            continue
        record, problems = _check_pointer(files, row, where, {"response"})
        report.problems.extend(problems)
        if record is None:
            continue
        target = record.target_uri or ""
        if row["fetched_url"]:
            same_uri = target == row["fetched_url"]
            expected = row["fetched_url"]
        elif row["article_id"]:  # older rows: the record may sit at another section's path
            same_uri = _id_in_uri(str(row["article_id"]), target)
            expected = f"a URL of article {row['article_id']}"
        else:
            same_uri = target == row["url"]
            expected = row["url"]
        if not same_uri:
            report.problems.append(
                Problem("target-uri", where, f"record is for {target}, expected {expected}")
            )
        _check_payload(report, where, record, row["warc_payload_digest"], recompute=True)


def _check_payload(
    report: VerifyReport, where: str, record: _Record, digest: str | None, *, recompute: bool
) -> None:
    if not digest:
        report.problems.append(Problem("payload-digest", where, "row has no payload digest"))
        return
    if record.payload_header != digest:
        report.problems.append(
            Problem(
                "payload-digest",
                where,
                f"record says {record.payload_header}, the row says {digest}",
            )
        )
    elif recompute and not record.payload_matches(digest):
        report.problems.append(
            Problem(
                "payload-digest",
                where,
                f"the record's payload bytes no longer hash to {digest}",
            )
        )


def _check_fetches(conn: sqlite3.Connection, files: _Files, report: VerifyReport) -> None:
    columns = _columns(conn, "fetches")
    if not columns:
        return
    record_type = "record_type" if "record_type" in columns else "NULL"
    payload = "payload_digest" if "payload_digest" in columns else "NULL"
    query = (
        f"SELECT id, url, {record_type} AS record_type, {payload} AS payload_digest, "
        "warc_filename, warc_offset, warc_length, warc_record_id FROM fetches "
        "WHERE warc_filename IS NOT NULL ORDER BY warc_filename, warc_offset"
    )
    conn.row_factory = sqlite3.Row
    for row in map(dict, conn.execute(query)):
        report.fetch_rows += 1
        where = f"fetches {row['id']} {row['url']}"
        expect = {row["record_type"]} if row["record_type"] else {"response", "revisit"}
        record, problems = _check_pointer(files, row, where, expect)
        report.problems.extend(problems)
        if record is None:
            continue
        if record.target_uri != row["url"]:
            report.problems.append(
                Problem("target-uri", where, f"record is for {record.target_uri}")
            )
        if row["payload_digest"]:
            # A revisit names the payload of the record it refers to; only a response's own
            # bytes can be hashed again.
            _check_payload(
                report,
                where,
                record,
                row["payload_digest"],
                recompute=record.rec_type != "revisit",
            )


def _warc_files(data_dir: Path) -> Iterator[Path]:
    directory = data_dir / "warc"
    patterns = ("*.warc.gz", "*.warc", f"*.warc.gz{OPEN_SUFFIX}", f"*.warc{OPEN_SUFFIX}")
    seen: set[Path] = set()
    for pattern in patterns:
        for path in sorted(directory.glob(pattern)):
            if path not in seen:
                seen.add(path)
                yield path


def verify_archive(data_dir: Path | str) -> VerifyReport:
    """Check every row's WARC pointer and every WARC file of a data directory.

    Pointers are checked first, by offset; then each file is walked whole. Returns a report;
    it never raises for damage it finds (that is what the report is for).
    """
    data_dir = Path(data_dir)
    report = VerifyReport(data_dir=data_dir)
    db_path = data_dir / "archive.db"
    if db_path.is_file():
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        files = _Files(data_dir)
        try:
            _check_articles(conn, files, report)
            _check_fetches(conn, files, report)
        finally:
            files.close()
            conn.close()
    else:
        report.problems.append(Problem("no-database", str(db_path), "no archive.db here"))

    for path in _warc_files(data_dir):
        name = path.relative_to(data_dir).as_posix()
        report.files += 1
        if path.name.endswith(OPEN_SUFFIX):
            report.open_files.append(name)
            report.problems.append(
                Problem(
                    "open-file",
                    name,
                    "still being written, or left by a crawl that did not finish "
                    "(verify again once no crawl runs)",
                )
            )
        records, problems = check_warc_file(path, name)
        report.records += records
        report.problems.extend(problems)
    return report
