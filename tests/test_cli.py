"""The `govarchive` commands, run as a user runs them."""

import json
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.servers import free_port

from .conftest import BIN, FAST, govarchive

REPO = Path(__file__).resolve().parent.parent
HIZA_PAGE = REPO / "tests" / "fixtures" / "hiza" / "hiza-article-2024-04-05.html"


def test_portals_lists_the_bundled_profiles():
    result = govarchive("portals")
    assert result.returncode == 0
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == ["hiza", "sldtbxh-daknong", "sotttt"]
    assert "https://sotttt.hanoi.gov.vn" in result.stdout


def test_extract_prints_the_hiza_article_as_json():
    result = govarchive("extract", str(HIZA_PAGE), "--portal", "hiza")
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["published_at"] == "2024-04-05T06:16:00+07:00"
    assert article["published_raw"] == "Ngày đăng 05/04/2024 | 6:16 AM"
    assert article["author"] == "Trần Minh"
    assert article["category"] == "Tin hoạt động"
    assert article["title"] == (
        "Ban Chấp hành Đảng bộ các khu công nghiệp công nghiệp và chế xuất Hà Nội "
        "tổ chức Hội nghị lần thứ 16"
    )
    assert article["text"].startswith("Ngày 04/4, Đảng ủy")
    assert article["text"].endswith("nhiệm kỳ 2025-2030.")
    for leftover in ("Trang chủ", "Ngày đăng", "Trần Minh"):
        assert leftover not in article["text"]


def test_extract_without_profile_uses_generic_extraction():
    result = govarchive("extract", str(HIZA_PAGE))
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert "Ngày 04/4, Đảng ủy" in article["text"]


def test_unknown_portal_exits_2_naming_the_file():
    result = govarchive("crawl", "nosuchportal", "--data", "/nonexistent/never-created")
    assert result.returncode == 2
    assert "nosuchportal.toml: portal: no such profile" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_scrapy_crawl_works_from_the_repository_root(replica, tmp_path):
    result = subprocess.run(
        [
            str(BIN / "scrapy"),
            "crawl",
            "portal",
            "-a",
            "portal=sotttt",
            "-a",
            f"base_url={replica.url}",
            "-a",
            "max_articles=3",
            "-s",
            f"GOVARCHIVE_DATA_DIR={tmp_path}",
            *FAST,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with sqlite3.connect(tmp_path / "archive.db") as db:
        # At most three article pages fetched (some links of the replica answer 404).
        assert 1 <= db.execute("select count(*) from articles").fetchone()[0] <= 3
        assert db.execute("select portal, mode from crawls").fetchall() == [("sotttt", "limited")]


def test_serve_opens_the_archive_in_datasette_and_search_folds_diacritics(crawled):
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "govarchive"), "serve", "--data", str(crawled.data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with urllib.request.urlopen(
            base + "/archive/articles.json?_search=hoi+nghi&_shape=array&_size=max"
        ) as response:
            found = json.load(response)
        with sqlite3.connect(crawled.data / "archive.db") as db:
            expected = {
                url
                for (url, title, text) in db.execute("select url, title, text from articles")
                if "hội nghị" in (title + " " + text).lower()
            }
        # FTS matches both words anywhere, so it finds at least every "Hội nghị" article.
        assert expected and expected <= {a["url"] for a in found}
        with urllib.request.urlopen(base + "/-/metadata.json") as response:
            metadata = json.load(response)
        assert metadata["databases"]["archive"]["tables"]["articles"]["fts_table"] == "articles_fts"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_crawls_the_bundled_replica(tmp_path):
    result = govarchive("demo", "--data", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "govarchive serve --data" in result.stdout
    assert " done in " in result.stdout and " 0 errors, " in result.stdout
    assert "linked pages (attachments, articles) are not in the bundled replica" in result.stdout
    with sqlite3.connect(tmp_path / "demo" / "archive.db") as db:
        assert db.execute("select count(*) from articles").fetchone()[0] >= 150
