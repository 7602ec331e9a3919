"""A portal nobody profiled: the URL form of `crawl`, generic crawling, and `probe`.

Real crawls over HTTP of the bundled replica cuts (crawler/demo/), served on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
import unicodedata
from pathlib import Path

import pytest

from crawler.generic import article_pattern
from crawler.profiles import load_profile
from crawler.recognise import profile_for_url
from crawler.replica import DAKNONG_DEMO_REPLICA, DEMO_REPLICA, serve_replica
from tests.conftest import FAST, govarchive

SOTTTT = "https://sotttt.hanoi.gov.vn"
DAKNONG = "https://sldtbxh.daknong.gov.vn"
DAKNONG_SECTION = "/tin-tuc-su-kien/nguoi-co-cong"


def rows(data: Path, portal: str) -> list[tuple]:
    with sqlite3.connect(data / "archive.db") as db:
        return db.execute(
            "select url, title, published_at, author, text from articles where portal = ?"
            " order by url",
            (portal,),
        ).fetchall()


def listed_day(record: dict) -> str:
    """The ISO day of the date a listing printed beside the article ("15/05/2008 | 12:00 AM")."""
    day, month, year = re.match(r"(\d+)/(\d+)/(\d{4})", record["listing_date"]).groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


@pytest.fixture(scope="module")
def sotttt_server():
    with serve_replica(DEMO_REPLICA) as server:
        yield server


@pytest.fixture(scope="module")
def daknong_server():
    with serve_replica(DAKNONG_DEMO_REPLICA) as server:
        yield server


def test_a_url_is_recognised_as_each_bundled_template(sotttt_server, daknong_server):
    sotttt = profile_for_url(SOTTTT + "/", sotttt_server.url)
    assert (sotttt.template, sotttt.name, sotttt.start_paths) == (
        "liferay-cttdt",
        "sotttt.hanoi.gov.vn",
        ("/",),
    )
    assert sotttt.timezone == "Asia/Ho_Chi_Minh" and sotttt.timezone_guessed
    # The same rules as the bundled portal file on that template.
    assert sotttt.article_pattern == load_profile("sotttt").article_pattern
    daknong = profile_for_url(DAKNONG + DAKNONG_SECTION, daknong_server.url)
    assert daknong.template == "easywebhub-lacviet"
    assert daknong.start_paths == (DAKNONG_SECTION,)
    # The layout declares lang="en-us"; its text is Vietnamese, and so are its dates.
    assert daknong.language == "vi"
    generic = profile_for_url(SOTTTT, sotttt_server.url, generic=True)
    assert generic.template == "" and generic.start_paths == ("/",)


def test_the_url_form_gives_the_rows_of_the_named_portal(daknong_server, tmp_path):
    named = tmp_path / "named.toml"
    named.write_text(
        '[portal]\nname = "sldtbxh-daknong"\ntemplate = "easywebhub-lacviet"\n'
        f'base_url = "{DAKNONG}"\nstart_paths = ["{DAKNONG_SECTION}"]\n',
        encoding="utf-8",
    )
    base = ("--base-url", daknong_server.url, *FAST)
    by_name = govarchive("crawl", str(named), "--data", str(tmp_path / "a"), *base)
    by_url = govarchive("crawl", DAKNONG + DAKNONG_SECTION, "--data", str(tmp_path / "b"), *base)
    assert by_name.returncode == 0 and by_url.returncode == 0, by_url.stderr
    assert "template easywebhub-lacviet" in by_url.stderr
    expected = rows(tmp_path / "a", "sldtbxh-daknong")
    assert len(expected) == 6  # the section's posts with content
    assert rows(tmp_path / "b", "sldtbxh.daknong.gov.vn") == expected
    with sqlite3.connect(tmp_path / "b" / "archive.db") as db:
        sources = {r[0] for r in db.execute("select date_source from articles")}
    # "thứ hai, Ngày 05/08/2019, 16:14": no offset printed, and the zone is the host's guess.
    assert sources == {"page, offset guessed"}


def test_a_generic_crawl_reaches_the_articles_with_titles_and_dates(sotttt_server, tmp_path):
    data = tmp_path / "data"
    result = govarchive(
        "crawl", SOTTTT, "--generic", "--data", str(data), "--base-url", sotttt_server.url, *FAST
    )
    assert result.returncode in (0, 1), result.stderr
    assert "generic rules" in result.stderr
    truth = {}
    with (DEMO_REPLICA / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            truth[record["article_id"]] = record
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        archived = {r["article_id"]: dict(r) for r in db.execute("select * from articles")}
    assert {r["portal"] for r in archived.values()} == {"sotttt.hanoi.gov.vn"}
    found = [i for i in truth if i in archived]
    assert len(found) >= 0.9 * len(truth)
    nfc = unicodedata.normalize
    titles = sum(archived[i]["title"] == nfc("NFC", truth[i]["listing_title"]) for i in found)
    days = sum((archived[i]["published_at"] or "")[:10] == listed_day(truth[i]) for i in found)
    assert titles >= 0.95 * len(found) and days >= 0.95 * len(found)


def test_probe_writes_a_profile_that_crawls(daknong_server, sotttt_server, tmp_path):
    draft = tmp_path / "daknong.toml"
    result = govarchive(
        "probe", DAKNONG + DAKNONG_SECTION, "--base-url", daknong_server.url, "--out", str(draft)
    )
    assert result.returncode == 0, result.stderr
    assert "template:  easywebhub-lacviet" in result.stdout
    assert result.stdout.count("\nsample ") >= 3  # the cut lacks some linked posts
    assert tomllib.loads(draft.read_text(encoding="utf-8"))["portal"]["template"] == (
        "easywebhub-lacviet"
    )
    crawl = govarchive(
        "crawl", str(draft), "--data", str(tmp_path / "d"), "--base-url", daknong_server.url, *FAST
    )
    assert crawl.returncode == 0, crawl.stderr
    assert len(rows(tmp_path / "d", "sldtbxh.daknong.gov.vn")) == 6

    # On no template: the inferred rules, written out, are the ones the URL form crawls with.
    generic = tmp_path / "sotttt.toml"
    result = govarchive(
        "probe", SOTTTT, "--generic", "--base-url", sotttt_server.url, "--out", str(generic)
    )
    assert result.returncode == 0, result.stderr
    assert "none recognised" in result.stdout and "published_at: 20" in result.stdout
    loaded = load_profile(generic)
    inferred = profile_for_url(SOTTTT, sotttt_server.url, generic=True)
    assert loaded.article_pattern.pattern == inferred.article_pattern.pattern
    assert loaded.start_paths == inferred.start_paths == ("/",)


def test_the_article_shape_is_the_largest_group_of_item_links():
    links = [
        "https://example.org/news/2024/05/city-opens-new-public-library-branch-1234.html",
        "https://example.org/news/2024/06/council-approves-the-annual-budget-1240.html",
        "https://example.org/news/2024/06/new-bus-lines-start-service-on-monday-1251.html",
        "https://example.org/about-us",
        "https://example.org/news",
        "https://example.org/files/annual-report-of-the-city-2023.pdf",
    ]
    pattern = article_pattern(links)
    matcher = re.compile(pattern)
    assert [bool(matcher.search(link)) for link in links] == [True] * 3 + [False] * 3
    assert matcher.search(links[0]).group("id") == "1234"
    assert article_pattern(links[3:]) is None
