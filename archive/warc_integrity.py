"""Whether a WARC file's own bytes are whole: every gzip member and every digest, recomputed.

A file is walked gzip member by gzip member: each member must decompress completely (its CRC
and size trailer verified by zlib, no truncation) and hold a WARC record whose
WARC-Block-Digest and WARC-Payload-Digest match digests recomputed from its bytes (what
``warcio check`` verifies; revisit records carry no payload, so only their block is checked).
A damaged member does not stop the walk: it resumes at the next gzip header.

The same reading serves archive.verify's pointer checks: one member, read at a row's offset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from warcio.archiveiterator import ArchiveIterator

__all__ = ["Problem", "check_warc_file"]

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
