"""Shared fixtures: a replica portal on 127.0.0.1 and a real crawl of it through the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.replica import DEMO_REPLICA, serve_replica

BIN = Path(sys.executable).parent
#: Politeness off: the replica is ours and on loopback.
FAST = [
    "-s",
    "AUTOTHROTTLE_ENABLED=0",
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
]


def govarchive(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `govarchive` command, as a user would."""
    return subprocess.run(
        [str(BIN / "govarchive"), *args], capture_output=True, text=True, timeout=timeout
    )


#: warcio as its authors support brotli: with brotlipy, in a venv of its own. In the crawler's
#: venv Scrapy requires Google's brotli, with which warcio cannot decode `br` bodies
#: (webrecorder/warcio#73); brotlipy there would break Scrapy's own br decoding instead.
REFERENCE_WARCIO = (
    Path(os.environ.get("GOVARCHIVE_TEST_CACHE", Path.home() / ".cache" / "govarchive-test"))
    / "warcio-brotlipy"
)


def reference_warcio() -> Path:
    """The `warcio` command of the reference venv, created on first use (a few seconds)."""
    warcio = REFERENCE_WARCIO / "bin" / "warcio"
    if not warcio.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REFERENCE_WARCIO)], check=True)
        subprocess.run(
            [
                str(REFERENCE_WARCIO / "bin" / "pip"),
                "install",
                "--quiet",
                "warcio==1.8.1",
                "brotlipy",
            ],
            check=True,
        )
    return warcio


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    """warcio's own validator on one WARC file."""
    return subprocess.run(
        [str(reference_warcio()), "check", "-v", str(path)], capture_output=True, text=True
    )


@dataclass
class Crawl:
    data: Path
    result: subprocess.CompletedProcess
    replica_url: str


@pytest.fixture(scope="session")
def replica():
    with serve_replica(DEMO_REPLICA) as server:
        yield server


@pytest.fixture(scope="session")
def crawled(replica, tmp_path_factory) -> Crawl:
    """One full crawl of the demo replica, shared by the tests that only read its result."""
    data = tmp_path_factory.mktemp("crawl")
    result = govarchive("crawl", "sotttt", "--data", str(data), "--base-url", replica.url, *FAST)
    return Crawl(data, result, replica.url)
