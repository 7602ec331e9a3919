"""`govarchive verify`: every row opens its own record, and every WARC byte still checks out.

Each damaging test works on a copy of the shared crawl and breaks it the way disks, copies and
careless edits do: one flipped bit, a wrong offset in the database, a record rewritten with
valid gzip but other bytes, a file cut short, a file never closed.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest

from archive.verify import verify_archive
from tests.conftest import Crawl, govarchive


@pytest.fixture
def archive_copy(crawled: Crawl, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    return data


def article(data: Path, position: int = 0) -> dict:
    """One article row (by URL order), with its WARC pointer."""
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return dict(
            db.execute(
                "SELECT url, warc_filename, warc_offset, warc_length, warc_record_id, "
                "warc_payload_digest FROM articles ORDER BY url LIMIT 1 OFFSET ?",
                [position],
            ).fetchone()
        )


SET_OFFSET = "UPDATE articles SET warc_offset = ?, warc_length = NULL WHERE url = ?"


def update(data: Path, sql: str, *params) -> None:
    with sqlite3.connect(data / "archive.db") as db:
        db.execute(sql, params)


def test_a_clean_crawl_verifies_clean(crawled: Crawl):
    result = govarchive("verify", "--data", str(crawled.data))
    assert result.returncode == 0, result.stdout
    assert "problems:   none" in result.stdout

    report = verify_archive(crawled.data)
    with sqlite3.connect(crawled.data / "archive.db") as db:
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
        fetches = db.execute(
            "SELECT count(*) FROM fetches WHERE warc_filename IS NOT NULL"
        ).fetchone()[0]
    assert (report.article_rows, report.fetch_rows) == (articles, fetches)
    assert report.files == len(list((crawled.data / "warc").glob("*.warc.gz")))
    assert report.records > 2 * fetches  # warcinfo + a response/revisit and a request each
    assert f"{articles} articles, {fetches} fetches" in result.stdout


def test_a_flipped_byte_in_a_warc_file_is_caught(archive_copy: Path):
    row = article(archive_copy)
    path = archive_copy / row["warc_filename"]
    data = bytearray(path.read_bytes())
    data[row["warc_offset"] + row["warc_length"] // 2] ^= 0x01  # one bit, inside the record
    path.write_bytes(data)

    result = govarchive("verify", "--data", str(archive_copy))
    assert result.returncode == 1
    assert "gzip-corrupt: 1" in result.stdout

    problems = {(p.kind, p.where) for p in verify_archive(archive_copy).problems}
    where = f"{row['warc_filename']} @ {row['warc_offset']}"
    assert ("gzip-corrupt", where) in problems  # the file walk finds the damaged member
    assert ("damaged-record", f"articles {row['url']}") in problems  # and the row is named


def test_a_wrong_offset_in_the_database_is_caught(archive_copy: Path):
    shifted, swapped = article(archive_copy, 3), article(archive_copy, 4)
    # One byte off: no record starts there. The record right after: a real record, not its own.
    update(archive_copy, SET_OFFSET, shifted["warc_offset"] + 1, shifted["url"])
    update(
        archive_copy, SET_OFFSET, swapped["warc_offset"] + swapped["warc_length"], swapped["url"]
    )

    result = govarchive("verify", "--data", str(archive_copy))
    assert result.returncode == 1
    assert "bad-offset: 1" in result.stdout and "record-id: 1" in result.stdout

    problems = {p.where: p for p in verify_archive(archive_copy).problems}
    assert problems[f"articles {shifted['url']}"].kind == "bad-offset"
    assert problems[f"articles {swapped['url']}"].kind == "record-id"
    assert swapped["warc_record_id"] in problems[f"articles {swapped['url']}"].detail
    assert len(problems) == 2  # the files themselves are intact


def test_a_record_rewritten_with_other_bytes_fails_its_recomputed_digest(archive_copy: Path):
    """Headers can lie: the payload is hashed again, not just compared with WARC-Payload-Digest."""
    row = article(archive_copy)
    path = archive_copy / row["warc_filename"]
    with open(path, "rb") as fh:
        fh.seek(row["warc_offset"])
        member = fh.read(row["warc_length"])
    record = bytearray(gzip.decompress(member))
    # Same headers (id, URI, digests, length), one payload byte changed: the last one, just
    # before the two CRLFs that end a record. Re-compressed, it is a perfectly valid member;
    # appended to the file and pointed at by the row.
    record[-5] ^= 0x01
    altered = bytes(record)
    offset = path.stat().st_size
    with open(path, "ab") as fh:
        fh.write(gzip.compress(altered))
    update(archive_copy, SET_OFFSET, offset, row["url"])

    problems = verify_archive(archive_copy).problems
    mine = [p for p in problems if p.where == f"articles {row['url']}"]
    assert [p.kind for p in mine] == ["payload-digest"]
    assert "no longer hash" in mine[0].detail
    at_end = {p.kind for p in problems if p.where == f"{row['warc_filename']} @ {offset}"}
    assert at_end == {"block-digest", "payload-digest"}


def test_a_file_cut_short_is_caught(archive_copy: Path):
    [path] = sorted((archive_copy / "warc").glob("*.warc.gz"))[-1:]
    path.write_bytes(path.read_bytes()[:-100])
    report = verify_archive(archive_copy)
    assert not report.ok
    assert [p.kind for p in report.problems] == ["gzip-truncated"]
    assert "cut short" in report.problems[0].detail


def test_an_unclosed_file_is_reported(archive_copy: Path):
    [path] = sorted((archive_copy / "warc").glob("*.warc.gz"))[:1]
    path.rename(path.with_name(path.name + ".open"))
    result = govarchive("verify", "--data", str(archive_copy))
    assert result.returncode == 1
    assert "(1 still .open)" in result.stdout
    report = verify_archive(archive_copy)
    # Rows still open their records (readers fall back to the .open name); only the state
    # of the file is reported.
    assert [p.kind for p in report.problems] == ["open-file"]


def test_verify_needs_a_data_directory(tmp_path: Path):
    result = govarchive("verify", "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "no such data directory" in result.stderr
