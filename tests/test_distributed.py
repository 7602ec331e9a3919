"""Redis workers: real `govarchive crawl --redis` processes against a real redis-server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import BIN, FAST, govarchive
from tests.servers import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """Debian's redis-server on a free loopback port, nothing saved to disk."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def _worker(url: str, replica_url: str, data: Path, worker_id: str, *extra: str):
    return subprocess.Popen(
        [
            str(BIN / "govarchive"),
            "crawl",
            "sotttt",
            "--redis",
            url,
            "--data",
            str(data),
            "--base-url",
            replica_url,
            *FAST,
            "-s",
            f"GOVARCHIVE_WORKER_ID={worker_id}",
            "-s",
            "GOVARCHIVE_REDIS_WORKER_TIMEOUT=3",
            "-s",
            "GOVARCHIVE_REDIS_IDLE_SECONDS=1",
            *extra,
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _urls(data: Path) -> list[str]:
    with sqlite3.connect(data / "archive.db") as conn:
        return [url for (url,) in conn.execute("SELECT url FROM articles ORDER BY url")]


def _merged(crawled, tmp_path: Path, *workers: Path) -> Path:
    merged = tmp_path / "merged"
    result = govarchive("merge", *map(str, workers), "--into", str(merged))
    assert result.returncode == 0, result.stderr
    verify = govarchive("verify", "--data", str(merged))
    assert verify.returncode == 0, verify.stdout
    # Exactly the articles of a single-process crawl, none twice.
    assert _urls(merged) == _urls(crawled.data)
    with sqlite3.connect(merged / "archive.db") as conn:
        ids = conn.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone()
    assert ids[0] == ids[1]
    return merged


def test_two_workers_share_one_frontier_and_merge_into_one_archive(crawled, redis_url, tmp_path):
    url = f"{redis_url}/1"
    single_status = crawled.result.returncode
    workers = [_worker(url, crawled.replica_url, tmp_path / f"w{n}", f"w{n}") for n in (1, 2)]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == single_status, err
    archived = [len(_urls(tmp_path / f"w{n}")) for n in (1, 2)]
    assert all(archived), archived  # both did part of the work
    # WARC names carry the worker id: files of many machines never collide.
    for n in (1, 2):
        assert [p.name.split("-")[1] for p in (tmp_path / f"w{n}" / "warc").glob("*.warc.gz")] \
            == [f"w{n}"]  # fmt: skip
    _merged(crawled, tmp_path, tmp_path / "w1", tmp_path / "w2")
    # The run's frontier is gone; what is archived is known to every worker: a new worker with
    # an empty data directory walks incrementally and fetches no article again.
    client = redis.Redis.from_url(url)
    assert sorted(k.decode() for k in client.keys("*")) == [
        "govarchive:sotttt:archived",
        "govarchive:sotttt:complete_walk",
    ]
    late = _worker(url, crawled.replica_url, tmp_path / "w3", "w3")
    late.communicate(timeout=120)
    with sqlite3.connect(tmp_path / "w3" / "archive.db") as conn:
        mode, new = conn.execute("SELECT mode, articles_new FROM crawls").fetchone()
    assert (mode, new) == ("incremental", 0)


def test_a_killed_worker_loses_nothing(crawled, redis_url, tmp_path):
    url = f"{redis_url}/2"
    client = redis.Redis.from_url(url)
    # Slow enough to be killed mid-crawl: two requests at a time per worker.
    slow = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
    survivor = _worker(url, crawled.replica_url, tmp_path / "w1", "w1", *slow)
    victim = _worker(url, crawled.replica_url, tmp_path / "w2", "w2", *slow)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and client.hlen("govarchive:sotttt:inflight:w2") < 3:
        time.sleep(0.05)
    time.sleep(0.5)  # some rows committed, some claims outstanding
    claims = client.hlen("govarchive:sotttt:inflight:w2")
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    assert claims > 0
    _out, err = survivor.communicate(timeout=240)
    assert survivor.returncode == crawled.result.returncode, err
    assert "claimed requests requeued" in (tmp_path / "w1" / "logs" / "govarchive.log").read_text()
    _merged(crawled, tmp_path, tmp_path / "w1", tmp_path / "w2")
