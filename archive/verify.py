"""Prove an archive is intact: every row opens its own record, every WARC byte checks out.

A row is citable only if its WARC pointer still leads to the bytes it was extracted from. Two
independent checks, neither trusting the other:

* **Pointers, by offset.** For every ``articles`` and ``fetches`` row with a pointer: seek to
  ``warc_offset`` in ``warc_filename`` (no scan), decompress exactly one gzip member, and check
  that it holds one record of the expected type whose WARC-Record-ID is the row's, whose
  WARC-Target-URI is the URL the row was fetched at, whose length is ``warc_length``, and whose
  payload, hashed again from its bytes, has the row's payload digest.
* **Files, end to end.** Every WARC file is walked gzip member by gzip member: each member must
  decompress completely (its CRC and size trailer verified by zlib, no truncation) and hold a
  WARC record whose WARC-Block-Digest and WARC-Payload-Digest match digests recomputed from its
  bytes (what ``warcio check`` verifies; revisit records carry no payload, so only their block
  is checked). A damaged member does not stop the walk: it resumes at the next gzip header.
  ``.open`` files (being written, or left by a crash) are checked and also reported.

Nothing here imports the crawler; ``govarchive verify`` is a thin command over
:func:`verify_archive`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import sqlite3
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from archive.warc import OPEN_SUFFIX

__all__ = ["Problem", "VerifyReport", "check_warc_file", "verify_archive"]

_CHUNK = 1 << 16  # members are read from their offset on: most are a few KB
_SPOOL_IN_MEMORY = 16 << 20  # larger records spill to a temporary file
_GZIP_MAGIC = b"\x1f\x8b\x08"
_HTTP_HEADER_END = b"\r\n\r\n"
_MAX_HTTP_HEADER = 1 << 20
_HTTP_RECORD_TYPES = {"response", "request", "revisit"}


@dataclass(frozen=True)
class Problem:
    """One thing that does not check out. ``kind`` groups problems in the summary."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


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


class _MemberError(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# -- digests ----------------------------------------------------------------------------------


def _decode_digest(value: str) -> tuple[str, bytes] | None:
    """``"sha1:BASE32"`` (or hex) → (algorithm, raw digest); None when unreadable."""
    algorithm, sep, encoded = value.strip().partition(":")
    if not sep:
        return None
    algorithm = algorithm.lower().replace("-", "")
    try:
        size = hashlib.new(algorithm).digest_size
    except ValueError:
        return None
    encoded = encoded.strip()
    for decode in (
        lambda s: base64.b32decode(s.upper() + "=" * (-len(s) % 8)),
        bytes.fromhex,
        base64.b64decode,
    ):
        try:
            raw = decode(encoded)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == size:
            return algorithm, raw
    return None


class _Digests:
    """Hashes a record's block and payload as its bytes stream past, in the header's algorithm."""

    def __init__(self, block_header: str | None, payload_header: str | None, http: bool):
        self.block = _decode_digest(block_header) if block_header else None
        self.payload = _decode_digest(payload_header) if payload_header else None
        self.block_hash = hashlib.new(self.block[0]) if self.block else None
        self.payload_algorithm = self.payload[0] if self.payload else "sha1"
        self.payload_hash = hashlib.new(self.payload_algorithm)
        self.http = http
        self._head = b""
        self._in_payload = not http
        self.headers_unterminated = False

    def update(self, chunk: bytes) -> None:
        if self.block_hash:
            self.block_hash.update(chunk)
        if self._in_payload:
            self.payload_hash.update(chunk)
            return
        self._head += chunk
        end = self._head.find(_HTTP_HEADER_END)
        if end >= 0:
            self.payload_hash.update(self._head[end + len(_HTTP_HEADER_END) :])
            self._in_payload = True
            self._head = b""
        elif len(self._head) > _MAX_HTTP_HEADER:
            self._in_payload = True
            self.headers_unterminated = True
            self._head = b""

    def finish(self) -> None:
        if not self._in_payload:  # a block that is all headers (a revisit, a GET request)
            self.headers_unterminated = bool(self._head) and not self._head.endswith(
                _HTTP_HEADER_END[:2]
            )
            self._in_payload = True

    def block_ok(self) -> bool | None:
        return None if not self.block_hash else self.block_hash.digest() == self.block[1]

    def payload_digest(self) -> bytes:
        return self.payload_hash.digest()


@dataclass
class _Record:
    """The facts about one record that the checks compare."""

    rec_type: str | None
    record_id: str | None
    target_uri: str | None
    payload_header: str | None
    block_ok: bool | None
    payload_algorithm: str
    payload_digest: bytes  # recomputed from the record's payload bytes
    records_in_member: int = 1

    def payload_matches(self, value: str | None) -> bool:
        decoded = _decode_digest(value) if value else None
        return decoded is not None and decoded == (self.payload_algorithm, self.payload_digest)


def _read_record(stream: IO[bytes]) -> tuple[_Record | None, list[tuple[str, str]], int]:
    """Parse the records of one (uncompressed) member; returns the first, problems, count."""
    problems: list[tuple[str, str]] = []
    first: _Record | None = None
    count = 0
    iterator = ArchiveIterator(stream, no_record_parse=True)
    for record in iterator:
        count += 1
        headers = record.rec_headers
        rec_type = record.rec_type
        content_type = headers.get_header("Content-Type") or ""
        http = rec_type in _HTTP_RECORD_TYPES and content_type.startswith("application/http")
        digests = _Digests(
            headers.get_header("WARC-Block-Digest"),
            headers.get_header("WARC-Payload-Digest"),
            http,
        )
        while chunk := record.raw_stream.read(_CHUNK):
            digests.update(chunk)
        digests.finish()
        missing = getattr(record.raw_stream, "limit", 0)  # promised by Content-Length, absent
        if missing:
            length = headers.get_header("Content-Length")
            problems.append(
                ("truncated-record", f"record ends {missing} of its {length} bytes short")
            )
        described = _Record(
            rec_type=rec_type,
            record_id=headers.get_header("WARC-Record-ID"),
            target_uri=headers.get_header("WARC-Target-URI"),
            payload_header=headers.get_header("WARC-Payload-Digest"),
            block_ok=digests.block_ok(),
            payload_algorithm=digests.payload_algorithm,
            payload_digest=digests.payload_digest(),
        )
        label = f"{rec_type} {described.record_id}"
        if described.block_ok is False:
            problems.append(("block-digest", f"{label}: WARC-Block-Digest does not match"))
        if digests.headers_unterminated:
            problems.append(("http-headers", f"{label}: HTTP headers never end"))
        if (
            rec_type != "revisit"
            and described.payload_header
            and not described.payload_matches(described.payload_header)
        ):
            problems.append(("payload-digest", f"{label}: WARC-Payload-Digest does not match"))
        if first is None:
            first = described
    if first is not None:
        first.records_in_member = count
    return first, problems, count


# -- gzip members -----------------------------------------------------------------------------


def _inflate_member(fh: IO[bytes], start: int, sink: IO[bytes]) -> int:
    """Decompress the gzip member at ``start`` into ``sink``; returns its compressed length.

    zlib checks the member's CRC-32 and size trailer, so a flipped byte anywhere in the
    compressed data raises :class:`_MemberError`, as does a member cut short by the file's end.
    """
    fh.seek(start)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = 0
    try:
        while not inflater.eof:
            chunk = fh.read(_CHUNK)
            if not chunk:
                raise _MemberError(
                    "gzip-truncated",
                    f"gzip member is cut short: the file ends {fed} bytes into it",
                )
            fed += len(chunk)
            data = chunk
            while data and not inflater.eof:
                sink.write(inflater.decompress(data, _CHUNK))
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise _MemberError("gzip-corrupt", f"gzip member does not decompress ({exc})") from None
    return fed - len(inflater.unused_data)


def _spool() -> tempfile.SpooledTemporaryFile:
    return tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)


def _read_at(fh: IO[bytes], offset: int) -> tuple[_Record | None, list[tuple[str, str]], int]:
    """The record whose gzip member starts at ``offset``: (record, problems, member length)."""
    with _spool() as sink:
        length = _inflate_member(fh, offset, sink)
        sink.seek(0)
        record, problems, _count = _read_record(sink)
    return record, problems, length


def _next_magic(fh: IO[bytes], start: int) -> int | None:
    """Offset of the next gzip header at or after ``start``, to resume after a damaged member."""
    fh.seek(start)
    position = start
    carry = b""
    while chunk := fh.read(_CHUNK):
        data = carry + chunk
        found = data.find(_GZIP_MAGIC)
        if found >= 0:
            return position - len(carry) + found
        carry = data[-(len(_GZIP_MAGIC) - 1) :]
        position += len(chunk)
    return None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC[:2]


def check_warc_file(path: Path, name: str | None = None) -> tuple[int, list[Problem]]:
    """Walk one WARC file record by record; returns (records read, problems found)."""
    name = name or path.name
    problems: list[Problem] = []
    records = 0
    size = path.stat().st_size
    if not _is_gzip(path):  # an uncompressed WARC: one stream, no members to check
        with open(path, "rb") as fh:
            try:
                _first, found, records = _read_record(fh)
            except Exception as exc:
                found = [("unreadable", f"not a readable WARC file ({exc})")]
        problems.extend(Problem(kind, name, detail) for kind, detail in found)
        return records, problems

    with open(path, "rb") as fh:
        offset = 0
        while offset < size:
            where = f"{name} @ {offset}"
            try:
                record, found, length = _read_at(fh, offset)
            except _MemberError as exc:
                problems.append(Problem(exc.kind, where, exc.detail))
                if exc.kind == "gzip-truncated":
                    break  # the file ends inside this member: nothing follows it
                offset = _resync(fh, offset + 1, size, problems, name)
                continue
            except Exception as exc:  # a member that inflates but is no WARC record
                problems.append(Problem("unreadable", where, f"not a WARC record ({exc})"))
                offset = _resync(fh, offset + 1, size, problems, name)
                continue
            if record is None:
                problems.append(Problem("unreadable", where, "gzip member holds no WARC record"))
            else:
                records += record.records_in_member
                if record.records_in_member > 1:
                    problems.append(
                        Problem(
                            "member-layout",
                            where,
                            f"{record.records_in_member} records in one gzip member "
                            "(a pointer can only reach the first)",
                        )
                    )
            problems.extend(Problem(kind, where, detail) for kind, detail in found)
            offset += length
    return records, problems


def _resync(fh: IO[bytes], start: int, size: int, problems: list[Problem], name: str) -> int:
    """Find the next offset where a whole member decompresses; report unreadable bytes once."""
    candidate = _next_magic(fh, start)
    while candidate is not None:
        try:
            with _spool() as sink:
                _inflate_member(fh, candidate, sink)
            return candidate
        except _MemberError:
            candidate = _next_magic(fh, candidate + 1)
    problems.append(
        Problem("unreadable", f"{name} @ {start - 1}", "no intact gzip member after this point")
    )
    return size


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
