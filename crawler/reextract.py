"""Rebuild article rows from the WARC files alone: no network, every core.

Extraction is a pure function of (bytes, url, profile), so the rows a newer extractor gives are
comparable with the ones the crawl wrote: rows that come out the same are left untouched, and a
changed extraction becomes a new version in ``article_versions`` instead of overwriting the old.

The main process scans the WARC files for article responses (cheap: gunzip and header parsing),
keeps the latest capture of each article, and hands chunks of record pointers to a pool of
worker processes, which open the files by offset, extract, and send rows back. At most
``2 × workers`` chunks are in flight, so memory stays flat however large the archive is.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from archive.store import Archive
from archive.warc import WarcPointer, iter_records, read_capture
from crawler.extract import extract_article, not_an_article
from crawler.extract.markers import ARTICLE, page_kind
from crawler.generic_extraction import generic_profile, generic_requested
from crawler.items import article_row
from crawler.profiles import Profile, load_profile

CHUNK_SIZE = 32
_FILE_STAMP = re.compile(r"^(?P<portal>.+)-(?P<stamp>\d{14})-\d{5}\.warc\.gz$")


@dataclass
class ReextractResult:
    files: int = 0
    records: int = 0
    articles: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"new": 0, "updated": 0,
                                                            "unchanged": 0})  # fmt: skip
    failures: list[str] = field(default_factory=list)


def warc_files(data_dir: Path, portal: str | None = None, since: datetime | None = None):
    """Closed WARC files of the archive, optionally of one portal and written since a date."""
    for path in sorted((data_dir / "warc").glob("*.warc.gz")):
        match = _FILE_STAMP.match(path.name)
        if not match:
            continue
        if portal and match["portal"] != portal:
            continue
        if since and datetime.strptime(match["stamp"], "%Y%m%d%H%M%S") < since:
            continue
        yield match["portal"], path


def article_captures(
    data_dir: Path, profiles: dict[str, Profile], files: list[tuple[str, Path]]
) -> dict[tuple[str, str], WarcPointer]:
    """The latest successful capture of every article in ``files``, keyed by (portal, id)."""
    latest: dict[tuple[str, str], WarcPointer] = {}
    for portal, path in files:
        profile = profiles[portal]
        relative = path.relative_to(data_dir).as_posix()
        for offset, record in iter_records(path, types=("response",)):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            article_id = profile.article_id(uri)
            if article_id is None or record.http_headers.get_statuscode() != "200":
                continue
            date = record.rec_headers.get_header("WARC-Date")
            key = (portal, article_id)
            if key in latest and (latest[key].date or "") > date:
                continue
            latest[key] = WarcPointer(
                filename=relative,
                offset=offset,
                length=0,
                record_id=record.rec_headers.get_header("WARC-Record-ID"),
                payload_digest=record.rec_headers.get_header("WARC-Payload-Digest"),
                target_uri=uri,
                date=date,
            )
    return latest


# -- worker side --------------------------------------------------------------------------------

_worker_profiles: dict[str, Profile] = {}


def _init_worker(profiles: dict[str, Profile]) -> None:
    _worker_profiles.update(profiles)


def extract_chunk(
    data_dir: Path, chunk: list[tuple[str, WarcPointer, str | None]]
) -> tuple[list[dict], list[str]]:
    """Extract the articles of a chunk of captures; runs in a worker process.

    Each capture comes with the listing date its row kept (the date printed beside the link
    the crawl followed), so re-extraction settles the date exactly as the crawl did. Pages
    the crawl did not archive as articles (placeholders, empty posts, and pages the template's
    markers say are not articles) are not archived now either.
    """
    rows, failures = [], []
    for portal, pointer, listing_date in chunk:
        try:
            capture = read_capture(data_dir, pointer)
            profile = _worker_profiles[portal]
            if page_kind(capture.payload, profile) not in (None, ARTICLE):
                continue
            article = extract_article(capture.payload, pointer.target_uri, profile, listing_date)
            if not_an_article(article, profile.require_content) is not None:
                continue
            rows.append(article_row(article, profile, replace(pointer, length=capture.length)))
        except Exception as exc:  # a bad record must not sink the other thousands
            failures.append(f"{pointer.filename}@{pointer.offset}: {type(exc).__name__}: {exc}")
    return rows, failures


# -- main side ----------------------------------------------------------------------------------


def _listing_dates(db_path: Path) -> dict[str, str]:
    """The listing date each archived row kept, by the URL it was fetched from and its own."""
    if not db_path.exists():
        return {}
    with Archive(db_path) as archive:
        return archive.listing_dates()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def reextract(
    data_dir: Path,
    *,
    portal: str | None = None,
    since: datetime | None = None,
    workers: int | None = None,
    batch_size: int = 500,
) -> ReextractResult:
    """Re-extract every archived article of ``data_dir`` (or of one portal / since a date)."""
    result = ReextractResult()
    files = list(warc_files(data_dir, portal, since))
    result.files = len(files)
    profiles = {name: load_profile(name) for name in sorted({p for p, _ in files})}
    if generic_requested():  # GOVARCHIVE_GENERIC_EXTRACTION=1: measure the generic path
        profiles = {name: generic_profile(profile) for name, profile in profiles.items()}
    workers = workers or os.cpu_count() or 1
    with ExitStack() as stack:
        pool = None
        if workers > 1 and profiles:
            # Spawned, not forked: a forked worker inherits the parent's end of the task pipe
            # and would wait on it forever if `reextract` were killed. Started before the scan
            # below, so the workers start and import the extractor while the main process
            # reads the WARC files, rather than after.
            spawn = multiprocessing.get_context("spawn")
            pool = stack.enter_context(ProcessPoolExecutor(
                workers, mp_context=spawn, initializer=_init_worker, initargs=(profiles,)
            ))  # fmt: skip
            for _ in range(workers):
                pool.submit(_warm_up, next(iter(profiles)))
        captures = article_captures(data_dir, profiles, files)
        result.records = len(captures)
        listing_dates = _listing_dates(data_dir / "archive.db")
        # Keep a file's records together, in offset order: each worker reads forward in a file.
        work = sorted(
            (
                (p, pointer, listing_dates.get(pointer.target_uri))
                for (p, _), pointer in captures.items()
            ),
            key=lambda item: (item[1].filename, item[1].offset),
        )
        archive = stack.enter_context(Archive(data_dir / "archive.db"))
        pending_rows: list[dict] = []

        def store(chunk_result: tuple[list[dict], list[str]]) -> None:
            rows, failures = chunk_result
            result.failures.extend(failures)
            pending_rows.extend(rows)
            if len(pending_rows) >= batch_size:
                flush()

        def flush() -> None:
            for key, value in archive.save_articles(pending_rows, reason="reextract").items():
                result.counts[key] += value
            result.articles += len(pending_rows)
            pending_rows.clear()

        if pool is None:
            _init_worker(profiles)
            for chunk in _chunks(work, CHUNK_SIZE):
                store(extract_chunk(data_dir, chunk))
        else:
            in_flight: set[Future] = set()
            for chunk in _chunks(work, CHUNK_SIZE):
                if len(in_flight) >= 2 * workers:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        store(future.result())
                in_flight.add(pool.submit(extract_chunk, data_dir, chunk))
            for future in in_flight:
                store(future.result())
        if pending_rows:
            flush()
    return result


def _warm_up(portal: str) -> None:
    """Import what extracting ``portal``'s pages needs (trafilatura, on the generic path)."""
    page = b"<html><head><title>warm-up</title></head><body><p>warm-up</p></body></html>"
    extract_article(page, "http://localhost/", _worker_profiles[portal])
