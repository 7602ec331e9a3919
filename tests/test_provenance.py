"""Provenance in Datasette: a row shows the WARC record it came from and links to its replay.

These serve the real archive of the shared crawl with Datasette's own test client and read the
HTML a researcher gets. The replay address is plugin configuration in the metadata, as
``govarchive serve --replay-url`` writes it.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, datetime

import pytest
from datasette.app import Datasette
from datasette.utils import tilde_encode

from archive.datasette_plugin import replay_link, with_replay_url
from archive.metadata import datasette_metadata
from archive.textfold import fold
from tests.conftest import Crawl, govarchive
from tests.test_datasette import use_govarchive_plugin

PYWB = "http://127.0.0.1:8080/coll/{timestamp}/{url}"


def serve(crawled: Crawl, replay_url: str | None = None, *, metadata=None) -> Datasette:
    use_govarchive_plugin()
    metadata = metadata or with_replay_url(datasette_metadata(), replay_url)
    return Datasette(immutables=[str(crawled.data / "archive.db")], metadata=metadata)


def get(datasette: Datasette, path: str) -> str:
    async def fetch() -> str:
        response = await datasette.client.get(path)
        assert response.status_code == 200, response.text[:500]
        return response.text

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def row(crawled: Crawl) -> dict:
    with sqlite3.connect(crawled.data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM articles ORDER BY url LIMIT 1").fetchone())


def capture_time(row: dict) -> str:
    return datetime.fromisoformat(row["crawled_at"]).astimezone(UTC).strftime("%Y%m%d%H%M%S")


def test_an_article_page_shows_its_warc_pointer_and_links_to_its_replay(crawled: Crawl, row):
    page = get(serve(crawled, PYWB), f"/archive/articles/{tilde_encode(row['url'])}")
    assert row["warc_filename"] in page
    assert f">{row['warc_offset']}<" in page
    assert row["warc_payload_digest"] in page
    # The replay is of the capture itself: the URL it was fetched at, the time it was fetched.
    replay = f"http://127.0.0.1:8080/coll/{capture_time(row)}/{row['fetched_url']}"
    record_id = row["warc_record_id"].replace("<", "&lt;").replace(">", "&gt;")
    assert f'<a href="{replay}" title="Replay this capture of {row["fetched_url"]}">' in page
    assert f">{record_id}</a>" in page


def test_the_articles_table_links_every_row_to_its_replay(crawled: Crawl):
    # Naming the columns shown (here: all but text) brings back the hidden WARC pointer.
    page = get(serve(crawled, PYWB), "/archive/articles?_size=20&_nocol=text")
    links = re.findall(r'href="http://127\.0\.0\.1:8080/coll/(\d{14})/(https://[^"]+)"', page)
    assert len(links) == 20
    assert all(url.startswith("https://sotttt.hanoi.gov.vn/") for _, url in links)


def test_fetches_link_to_their_replay_too_revisits_included(crawled: Crawl):
    page = get(serve(crawled, PYWB), "/archive/fetches?record_type=revisit&_size=5")
    assert len(re.findall(r'href="http://127\.0\.0\.1:8080/coll/\d{14}/https://', page)) == 5


def test_a_collection_url_alone_is_enough(crawled: Crawl, row):
    page = get(
        serve(crawled, "http://127.0.0.1:8080/coll/"),
        f"/archive/articles/{tilde_encode(row['url'])}",
    )
    assert f'href="http://127.0.0.1:8080/coll/{capture_time(row)}/{row["fetched_url"]}"' in page


def test_without_a_replay_url_the_pointer_shows_but_links_nowhere(crawled: Crawl, row):
    page = get(serve(crawled), f"/archive/articles/{tilde_encode(row['url'])}")
    assert row["warc_filename"] in page and row["warc_payload_digest"] in page
    assert "Replay this capture" not in page and "/coll/" not in page


def test_the_replay_link_is_escaped(crawled: Crawl, row):
    hostile = 'http://example.org/"><script>alert(1)</script>/{timestamp}/{url}'
    page = get(serve(crawled, hostile), f"/archive/articles/{tilde_encode(row['url'])}")
    assert "<script>alert(1)</script>" not in page
    assert 'href="http://example.org/&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;/' in page


def test_only_http_replay_urls_make_links():
    with pytest.raises(ValueError, match="expected an http"):
        with_replay_url({}, "javascript:alert(1)//{url}")
    moment = "2024-04-05T06:16:00Z"
    assert replay_link("javascript:alert(1)//{url}", "https://a.vn/", moment) is None
    # Written into the metadata by hand, it is still ignored.
    assert replay_link("data:text/html,{url}", "https://a.vn/", moment) is None


def test_serve_refuses_a_replay_url_that_is_not_http(crawled: Crawl):
    result = govarchive("serve", "--data", str(crawled.data), "--replay-url", "javascript:x")
    assert result.returncode == 2
    assert "expected an http:// or https:// URL" in result.stderr


def test_replay_links_use_utc_capture_times_and_encode_odd_characters():
    link = replay_link(PYWB, 'https://a.vn/tin tức?id=1&x="y"#top', "2024-04-05T13:16:00+07:00")
    assert link == (
        "http://127.0.0.1:8080/coll/20240405061600/"
        "https://a.vn/tin%20t%E1%BB%A9c?id=1&x=%22y%22%23top"
    )


def test_search_folding_still_works_with_provenance_on(crawled: Crawl, row):
    datasette = serve(crawled, PYWB)
    words = fold(row["title"]).split()[:3]  # typed without accents
    assert words != row["title"].split()[:3]
    page = get(datasette, "/archive/articles?_search=" + "+".join(words))
    assert "Replay this capture" in page  # results link to their captures
    assert f'href="http://127.0.0.1:8080/coll/{capture_time(row)}/{row["fetched_url"]}"' in page
