"""Crash safety: crawls killed with SIGKILL at random moments lose and duplicate nothing."""

import random
import signal
import sqlite3
import subprocess
import time

from archive.warc import read_capture

from .conftest import BIN, FAST, govarchive, warcio_check


def articles(data):
    with sqlite3.connect(data / "archive.db") as db:
        return db.execute(
            "select url, title, published_at, text from articles order by url"
        ).fetchall()


def test_ten_killed_crawls_then_one_normal_run_equal_one_clean_crawl(crawled, replica, tmp_path):
    data = tmp_path / "data"
    rng = random.Random(20261127)
    kills = []
    for _ in range(10):
        process = subprocess.Popen(
            [
                str(BIN / "govarchive"),
                "crawl",
                "sotttt",
                "--data",
                str(data),
                "--base-url",
                replica.url,
                *FAST,
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        delay = rng.uniform(0.3, 4.0)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills.append(round(delay, 2))

    final = govarchive("crawl", "sotttt", "--data", str(data), "--base-url", replica.url, *FAST)
    assert final.returncode in (0, 1), final.stderr[-3000:]

    assert articles(data) == articles(crawled.data)  # the same rows, so no duplicates either
    warcs = sorted((data / "warc").glob("*"))
    assert warcs and all(p.name.endswith(".warc.gz") for p in warcs)  # no `.open` left
    for path in warcs:
        check = warcio_check(path)
        assert check.returncode == 0, (path, check.stdout[-2000:])
    with sqlite3.connect(data / "archive.db") as db:
        pointers = db.execute(
            "select warc_filename, warc_offset, warc_record_id from articles "
            "union all select warc_filename, warc_offset, warc_record_id from fetches "
            "where warc_filename is not null"
        ).fetchall()
        statuses = [s for (s,) in db.execute("select status from crawls order by id")]
    for filename, offset, record_id in pointers:
        capture = read_capture(data, {"filename": filename, "offset": offset})
        assert capture.warc_headers.get_header("WARC-Record-ID") == record_id
    assert statuses[-1] in ("done", "done_with_errors")
    assert "running" not in statuses
    print(f"killed after {kills} s; crawl statuses {statuses}; {len(pointers)} pointers checked")
