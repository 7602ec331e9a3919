"""Export an archive as a WACZ 1.1.1 package, the web-archive equivalent of a data file.

A WACZ is a ZIP with a fixed layout that replay tools (ReplayWeb.page, pywb after unpacking)
open directly, fetching only the records they need:

    archive/NAME.warc.gz        the WARC files, byte for byte, ZIP-stored (never deflated), so
                                their CDXJ offsets stay valid inside the ZIP
    indexes/index.cdxj          the per-WARC CDXJ indexes (archive.cdxj) merged into one sorted file
    pages/pages.jsonl           one page per archived article: url, ts, title (the entry points)
    datapackage.json            every file above with its sha256 and size (Frictionless profile)
    datapackage-digest.json     the sha256 of datapackage.json, which thus seals the whole package

Written without the ``wacz`` package (it pulls in a data-validation framework we only need to
check our output): the tests run its validator on what we write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import INDEX_DIR, cdxj_path, index_lines, merge_cdxj
from archive.warc import OPEN_SUFFIX

__all__ = [
    "WACZ_VERSION",
    "WaczError",
    "WaczExport",
    "WarcFile",
    "describe_warc",
    "export_wacz",
    "select_warcs",
]

WACZ_VERSION = "1.1.1"
WARC_DIR = "warc"

# PORTAL-YYYYMMDDhhmmss-NNNNN.warc.gz, as archive.warc.WarcWriter names its files.
_WARC_NAME = re.compile(r"^(?P<portal>.+)-(?P<stamp>\d{14})-(?P<serial>\d+)\.warc(?:\.gz)?$")
_CHUNK = 1 << 20


class WaczError(Exception):
    """Nothing to export, or an output that cannot be written; the message says which."""


@dataclass(frozen=True)
class WarcFile:
    """A closed WARC file of the data directory, with what the filters look at."""

    path: Path
    portal: str | None  # the warcinfo record's "portal" field, else the file name's prefix
    started: datetime | None  # the crawl start in the file name (UTC), else the warcinfo date


@dataclass
class WaczExport:
    """What went into a WACZ, for the command's summary and for tests."""

    path: Path
    warcs: list[str] = field(default_factory=list)
    index_lines: int = 0
    pages: int = 0
    bytes: int = 0
    skipped_open: list[str] = field(default_factory=list)
    rebuilt_indexes: list[str] = field(default_factory=list)


def _warcinfo(path: Path) -> tuple[str | None, str | None]:
    """(portal, WARC-Date) from the file's leading warcinfo record, when it has one."""
    try:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "warcinfo":
                    return None, None
                fields = record.content_stream().read().decode("utf-8", "replace")
                portal = None
                for line in fields.splitlines():
                    name, sep, value = line.partition(":")
                    if sep and name.strip().lower() == "portal":
                        portal = value.strip() or None
                return portal, record.rec_headers.get_header("WARC-Date")
    except Exception:  # an unreadable file is verify's business; here it just has no info
        return None, None
    return None, None


def describe_warc(path: Path) -> WarcFile:
    """Portal and start time of one WARC file, from its warcinfo record and its name."""
    portal, warc_date = _warcinfo(path)
    started = None
    match = _WARC_NAME.match(path.name)
    if match:
        portal = portal or match["portal"]
        started = datetime.strptime(match["stamp"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    elif warc_date:
        started = datetime.fromisoformat(warc_date.replace("Z", "+00:00"))
    return WarcFile(path, portal, started)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def select_warcs(
    data_dir: Path | str,
    *,
    portal: str | None = None,
    since: datetime | None = None,
) -> tuple[list[WarcFile], list[Path]]:
    """Closed WARC files of ``DATA/warc`` matching the filters, oldest first; and the ``.open``
    files left out (being written, or left by a crashed crawl: not safe to publish).

    ``since`` compares with the file's date (its crawl's start, UTC); a naive ``since`` is UTC.
    """
    directory = Path(data_dir) / WARC_DIR
    selected = []
    for path in sorted(directory.glob("*.warc.gz")) + sorted(directory.glob("*.warc")):
        warc = describe_warc(path)
        if portal is not None and warc.portal != portal:
            continue
        if since is not None and (warc.started is None or warc.started < _as_utc(since)):
            continue
        selected.append(warc)
    selected.sort(key=lambda w: (w.started or datetime.min.replace(tzinfo=UTC), w.path.name))
    open_files = sorted(directory.glob(f"*{OPEN_SUFFIX}"))
    return selected, open_files


def _timestamp_to_iso(timestamp: str) -> str:
    moment = datetime.strptime(timestamp[:14], "%Y%m%d%H%M%S")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pages(
    db_path: Path, captures: dict[tuple[str, int], tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    """One page per article whose WARC pointer is in the export, at the URL and time of the
    capture itself (from the index), so the page opens the very record the row came from."""
    if not db_path.is_file():
        return
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT url, title, warc_filename, warc_offset, warc_record_id FROM articles "
            "WHERE warc_filename IS NOT NULL AND warc_offset IS NOT NULL"
        ).fetchall()
    finally:
        conn.close()
    pages = []
    for url, title, filename, offset, record_id in rows:
        capture = captures.get((Path(filename).name, int(offset)))
        if capture is None:
            continue
        capture_url, timestamp = capture
        page: dict[str, Any] = {"url": capture_url, "ts": _timestamp_to_iso(timestamp)}
        if title:
            page["title"] = title
        if record_id:
            page["id"] = record_id.strip("<>").removeprefix("urn:uuid:")
        if capture_url != url:
            page["canonical_url"] = url
        pages.append(page)
    pages.sort(key=lambda page: (page["ts"], page["url"]))
    yield from pages


def _parse_line(line: str) -> tuple[str, dict[str, Any]]:
    key, timestamp, data = line.split(" ", 2)
    return timestamp, json.loads(data)


def _sha256_copy(source: IO[bytes], target: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        target.write(chunk)
        size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


def _resource_name(path: str) -> str:
    # Frictionless names are lower-case [-a-z0-9._/]; the path keeps the exact file name.
    return re.sub(r"[^-a-z0-9._/]", "-", os.path.basename(path).lower())


def _software() -> str:
    try:
        return f"govarchive {version('govarchive')}"
    except PackageNotFoundError:
        return "govarchive"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Package:
    """A ZIP being written, remembering each member's sha256 for datapackage.json."""

    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path, "w", allowZip64=True)
        self.resources: list[dict[str, Any]] = []

    def add_file(self, source: Path, arcname: str, *, compress: bool) -> None:
        info = zipfile.ZipInfo.from_file(source, arcname)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with open(source, "rb") as src, self.zip.open(info, "w") as dst:
            digest, size = _sha256_copy(src, dst)
        self.resources.append(
            {"name": _resource_name(arcname), "path": arcname, "hash": digest, "bytes": size}
        )

    def add_bytes(self, data: bytes, arcname: str) -> str:
        info = zipfile.ZipInfo(arcname, datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        return "sha256:" + hashlib.sha256(data).hexdigest()


def export_wacz(
    data_dir: Path | str,
    out: Path | str,
    *,
    portal: str | None = None,
    since: datetime | None = None,
    title: str | None = None,
) -> WaczExport:
    """Package the selected WARC files of ``data_dir`` (see :func:`select_warcs`) as ``out``.

    The package is written beside ``out`` under a temporary name and renamed when complete,
    so a half-written WACZ never carries the final name. Raises :class:`WaczError` when no
    WARC file matches the filters.
    """
    data_dir = Path(data_dir)
    out = Path(out)
    warcs, open_files = select_warcs(data_dir, portal=portal, since=since)
    if not warcs:
        filters = ", ".join(
            part
            for part in (
                f"portal {portal!r}" if portal else "",
                f"since {since.isoformat()}" if since else "",
            )
            if part
        )
        raise WaczError(
            f"{data_dir / WARC_DIR}: no closed WARC file to export"
            + (f" matching {filters}" if filters else "")
            + " (crawl first, or loosen --portal/--since)"
        )
    result = WaczExport(path=out, skipped_open=[p.name for p in open_files])

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="govarchive-wacz-", dir=out.parent) as tmp:
        work = Path(tmp)
        sources: list[Path | Iterable[str]] = []
        for warc in warcs:
            index = cdxj_path(warc.path, data_dir / INDEX_DIR)
            if index.is_file() and index.stat().st_mtime >= warc.path.stat().st_mtime:
                sources.append(index)
            else:  # crawled before indexes existed, or the index write failed: index now
                sources.append(index_lines(warc.path))
                result.rebuilt_indexes.append(warc.path.name)

        # One pass over the merged index: write it, and note where each response lives so
        # article rows can be turned into pages at the exact URL and time of their capture.
        captures: dict[tuple[str, int], tuple[str, str]] = {}
        index_file = work / "index.cdxj"
        with open(index_file, "w", encoding="utf-8", newline="\n") as fh:
            for line in merge_cdxj(sources):
                fh.write(line)
                result.index_lines += 1
                timestamp, data = _parse_line(line)
                if data.get("mime") != "warc/revisit" and "offset" in data:
                    captures[(data["filename"], int(data["offset"]))] = (data["url"], timestamp)

        pages_file = work / "pages.jsonl"
        with open(pages_file, "w", encoding="utf-8", newline="\n") as fh:
            header = {"format": "json-pages-1.0", "id": "pages", "title": "Archived articles"}
            fh.write(json.dumps(header, ensure_ascii=False) + "\n")
            for page in _pages(data_dir / "archive.db", captures):
                fh.write(json.dumps(page, ensure_ascii=False) + "\n")
                result.pages += 1

        partial = work / out.name
        package = _Package(partial)
        try:
            for warc in warcs:
                package.add_file(warc.path, f"archive/{warc.path.name}", compress=False)
                result.warcs.append(warc.path.name)
            package.add_file(index_file, "indexes/index.cdxj", compress=True)
            package.add_file(pages_file, "pages/pages.jsonl", compress=True)
            portals = sorted({w.portal for w in warcs if w.portal})
            datapackage = {
                "profile": "data-package",
                "wacz_version": WACZ_VERSION,
                "title": title or f"govarchive: {', '.join(portals) or 'archive'}",
                "description": (
                    "Government news pages archived by govarchive: the WARC files as captured, "
                    "their CDXJ index, and one page per archived article."
                ),
                "created": _now(),
                "software": _software(),
                "resources": package.resources,
            }
            data = json.dumps(datapackage, ensure_ascii=False, indent=2).encode("utf-8")
            digest = package.add_bytes(data, "datapackage.json")
            seal = {"path": "datapackage.json", "hash": digest}
            package.add_bytes(json.dumps(seal, indent=2).encode("utf-8"), "datapackage-digest.json")
        finally:
            package.zip.close()
        shutil.move(partial, out)
    result.bytes = out.stat().st_size
    return result
