"""Extraction off the reactor thread: same rows inline or in the pool, bounded pages in flight."""

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.store import _CONTENT_FIELDS
from crawler.extraction_pool import ExtractionPool, generic_profile
from crawler.profiles import Selectors, load_profile

from .conftest import BIN, FAST, govarchive

#: Everything an article row says about the page. Left out, because they legitimately differ
#: between two crawls: crawled_at (the WARC-Date), the WARC pointer and crawl_id.
CONTENT = ("url", *_CONTENT_FIELDS, "extractor")


def content(data):
    with sqlite3.connect(data / "archive.db") as db:
        articles = db.execute(f"select {', '.join(CONTENT)} from articles order by url").fetchall()
        images = db.execute(
            "select article_url, position, url, caption, alt from images order by 1, 2"
        ).fetchall()
        attachments = db.execute(
            "select article_url, position, url, title from attachments order by 1, 2"
        ).fetchall()
    return articles, images, attachments


def test_rows_are_identical_inline_and_in_the_pool(replica, tmp_path):
    runs = {}
    for workers in ("0", "2"):
        data = tmp_path / f"workers{workers}"
        result = govarchive(
            "crawl", "sotttt", "--data", str(data), "--base-url", replica.url, *FAST,
            "-s", f"GOVARCHIVE_EXTRACT_WORKERS={workers}", "-s", "GOVARCHIVE_EXTRACT_QUEUE=3",
        )  # fmt: skip
        assert result.returncode in (0, 1), result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        runs[workers] = content(data)
    inline, pooled = runs["0"], runs["2"]
    assert len(inline[0]) >= 150
    assert inline[0] == pooled[0]
    assert inline[1] == pooled[1] and inline[2] == pooled[2]
    assert inline[1] and inline[2], "the demo replica has images and attachments"


# The pool driven the way the spider drives it (awaited on Scrapy's asyncio reactor), in a
# process of its own so that this test process keeps no reactor installed.
_DRIVER = """
import asyncio, json, os, signal, sys
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from twisted.internet import defer, reactor
from crawler.extract import extract_article
from crawler.extraction_pool import ExtractionPool
from crawler.profiles import load_profile
from crawler.replica import DEMO_REPLICA

class Stats(dict):
    def inc_value(self, key): self[key] = self.get(key, 0) + 1
    def max_value(self, key, value): self[key] = max(self.get(key, 0), value)

profile = load_profile("sotttt")
pages = sorted((DEMO_REPLICA / "pages").rglob("*.html"))[:40]
stats = Stats()
pool = ExtractionPool(profile, workers=2, max_in_flight=3, stats=stats, inline_first=0)
pool.start()

async def main():
    while not pool.ready():
        await asyncio.sleep(0.05)
    if "--kill-a-worker" in sys.argv:
        await pool.extract(pages[0].read_bytes(), "https://sotttt.hanoi.gov.vn/x")
        os.kill(next(iter(pool._executor._processes)), signal.SIGKILL)
    results = await asyncio.gather(
        *(pool.extract(p.read_bytes(), "https://sotttt.hanoi.gov.vn/x") for p in pages)
    )
    same = all(
        r == extract_article(p.read_bytes(), "https://sotttt.hanoi.gov.vn/x", profile)
        for r, p in zip(results, pages)
    )
    pool.close()
    return {"pages": len(results), "same": same, **stats}

def done(result):
    print(json.dumps(result))
    reactor.stop()

deferred = defer.Deferred.fromFuture(asyncio.ensure_future(main()))
deferred.addCallbacks(done, lambda f: (f.printTraceback(), reactor.stop()))
reactor.run()
"""


def test_the_pool_bounds_pages_in_flight_and_returns_the_inline_result():
    result = subprocess.run(
        [sys.executable, "-c", _DRIVER], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pages"] == 40 and report["same"]
    assert report["govarchive/extract_in_flight_max"] == 3  # never more, and the pool filled up
    assert report["govarchive/extract_waits"] > 0  # the other pages waited for a slot


def test_a_dead_worker_costs_no_page():
    result = subprocess.run(
        [sys.executable, "-c", _DRIVER, "--kill-a-worker"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["pages"] == 40 and report["same"]
    assert report["govarchive/extract_pool_restarts"] == 1


def test_workers_zero_extracts_inline_without_processes():
    pool = ExtractionPool(load_profile("sotttt"), workers=0)
    pool.start()
    assert pool.inline and pool._executor is None


@pytest.mark.parametrize("setting", ["1", "true"])
def test_generic_extraction_ignores_the_profile_selectors(setting, monkeypatch):
    from crawler.extraction_pool import generic_requested

    profile = load_profile("sotttt")
    generic = generic_profile(profile)
    assert generic.selectors == Selectors() and generic.start_paths == profile.start_paths
    assert generic.config_hash.endswith("+generic")
    assert generic_requested(setting)
    monkeypatch.delenv("GOVARCHIVE_GENERIC_EXTRACTION", raising=False)
    assert not generic_requested(None) and not generic_requested(False)
    monkeypatch.setenv("GOVARCHIVE_GENERIC_EXTRACTION", setting)
    assert generic_requested(None)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_end_when_the_crawl_is_killed(replica, tmp_path):
    crawl = subprocess.Popen(
        [str(BIN / "govarchive"), "crawl", "sotttt", "--data", str(tmp_path), "--base-url",
         replica.url, *FAST, "-s", "GOVARCHIVE_EXTRACT_WORKERS=2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and crawl.poll() is None:
            time.sleep(0.05)
            workers = [
                pid
                for pid in _children(crawl.pid)
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]
        assert len(workers) == 2, "the crawl started its extraction workers"
    finally:
        crawl.kill()
        crawl.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, workers)), "workers outlived the killed crawl"


def test_a_worker_whose_crawl_is_already_gone_exits_at_once():
    # The crawl died while the worker was starting: its parent is already someone else.
    watchdog = "from crawler.extraction_pool import _exit_with_crawl; _exit_with_crawl(2**22 + 7)"
    result = subprocess.run([sys.executable, "-c", watchdog], timeout=30)
    assert result.returncode == 1
