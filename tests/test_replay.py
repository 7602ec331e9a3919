"""The exported WACZ in the tools the web-archiving world uses: the `wacz` validator and pywb.

Neither tool can share the crawler's virtual environment: pywb 2.10 pins redis 2.10.6 and pulls
in brotlipy, which shadows Google's `brotli` and breaks Scrapy's `br` decoding. So the tests
build a venv of their own with both tools, once, under ``$GOVARCHIVE_TEST_CACHE`` (default
``~/.cache/govarchive-test``); later runs reuse it. Creating it needs the package registry: without
one these tests fail and say so, they are not skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from archive.warc import read_record
from tests.conftest import Crawl, govarchive
from tests.servers import free_port

TOOLS = ("pywb==2.10.0", "wacz==0.6.0")
CACHE = Path(os.environ.get("GOVARCHIVE_TEST_CACHE", Path.home() / ".cache" / "govarchive-test"))
#: One venv per set of pins and Python version: changing either builds a fresh one.
TOOLS_VENV = CACHE / (
    "replay-tools-" + hashlib.sha1(f"{sys.version_info[:2]} {TOOLS}".encode()).hexdigest()[:10]
)


def _build_tools_venv(venv: Path) -> None:
    for command in (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(venv / "bin" / "pip"), "install", "--quiet", *TOOLS],
    ):
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(
                f"Could not create the venv for pywb and the wacz validator at {venv}:\n"
                f"$ {' '.join(command)}\n{(result.stdout + result.stderr)[-3000:]}\n"
                "These come from PyPI (pip install pywb==2.10.0 wacz==0.6.0); the tests need "
                "the package registry the first time, then reuse the venv.",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def tools() -> Path:
    """The bin/ directory of the venv holding `wayback`, `wb-manager` and `wacz`."""
    CACHE.mkdir(parents=True, exist_ok=True)
    done = TOOLS_VENV / ".govarchive-complete"
    with open(CACHE / f"{TOOLS_VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building the same venv
        if not done.exists():
            started = time.monotonic()
            _build_tools_venv(TOOLS_VENV)
            done.write_text(f"built in {time.monotonic() - started:.1f}s\n")
    return TOOLS_VENV / "bin"


@pytest.fixture(scope="session")
def exported(crawled: Crawl, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wacz") / "sotttt.wacz"
    result = govarchive("export-wacz", "--data", str(crawled.data), str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_the_wacz_validator_accepts_the_export(tools: Path, exported: Path, tmp_path: Path):
    result = subprocess.run(
        [str(tools / "wacz"), "validate", "-f", str(exported)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation succeeded, the passed WACZ is valid" in result.stdout

    # The validator really checks the digests: a page list changed after export is refused.
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(exported) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "pages/pages.jsonl":  # one digit changed, same size
                data = data.replace(b'"ts": "2', b'"ts": "1', 1)
            target.writestr(info, data)
    result = subprocess.run(
        [str(tools / "wacz"), "validate", "-f", str(tampered)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Validation failed, the passed WACZ is invalid" in result.stdout


@contextlib.contextmanager
def pywb_over(wacz: Path, root: Path, tools: Path) -> Iterator[str]:
    """pywb serving the WACZ's WARCs through the WACZ's own index, as collection `coll`.

    The collection is the WACZ unpacked as is (archive/ + indexes/index.cdxj): pywb does not
    re-index, so replay succeeding proves our CDXJ index, not pywb's. Yields the base URL.
    """
    collection = root / "collections" / "coll"
    with zipfile.ZipFile(wacz) as package:
        members = [n for n in package.namelist() if n.startswith(("archive/", "indexes/"))]
        package.extractall(collection, members)
    port = free_port()
    log = open(root / "pywb.log", "wb")
    server = subprocess.Popen(
        [str(tools / "wayback"), "--bind", "127.0.0.1", "--port", str(port)],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/coll/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"pywb did not start:\n{(root / 'pywb.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield f"{base}/coll"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _index(wacz: Path) -> list[tuple[str, dict]]:
    with zipfile.ZipFile(wacz) as package:
        lines = package.read("indexes/index.cdxj").decode("utf-8").splitlines()
    return [(line.split(" ", 2)[1], json.loads(line.split(" ", 2)[2])) for line in lines]


def _title_in(body: str, title: str) -> bool:
    def squash(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    return squash(title) in squash(html.unescape(body))


def test_pywb_replays_an_archived_article_with_its_original_title(
    tools: Path, exported: Path, crawled: Crawl, tmp_path: Path
):
    with zipfile.ZipFile(exported) as package:
        lines = package.read("pages/pages.jsonl").decode("utf-8").splitlines()
    page = json.loads(lines[1])
    timestamp = re.sub(r"\D", "", page["ts"])  # 2026-11-27T13:30:19Z → 20261127133019
    with sqlite3.connect(crawled.data / "archive.db") as db:
        (title,) = db.execute(
            "SELECT title FROM articles WHERE warc_record_id = ?", [f"<urn:uuid:{page['id']}>"]
        ).fetchone()

    # A URL captured as a revisit (same payload as an earlier capture: in one crawl, the
    # portal's identical "not found" pages) replays too: pywb follows the revisit record to
    # the response that holds the bytes.
    revisit_timestamp, revisit = next(
        (ts, entry) for ts, entry in _index(exported) if entry["mime"] == "warc/revisit"
    )
    pointer = {"filename": f"warc/{revisit['filename']}", "offset": int(revisit["offset"])}
    record = read_record(crawled.data, pointer)
    original_url = record.rec_headers.get_header("WARC-Refers-To-Target-URI")
    original_timestamp = re.sub(r"\D", "", record.rec_headers.get_header("WARC-Refers-To-Date"))

    with pywb_over(exported, tmp_path, tools) as coll:
        raw = httpx.get(f"{coll}/{timestamp}id_/{page['url']}", timeout=30)
        framed = httpx.get(f"{coll}/{timestamp}mp_/{page['url']}", timeout=30)
        revisited = httpx.get(f"{coll}/{revisit_timestamp}id_/{revisit['url']}", timeout=30)
        original = httpx.get(f"{coll}/{original_timestamp}id_/{original_url}", timeout=30)

    assert raw.status_code == 200, raw.text[:500]
    assert _title_in(raw.text, title)
    assert raw.headers["Memento-Datetime"]  # served from the archive, not the live web
    assert framed.status_code == 200 and _title_in(framed.text, title)
    assert revisited.status_code == int(revisit["status"]) == original.status_code
    assert original_url != revisit["url"]
    assert revisited.content == original.content and revisited.content
