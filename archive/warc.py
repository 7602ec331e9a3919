"""WARC files: write every HTTP exchange, read a record back by its pointer.

Every row in the SQLite archive carries a :class:`WarcPointer` (file, offset, length, record id,
payload digest). The pointer is what makes a row citable: open the file, seek to the offset and
the record that was there when the row was written is the one the row was extracted from.

Files are gzip-per-record (each record its own gzip member), so a reader can seek straight to a
record's offset, and each file starts with a ``warcinfo`` record naming the software and the crawl.
A file being written carries an ``.open`` suffix; it is renamed when closed, so nothing mistakes
a half-written file for a complete one.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.diskfull import is_disk_full

OPEN_SUFFIX = ".open"
DEFAULT_MAX_FILE_SIZE = 1_000_000_000
IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True)
class WarcPointer:
    """Where one record lives: enough to open it again without scanning the file."""

    filename: str  # relative to the data directory, e.g. "warc/sotttt-20240405061600-00000.warc.gz"
    offset: int
    length: int
    record_id: str
    payload_digest: str | None = None
    target_uri: str | None = None
    date: str | None = None  # WARC-Date
    record_type: str = "response"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class HttpExchange:
    """One request/response pair as seen on the wire (as far as the HTTP client lets us see it)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes
    request_body: bytes = b""
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None
    fetched_at: datetime | None = None


def _warc_date(moment: datetime | None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sha1_digest(data: bytes) -> str:
    """The digest form WARC readers expect: ``sha1:`` + base32."""
    import base64

    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


class WarcWriter:
    """Appends request/response records to rotating gzip WARC files under one directory.

    Not thread-safe: one writer per crawl, fed from the reactor thread.
    """

    def __init__(
        self,
        directory: Path | str,
        prefix: str,
        *,
        data_dir: Path | str | None = None,
        warcinfo: dict[str, str] | None = None,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ):
        self.directory = Path(directory)
        self.data_dir = Path(data_dir) if data_dir else self.directory.parent
        self.prefix = prefix
        self.warcinfo = dict(warcinfo or {})
        self.max_file_size = max_file_size
        self.started = datetime.now(UTC)
        self.serial = 0
        self.files_written: list[Path] = []
        self._fh: io.FileIO | None = None
        self._writer: WARCWriter | None = None
        self._path: Path | None = None
        self._warcinfo_id: str | None = None

    # -- files -------------------------------------------------------------------------------

    def _next_path(self) -> Path:
        stamp = self.started.strftime("%Y%m%d%H%M%S")
        while True:
            path = self.directory / f"{self.prefix}-{stamp}-{self.serial:05d}.warc.gz"
            self.serial += 1
            if not path.exists() and not path.with_name(path.name + OPEN_SUFFIX).exists():
                return path

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._path = self._next_path()
        # Unbuffered: each exchange is appended with whole writes (see _append), so a failed
        # write can be cut off at once and the file always ends at a complete record.
        self._fh = open(self._path.with_name(self._path.name + OPEN_SUFFIX), "xb", buffering=0)
        self._writer = WARCWriter(io.BytesIO(), gzip=True, warc_version="1.1")
        info = {"software": "govarchive", "format": "WARC File Format 1.1", **self.warcinfo}
        record = self._writer.create_warcinfo_record(self._path.name, info)
        self._warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        try:
            self._append([record])
        except OSError:
            # Not even the warcinfo record fits: leave no file behind.
            self._fh.close()
            self._path.with_name(self._path.name + OPEN_SUFFIX).unlink(missing_ok=True)
            self._fh = self._writer = self._path = None
            raise

    def close(self) -> None:
        """Flush, fsync and drop the ``.open`` suffix of the current file, then index it."""
        if self._fh is None:
            return
        os.fsync(self._fh.fileno())
        self._fh.close()
        assert self._path is not None
        self._path.with_name(self._path.name + OPEN_SUFFIX).rename(self._path)
        self.files_written.append(self._path)
        closed = self._path
        self._fh = self._writer = self._path = None
        index_closed_file(closed, self.data_dir)

    def flush(self) -> None:
        """Nothing left to do: records reach the OS as they are written (kept for callers)."""

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- records -----------------------------------------------------------------------------

    def _append(self, records: list[ArcWarcRecord]) -> list[WarcPointer]:
        """Append records as one unit: all of them, or (on a write error) none.

        The records are serialised in memory first; if the file write fails (a full disk), the
        file is cut back to where it ended, so it never ends inside a record.
        """
        assert self._fh is not None and self._path is not None
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
        spans = []
        for record in records:
            start = buffer.tell()
            writer.write_record(record)
            spans.append((start, buffer.tell() - start))
        end = self._fh.seek(0, io.SEEK_END)
        view = memoryview(buffer.getbuffer())
        try:
            while view:
                written = self._fh.write(view)
                view = view[written or 0 :]
        except OSError:
            self._fh.truncate(end)
            self._fh.seek(end)
            raise
        filename = self._path.relative_to(self.data_dir).as_posix()
        pointers = []
        for record, (start, length) in zip(records, spans, strict=True):
            headers = record.rec_headers
            pointers.append(
                WarcPointer(
                    filename=filename,
                    offset=end + start,
                    length=length,
                    record_id=headers.get_header("WARC-Record-ID"),
                    payload_digest=headers.get_header("WARC-Payload-Digest"),
                    target_uri=headers.get_header("WARC-Target-URI"),
                    date=headers.get_header("WARC-Date"),
                    record_type=record.rec_type,
                )
            )
        return pointers

    def write_exchange(
        self,
        exchange: HttpExchange,
        target_uri: str | None = None,
        *,
        revisit_of: WarcPointer | None = None,
        revisit_profile: str = IDENTICAL_PAYLOAD,
    ) -> WarcPointer:
        """Write the response (or a revisit of ``revisit_of``) and then its request.

        Returns the pointer to the response or revisit record. A revisit keeps the new
        response's status line and headers but not its payload, which ``revisit_of`` holds.
        """
        if self._fh is not None and self._fh.seek(0, io.SEEK_END) >= self.max_file_size:
            self.close()
        if self._fh is None:
            self._open()
        assert self._writer is not None
        uri = target_uri or exchange.url
        common = {
            "WARC-Date": _warc_date(exchange.fetched_at),
            "WARC-Warcinfo-ID": self._warcinfo_id,
        }
        if exchange.ip_address:
            common["WARC-IP-Address"] = exchange.ip_address

        status_line = f"{exchange.status} {exchange.reason}".strip()
        response_headers = StatusAndHeaders(
            status_line, list(exchange.response_headers), protocol=exchange.protocol
        )
        if revisit_of is None:
            response = self._writer.create_warc_record(
                uri,
                "response",
                payload=io.BytesIO(exchange.body),
                length=len(exchange.body),
                http_headers=response_headers,
                warc_headers_dict=dict(common),
            )
        else:
            response = self._writer.create_revisit_record(
                uri,
                digest=revisit_of.payload_digest or sha1_digest(exchange.body),
                refers_to_uri=revisit_of.target_uri or uri,
                refers_to_date=revisit_of.date or common["WARC-Date"],
                http_headers=response_headers,
                warc_headers_dict={**common, "WARC-Refers-To": revisit_of.record_id},
            )
            response.rec_headers.replace_header("WARC-Profile", revisit_profile)
        self._writer.ensure_digest(response, block=True, payload=True)
        response_id = response.rec_headers.get_header("WARC-Record-ID")

        request_line = f"{exchange.method} {_request_target(uri)} {exchange.protocol}"
        request_headers = StatusAndHeaders(
            request_line, list(exchange.request_headers), is_http_request=True
        )
        request = self._writer.create_warc_record(
            uri,
            "request",
            payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=request_headers,
            warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
        )
        return self._append([response, request])[0]


def _request_target(uri: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


# -- repair -------------------------------------------------------------------------------


def complete_length(path: Path | str, start: int = 0) -> int:
    """Bytes of ``path`` up to the end of its last complete record (reading from ``start``,
    the offset of a record; ``start`` itself when no complete record follows it).

    A crawl killed mid-write leaves a partial gzip member (or a record cut inside) at the end
    of its ``.open`` file; everything before it is whole, because each record is flushed as
    soon as it is written. Each gzip member must end properly and hold exactly one record of
    the length its ``Content-Length`` declares.
    """
    good_end = position = start  # position: file offset where the current member starts
    with open(path, "rb") as fh:
        while True:
            fh.seek(position)
            member_end, record = _read_member(fh, position)
            if member_end is None or not _is_whole_record(record):
                return good_end
            good_end = position = member_end


def _read_member(fh, start: int) -> tuple[int | None, bytes]:
    """Decompress the gzip member at ``start``: (offset after it, its bytes), or (None, b"")."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = []
    consumed = 0
    while not decompressor.eof:
        chunk = fh.read(1 << 16)
        if not chunk:
            return None, b""
        try:
            out.append(decompressor.decompress(chunk))
        except zlib.error:
            return None, b""
        consumed += len(chunk)
    return start + consumed - len(decompressor.unused_data), b"".join(out)


def _is_whole_record(data: bytes) -> bool:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"WARC/"):
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            # The block plus the record's closing CRLF CRLF.
            return value.strip().isdigit() and len(rest) == int(value.strip()) + 4
    return False


def index_closed_file(path: Path, data_dir: Path) -> None:
    """Write the CDXJ index replay tools need (DATA/indexes/NAME.cdxj, see archive.cdxj).

    The index is derived from the WARC alone, so failing to write it must not fail a crawl:
    it is logged, and ``govarchive export-wacz`` rebuilds a missing index.
    """
    import logging

    from archive.cdxj import INDEX_DIR, write_cdxj

    try:
        write_cdxj(path, data_dir / INDEX_DIR)
    except Exception as exc:
        if is_disk_full(exc):
            logging.getLogger(__name__).warning("%s: no room for its CDXJ index", path)
        else:
            logging.getLogger(__name__).exception("%s: could not write its CDXJ index", path)


def repair_open_files(directory: Path | str) -> list[Path]:
    """Cut every ``.open`` WARC file back to its last complete record and close it.

    Returns the closed files. A file with no complete record is removed: it holds nothing a
    row could point at.
    """
    repaired = []
    for open_path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        length = complete_length(open_path)
        final = open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX))
        if length == 0:
            open_path.unlink()
            continue
        with open(open_path, "r+b") as fh:
            fh.truncate(length)
            os.fsync(fh.fileno())
        open_path.rename(final)
        index_closed_file(final, Path(directory).parent)
        repaired.append(final)
    return repaired


# -- reading ------------------------------------------------------------------------------


def _locate(data_dir: Path | str, pointer: WarcPointer | dict) -> tuple[Path, int]:
    """The file and offset a pointer names; a file still being written has its `.open` name."""
    if isinstance(pointer, dict):
        filename, offset = pointer["filename"], pointer["offset"]
    else:
        filename, offset = pointer.filename, pointer.offset
    path = Path(data_dir) / filename
    if not path.exists() and path.with_name(path.name + OPEN_SUFFIX).exists():
        path = path.with_name(path.name + OPEN_SUFFIX)
    return path, offset


def read_record(data_dir: Path | str, pointer: WarcPointer | dict) -> ArcWarcRecord:
    """Open the record a pointer names, reading only that record (no scan of the file).

    The returned record's stream must be consumed before the next call; use
    :func:`record_payload` for the decoded payload bytes.
    """
    path, offset = _locate(data_dir, pointer)
    fh = open(path, "rb")
    fh.seek(offset)
    for record in ArchiveIterator(fh):
        record._govarchive_fh = fh  # keep the file open as long as the record lives
        return record
    fh.close()
    raise ValueError(f"{path}: no WARC record at offset {offset}")


@dataclass
class Capture:
    """One record read back whole: its headers, decoded payload and size in the file."""

    warc_headers: StatusAndHeaders
    http_headers: StatusAndHeaders | None
    payload: bytes
    length: int


def read_capture(data_dir: Path | str, pointer: WarcPointer | dict) -> Capture:
    """Read the record at a pointer completely (payload decoded) and close the file."""
    path, offset = _locate(data_dir, pointer)
    with open(path, "rb") as fh:
        fh.seek(offset)
        iterator = ArchiveIterator(fh)
        for record in iterator:
            payload = record.content_stream().read()
            return Capture(
                record.rec_headers, record.http_headers, payload, iterator.get_record_length()
            )
    raise ValueError(f"{path}: no WARC record at offset {offset}")


def record_payload(record: ArcWarcRecord) -> bytes:
    """The HTTP payload with transfer and content encodings undone, as a browser would see it."""
    return record.content_stream().read()


def iter_records(path: Path | str, types: Iterable[str] | None = None):
    """Yield (offset, record) for every record of a WARC file, optionally filtered by type.

    The record can still be read when it is yielded: warcio's ``get_record_offset()`` would
    consume it, so the offset is taken from where the previous record ended (warcio updates
    ``offset`` when it finishes a record, before it parses the next).
    """
    wanted = set(types) if types else None
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            if wanted is None or record.rec_type in wanted:
                yield iterator.offset, record
