"""The pages researchers use, rendered by headless Chromium from a real `govarchive serve`.

The archive is the session's crawl of the demo replica (tests/conftest.py). Chromium is driven
over the DevTools protocol (tests/browser.py): each test opens a page, waits for what a reader
would see, checks the rendered DOM, checks no JavaScript error happened, and saves a screenshot
under tests/screenshots/ (ignored by git) for a human to look at.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from datasette.utils import tilde_encode

from archive.article_page import paragraphs
from archive.metadata import datasette_metadata
from archive.textfold import fold

from .browser import Browser
from .conftest import govarchive
from .test_serve_safety import Served, chromium  # noqa: F401 - chromium is a fixture

SCREENSHOTS = Path(__file__).parent / "screenshots"
#: Check the pages of another archive instead (e.g. a crawl of the whole shared replica):
#: GOVARCHIVE_PAGES_ARCHIVE=DATA_DIR pytest tests/test_pages.py
OTHER_ARCHIVE = os.environ.get("GOVARCHIVE_PAGES_ARCHIVE")


@dataclass
class Pages:
    data: Path
    screenshots: Path


@pytest.fixture(scope="module")
def pages(request) -> Pages:
    """The archive whose pages are checked: the session's demo crawl unless told otherwise."""
    if OTHER_ARCHIVE:
        data = Path(OTHER_ARCHIVE)
        return Pages(data, SCREENSHOTS / data.name)
    crawl = request.getfixturevalue("crawled")  # tests/conftest.py: one crawl per session
    assert crawl.result.returncode in (0, 1), crawl.result.stderr[-2000:]
    return Pages(crawl.data, SCREENSHOTS / "demo")


@pytest.fixture(scope="module")
def served(pages):
    server = Served(pages.data)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):  # noqa: F811
    with Browser(chromium, tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


def query(pages: Pages, sql: str, *params) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{pages.data / 'archive.db'}?immutable=1", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def screenshot(browser: Browser, pages: Pages, name: str, from_selector: str | None = None) -> Path:
    path = browser.screenshot(pages.screenshots / f"{name}.png", from_selector=from_selector)
    print(f"screenshot: {path}")
    assert path.stat().st_size > 10_000  # a page, not a blank
    return path


def test_the_article_page_reads_as_an_article(pages, served, browser):
    [article] = query(
        pages,
        "select * from articles a where length(text) > 1000"
        " and exists (select 1 from images where article_url = a.url)"
        " order by published_at desc limit 1",
    )
    browser.open(served.url + "/archive/articles/" + tilde_encode(article["url"]))

    assert browser.evaluate("document.querySelector('h1').textContent.trim()") == article["title"]
    rendered = browser.evaluate(
        "[...document.querySelectorAll('article .body p')].map(p => p.textContent)"
    )
    assert rendered == paragraphs(article["text"], article["sapo"]) and len(rendered) >= 2
    provenance = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.govarchive-provenance dd')]"
        ".map(dd => [dd.className, dd.textContent.trim()]))"
    )
    assert provenance["record-id"] == article["warc_record_id"]
    assert provenance["canonical-url"] == article["url"]
    assert provenance["payload-digest"] == article["warc_payload_digest"]
    assert provenance["warc-file"].startswith(article["warc_filename"])
    cite = browser.evaluate("document.querySelector('textarea.cite').value")
    assert article["url"] in cite and article["warc_record_id"] in cite
    time_element = browser.evaluate(
        "(t => [t.getAttribute('datetime'), t.title])(document.querySelector('.published time'))"
    )
    assert time_element[0] == article["published_at"]
    assert article["published_raw"] in time_element[1]
    images = query(pages, "select * from images where article_url = ?", article["url"])
    assert browser.evaluate("document.querySelectorAll('.images figure').length") == len(images)
    # The archived page: an iframe that may run nothing, on a route that says the same.
    iframe = browser.evaluate(
        "(f => [f.getAttribute('sandbox'), f.getAttribute('src')])"
        "(document.querySelector('iframe.govarchive-capture'))"
    )
    assert iframe[0] == ""  # the attribute present and empty: every restriction applies
    with urllib.request.urlopen(served.url + iframe[1]) as response:
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert article["title"].encode() in response.read()
    # The raw columns stay one click away.
    cells = browser.evaluate("document.querySelectorAll('details.all-columns td').length")
    assert cells == len(article.keys())
    assert browser.javascript_errors() == []
    screenshot(browser, pages, "article")
    screenshot(browser, pages, "article-provenance", from_selector=".govarchive-provenance")


def test_search_shows_highlighted_snippets_not_whole_texts(pages, served, browser):
    browser.open(served.url + "/archive/articles?_search=hoi+nghi")
    results = browser.evaluate(
        "[...document.querySelectorAll('.govarchive-results li')].map(li => ({"
        " title: li.querySelector('.result-title').textContent,"
        " href: li.querySelector('.result-title').getAttribute('href'),"
        " length: li.textContent.length,"
        " marks: [...li.querySelectorAll('mark')].map(m => m.textContent)}))"
    )
    [count] = query(
        pages, "select count(*) from articles_fts where articles_fts match ?", '"hoi" "nghi"'
    )
    assert len(results) == min(20, count[0]) >= 5
    marks = [mark for result in results for mark in result["marks"]]
    assert len(marks) >= 5
    # Highlighted as the search matched: accents folded ("Hội" is hoi), whole words only.
    assert {fold(mark).lower() for mark in marks} == {"hoi", "nghi"}
    assert all(result["marks"] for result in results)
    assert all(result["href"].startswith("/archive/articles/") for result in results)
    longest_cell = browser.evaluate(
        "Math.max(0, ...[...document.querySelectorAll('td, .govarchive-results li')]"
        ".map(e => e.textContent.length))"
    )
    assert longest_cell < 1000
    # Newest first, one click from most relevant first.
    dates = [row["published_at"] for row in query(
        pages, "select published_at from articles where rowid in (select rowid from"
        " articles_fts where articles_fts match ?) order by published_at desc limit 20",
        '"hoi" "nghi"',
    )]  # fmt: skip
    shown = browser.evaluate(
        "[...document.querySelectorAll('.govarchive-results time')]"
        ".map(t => t.getAttribute('datetime'))"
    )
    assert shown == dates
    assert browser.evaluate("!!document.querySelector('a[href*=search_by_relevance]')")
    # Column descriptions are folded away; facets by portal, category and year.
    folded = browser.evaluate("document.querySelector('details.column-descriptions-folded').open")
    assert folded is False
    facets = browser.evaluate(
        "[...document.querySelectorAll('.facet-info')].map(f => f.getAttribute('data-column'))"
    )
    assert {"portal", "category", "published_at"} <= set(facets)
    assert browser.javascript_errors() == []
    screenshot(browser, pages, "search-hoi-nghi")


def test_the_database_page_charts_the_timeline(pages, served, browser):
    browser.open(served.url + "/archive")
    bars = browser.wait_for(
        "document.querySelectorAll('#chart-articles_per_month svg .mark-rect path').length"
    )
    months = query(
        pages,
        "select count(distinct substr(published_at, 1, 7) || portal) from articles"
        " where published_at glob '[0-9]*'",
    )[0][0]
    assert bars == months > 0  # one bar per month and portal
    [changes] = query(
        pages,
        "select (select count(*) from article_versions where reason = 'edit')"
        " + (select count(*) from articles where removed_at is not null)",
    )
    if changes[0]:
        assert browser.wait_for("!!document.querySelector('#chart-changes_per_month svg')")
    else:
        assert browser.evaluate(
            "!!document.querySelector('#card-changes_per_month .timeline-empty')"
        )
    queries = browser.evaluate("[...document.querySelectorAll('#queries + ul a')].length")
    assert queries == len(datasette_metadata()["databases"]["archive"]["queries"])
    assert browser.javascript_errors() == []
    screenshot(browser, pages, "database-timeline")


def test_relevance_search_lists_results_with_snippets(served, browser):
    browser.open(served.url + "/archive/search_by_relevance?q=H%E1%BB%99i+ngh%E1%BB%8B")
    assert browser.evaluate("document.querySelectorAll('.govarchive-results li').length") >= 5
    assert browser.evaluate("document.querySelectorAll('.govarchive-results mark').length") >= 5
    assert browser.javascript_errors() == []
    for empty in ("", "?q=", "?q=%22"):  # nothing to look for: the form, no error
        page = get(served, "/archive/search_by_relevance" + empty).decode()
        assert 'name="q"' in page and "message-error" not in page


def get(served, path: str) -> bytes:
    with urllib.request.urlopen(served.url + path, timeout=30) as response:
        assert response.status == 200
        return response.read()


def header_columns(html: bytes) -> list[str]:
    return re.findall(r'scope="col" data-column="([^"]+)"', html.decode())


def test_text_and_warc_columns_are_hidden_unless_asked_for(served):
    default = header_columns(get(served, "/archive/articles"))
    assert "title" in default and "text" not in default
    assert not [name for name in default if name.startswith("warc_")]
    assert header_columns(get(served, "/archive/articles?_col=title&_col=text")) == [
        "url",
        "title",
        "text",
    ]
    assert "text" in header_columns(get(served, "/archive/articles?_nocol=sapo"))
    # A search shown as a table (rather than as a list of results) hides the same columns.
    grid = header_columns(get(served, "/archive/articles?_search=hoi+nghi&_grid=1"))
    assert "title" in grid and "sapo" in grid and "text" not in grid
    # The API is not affected: every column, as before.
    page = json.loads(get(served, "/archive/articles.json?_size=1"))
    assert "text" in page["columns"] and "warc_record_id" in page["columns"]


def test_canned_queries_run_on_a_crawled_archive(served):
    names = datasette_metadata()["databases"]["archive"]["queries"]
    params = {"search_by_relevance": "?q=hoi+nghi", "articles_by_author": "?author=a"}
    for name in names:
        page = json.loads(get(served, f"/archive/{name}.json{params.get(name, '')}"))
        assert page["ok"], name
    crawls = json.loads(get(served, "/archive/crawl_history.json?_shape=array"))
    assert crawls and crawls[0]["portal"] == "sotttt"


def test_jsonl_renders_one_object_per_line(served):
    lines = get(served, "/archive/articles.jsonl?_size=3&_col=title").decode().splitlines()
    assert [sorted(json.loads(line)) for line in lines] == [["title", "url"]] * 3
    lines = get(served, "/archive/attachments.jsonl").decode().splitlines()
    assert lines and all(json.loads(line)["article_url"] for line in lines)


def test_export_writes_csv_and_json_lines(pages, tmp_path):
    since = "2015-01-01"
    [expected] = query(
        pages, "select count(*) from articles where portal = 'sotttt' and published_at >= ?",
        since,
    )  # fmt: skip
    out = tmp_path / "articles.jsonl"
    result = govarchive("export", "--data", str(pages.data), "--format", "jsonl",
                        "--portal", "sotttt", "--since", since, str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == expected[0] > 0
    assert all(row["published_at"] >= since for row in rows)
    assert any(row["images"] for row in rows) and "warc_record_id" in rows[0]

    out = tmp_path / "articles.csv"
    result = govarchive("export", "--data", str(pages.data), "--format", "csv", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    [total] = query(pages, "select count(*) from articles")
    assert len(table) == total[0] and table[0]["url"].startswith("https://")

    missing = govarchive("export", "--data", str(tmp_path / "none"), "--format", "csv", "-")
    assert missing.returncode == 2 and "no archive" in missing.stderr
