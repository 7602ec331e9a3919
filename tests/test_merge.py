"""govarchive merge: newest capture wins, older different ones kept as versions, pointers valid."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from archive.merge import MergeError, merge_archives
from tests.conftest import govarchive


def _copy(crawled, dest):
    shutil.copytree(crawled.data, dest, ignore=shutil.ignore_patterns("*.lock", "logs"))
    return dest


def test_newest_capture_wins_and_older_is_kept_as_a_version(crawled, tmp_path):
    old = _copy(crawled, tmp_path / "old")
    new = _copy(crawled, tmp_path / "new")
    with sqlite3.connect(new / "archive.db") as conn:
        url, text = conn.execute("SELECT url, text FROM articles ORDER BY url LIMIT 1").fetchone()
        conn.execute(
            "UPDATE articles SET text = ?, crawled_at = '2099-01-01T00:00:00+00:00' WHERE url = ?",
            [text + "\nA sentence the portal added later.", url],
        )
    merged = tmp_path / "merged"
    result = govarchive("merge", str(old), str(new), "--into", str(merged))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(merged / "archive.db") as conn:
        count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        row = conn.execute("SELECT text FROM articles WHERE url = ?", [url]).fetchone()[0]
        versions = conn.execute(
            "SELECT version, reason, text FROM article_versions WHERE article_url = ?"
            " ORDER BY version",
            [url],
        ).fetchall()
        crawls = conn.execute("SELECT count(*) FROM crawls").fetchone()[0]
    with sqlite3.connect(crawled.data / "archive.db") as conn:
        assert count == conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert row.endswith("added later.")
    assert [(v, r) for v, r, _ in versions] == [(1, "first"), (2, "edit")]
    assert versions[0][2] == text
    assert crawls == 1  # one crawl seen in two copies: recognised, copied once
    assert govarchive("verify", "--data", str(merged)).returncode == 0
    # Merging again adds nothing.
    report = merge_archives([old, new], merged)
    assert report.crawls == report.fetches == report.warc_files == 0
    assert report.articles["new"] == report.articles["updated"] == 0


def test_a_warc_name_with_other_bytes_stops_the_merge(crawled, tmp_path):
    first = _copy(crawled, tmp_path / "a")
    second = _copy(crawled, tmp_path / "b")
    warc = next((second / "warc").glob("*.warc.gz"))
    with open(warc, "ab") as fh:
        fh.write(b"\0")
    merged = tmp_path / "merged"
    with pytest.raises(MergeError, match="same GOVARCHIVE_WORKER_ID"):
        merge_archives([first, second], merged)
    assert not (merged / "archive.db").exists()
