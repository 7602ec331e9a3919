"""`govarchive serve` is safe to point a browser at: loopback only, read-only, text escaped.

Archived pages are other people's HTML. An article whose text says ``<script>...`` (a portal
quoting code, or a hostile one) is stored as text; Datasette must show it as text. That is
checked where it matters, in a browser: headless Chromium (Debian's ``chromium`` package)
loads the article's pages and the test looks for what the script would have done.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from datasette.utils import tilde_encode

from archive.article_page import capture_path
from archive.store import Archive
from archive.warc import HttpExchange, WarcWriter
from tests.servers import free_port

from .conftest import BIN

PORTAL = "https://sotttt.hanoi.gov.vn"
#: What a script would do if it ran: change the title and mark the document.
RUN = "document.title='XSS-RAN';document.documentElement.setAttribute('data-xss','ran')"
HOSTILE_URL = f'{PORTAL}/tin/-/view_content/4242-x.html?"><script>{RUN}</script>'


def hostile_article() -> dict:
    """An article whose every text field carries markup that must stay text."""
    script = f"<script>{RUN}</script>"
    image = f'<img src="x" onerror="{RUN}">'
    return {
        "url": HOSTILE_URL,
        "portal": "sotttt",
        "article_id": "4242",
        "title": f"Hội nghị {script}",
        "text": f'Đoạn một {script}\nĐoạn hai {image}\n<svg onload="{RUN}"></svg>',
        "sapo": image,
        "author": f'"><script>{RUN}</script>',
        "category": f"</td>{script}",
        "published_at": "2024-04-05T06:16:00+07:00",
        "warc_record_id": "<urn:uuid:00000000-0000-0000-0000-000000000000>",
        "crawled_at": "2024-04-05T00:00:00+00:00",
    }


def snapshot(data: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file()
    }


#: An archived page whose own scripts would run if the capture route served it unsandboxed.
HOSTILE_PAGE = (
    f"<html><head><title>Hội nghị</title><script>{RUN}</script></head>"
    f'<body onload="{RUN}"><p>Hội nghị</p><img src="x" onerror="{RUN}"></body></html>'
).encode()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("served")
    with WarcWriter(data / "warc", "sotttt", data_dir=data) as writer:
        pointer = writer.write_exchange(
            HttpExchange(
                url=HOSTILE_URL, method="GET", request_headers=[], status=200, reason="OK",
                response_headers=[("Content-Type", "text/html; charset=utf-8")],
                body=HOSTILE_PAGE,
            )
        )  # fmt: skip
    article = {**hostile_article(), "warc_filename": pointer.filename,
               "warc_offset": pointer.offset, "warc_length": pointer.length}  # fmt: skip
    with Archive(data / "archive.db") as db:
        db.save_articles([article])
    return data


class Served:
    def __init__(self, data: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(BIN / "govarchive"), "serve", "--data", str(data), "--port", str(self.port),
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/-/versions.json", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("govarchive serve did not start")

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(archive):
    server = Served(archive)
    yield server
    server.stop()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (Linux /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


def test_serve_listens_on_loopback_only_by_default(served):
    # 0100007F is 127.0.0.1 (little-endian hex); 00000000 would be every interface.
    assert listening_addresses(served.port) == {"0100007F"}


def test_serve_opens_the_archive_immutable_and_never_writes_it(archive):
    before = snapshot(archive)
    server = Served(archive)
    try:
        [database] = json.loads(server.get("/-/databases.json"))
        assert database["is_mutable"] is False
        server.get("/archive/articles")
        server.get("/archive/articles?_search=hoi+nghi")
        server.get("/archive/articles/" + tilde_encode(HOSTILE_URL))
        server.get(capture_path("archive", HOSTILE_URL))
        server.get("/archive")
    finally:
        server.stop()
    assert snapshot(archive) == before  # not even a -wal or -shm file


# -- in a browser ------------------------------------------------------------------------------


def _find_chromium() -> str | None:
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((path for name in names if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (as .ci/run does)."""
    path = _find_chromium()
    if path is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(command, env=env, capture_output=True, timeout=1200)
        path = _find_chromium()
    if path is None:
        pytest.skip("Chromium is not installed and cannot be installed here (apt-get, root)")
    return path


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    """The DOM after the page loaded and its scripts (if any) ran, as Chromium serialises it."""
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=3000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def ran(dom: str) -> bool:
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    # The script sets the title to exactly this; a page may show the script's text in its title.
    return 'data-xss="ran"' in dom or bool(title and title.group(1).strip() == "XSS-RAN")


def test_the_archived_page_is_served_byte_exact_under_a_sandbox_policy(served):
    with urllib.request.urlopen(served.url + capture_path("archive", HOSTILE_URL)) as response:
        assert response.read() == HOSTILE_PAGE
        policy = response.headers["Content-Security-Policy"]
    assert policy.split(";")[0] == "sandbox" and "default-src 'none'" in policy


def test_the_capture_route_reads_only_records_rows_point_at(served):
    for path in (
        capture_path("archive", "https://example.org/not-archived"),
        "/-/govarchive/capture/archive?url=" + "../" * 5 + "etc/passwd",
        "/-/govarchive/capture/nosuchdb?url=x",
    ):
        with pytest.raises(urllib.error.HTTPError) as error:
            served.get(path)
        assert error.value.code == 404, path


def test_chromium_would_notice_a_script_that_ran(chromium, tmp_path):
    page = f"data:text/html,<title>before</title><p>x</p><script>{RUN}</script>"
    assert ran(dump_dom(chromium, page, tmp_path / "profile"))


@pytest.mark.parametrize("replay", [False, True], ids=["plain", "with-replay-links"])
def test_a_script_in_an_archived_article_never_runs_in_the_browser(
    chromium, archive, tmp_path, replay
):
    extra = ("--replay-url", "http://127.0.0.1:8080/coll/{timestamp}/{url}") if replay else ()
    server = Served(archive, *extra)
    try:
        pages = [
            "/archive/articles/" + tilde_encode(HOSTILE_URL),
            "/archive/articles",
            "/archive/articles?_search=hoi+nghi",
            "/archive/search_by_relevance?q=hoi+nghi",
            capture_path("archive", HOSTILE_URL),  # the archived page itself, sandboxed
        ]
        for number, path in enumerate(pages):
            dom = dump_dom(chromium, server.url + path, tmp_path / f"profile-{number}")
            shown = re.sub(r"</?mark>", "", dom)  # search results highlight the words
            assert "Hội nghị" in shown, path  # the page did show the article
            assert not ran(dom), path
            if "capture" not in path:  # the archived page is served as it was, defused
                assert "&lt;script&gt;" in shown, path  # shown as text, escaped
    finally:
        server.stop()
