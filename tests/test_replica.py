"""The replica server answers like the live portal does, over real HTTP.

Every crawler test runs against this server, so its routing rules (exact match, tolerated
query variants, articles by id, 404s, conditional requests) are pinned down here with real
requests through urllib rather than by calling the lookup function.
"""

from __future__ import annotations

import csv
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from crawler.profiles import load_profile
from crawler.replica import DEMO_REPLICA, ReplicaServer, ReplicaSite, serve_replica

PAGER = (
    "p_p_id=101&p_p_lifecycle=0&p_p_state=normal&p_p_mode=view&p_p_col_id=column-1"
    "&p_p_col_pos=1&p_p_col_count=2&_101_delta=10&_101_keywords=&_101_advancedSearch=false"
    "&_101_andOperator=true&p_r_p_564233524_resetCur=false&_101_cur=2"
)
LISTING_P2 = f"/vi/thanh-tra?{PAGER}"
# Saved under /vi/tin-tuc-su-kien; the print view and other section paths are not in pages.tsv.
ARTICLE = (
    "/vi/tin-tuc-su-kien/-/view_content/"
    "690654-so-tt-tt-ha-noi-trien-khai-nhiem-vu-3-thang-cuoi-nam.html"
)


@pytest.fixture(scope="module")
def server() -> Iterator[ReplicaServer]:
    with serve_replica(DEMO_REPLICA) as running:
        yield running


def fetch(
    server: ReplicaServer, target: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request; HTTP errors are answers too, not exceptions."""
    request = urllib.request.Request(server.url + target, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_exact_match_serves_the_saved_file_with_its_metadata(server: ReplicaServer) -> None:
    status, headers, body = fetch(server, LISTING_P2)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (DEMO_REPLICA / "pages/vi/thanh-tra/index.p2.html").read_bytes()
    assert int(headers["Content-Length"]) == len(body)
    assert LISTING_P2 in server.requests


def test_last_modified_is_the_replica_crawl_time(server: ReplicaServer) -> None:
    with (DEMO_REPLICA / "pages.tsv").open(encoding="utf-8", newline="") as handle:
        crawled = {r["url"]: r["crawled"] for r in csv.DictReader(handle, delimiter="\t")}
    _, headers, _ = fetch(server, ARTICLE)
    assert headers["Last-Modified"] == crawled[ARTICLE]
    assert headers["ETag"].startswith('"')


def test_reordered_query_and_amp_entities_still_match(server: ReplicaServer) -> None:
    expected = fetch(server, LISTING_P2)[2]
    params = PAGER.split("&")
    assert fetch(server, "/vi/thanh-tra?" + "&".join(reversed(params)))[2] == expected
    assert fetch(server, "/vi/thanh-tra?" + "&amp;".join(params))[2] == expected


def test_trailing_question_mark_is_the_bare_page(server: ReplicaServer) -> None:
    status, _, body = fetch(server, "/vi/thanh-tra?")
    assert status == 200
    assert body == fetch(server, "/vi/thanh-tra")[2]


def test_article_is_served_by_id_under_any_section_path(server: ReplicaServer) -> None:
    saved = fetch(server, ARTICLE)[2]
    other_section = ARTICLE.replace("/vi/tin-tuc-su-kien/", "/cong-nghe-thong-tin/")
    other_slug = "/en/thanh-tra/-/view_content/690654-whatever.html"
    for target in (other_section, other_slug):
        status, _, body = fetch(server, target)
        assert (status, body) == (200, saved), target


def test_unknown_pages_and_print_popups_are_404(server: ReplicaServer) -> None:
    popup = ARTICLE.replace("/view_content/", "/view_content/pop_up/") + "?_101_viewMode=print"
    for target in (
        "/no-such-section",
        "/vi/tin-tuc-su-kien/-/view_content/1-not-an-article.html",
        popup,
        ARTICLE.replace("/view_content/", "/view_content/pop_up/"),
        "/vi/tin-tuc-su-kien/-/view_content/vi/tin-tuc-su-kien/-/view_content/690654-x.html",
    ):
        status, headers, _ = fetch(server, target)
        assert status == 404, target
        assert "Last-Modified" not in headers


def test_conditional_requests_answer_304(server: ReplicaServer) -> None:
    _, headers, _ = fetch(server, ARTICLE)
    status, _, body = fetch(server, ARTICLE, {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")
    status, _, _ = fetch(server, ARTICLE, {"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304
    status, _, _ = fetch(server, ARTICLE, {"If-None-Match": '"stale"'})
    assert status == 200
    older = "Mon, 01 Jan 2018 00:00:00 GMT"
    assert fetch(server, ARTICLE, {"If-Modified-Since": older})[0] == 200


def test_head_has_headers_but_no_body(server: ReplicaServer) -> None:
    status, headers, body = fetch(server, ARTICLE, method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(fetch(server, ARTICLE)[2])


def test_robots_txt_is_served_from_the_replica_folder(server: ReplicaServer) -> None:
    status, headers, body = fetch(server, "/robots.txt")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert b"Disallow: /c/" in body


def test_robots_txt_is_404_when_the_replica_has_none(tmp_path) -> None:
    (tmp_path / "pages.tsv").write_text(
        "url\tfile\tkind\tcategory\tcrawled\tcontent_type\n", encoding="utf-8"
    )
    with serve_replica(tmp_path) as empty:
        assert fetch(empty, "/robots.txt")[0] == 404


def test_keep_alive_serves_many_requests_on_one_connection(server: ReplicaServer) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        for target in (LISTING_P2, ARTICLE, "/missing", ARTICLE):
            connection.request("GET", target)
            response = connection.getresponse()
            response.read()
            assert response.status in (200, 404)
            assert not response.will_close
    finally:
        connection.close()


def test_every_profile_start_path_and_listed_article_is_served() -> None:
    """The demo cut keeps each start page and every ground-truth article it lists."""
    site = ReplicaSite(DEMO_REPLICA)
    start_paths = load_profile("sotttt").start_paths
    walk = site.walk_listings(start_paths)
    assert walk.missing and not set(start_paths) & set(walk.missing)
    with (DEMO_REPLICA / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        truth = [json.loads(line) for line in handle]
    assert 150 <= len(truth) <= 220
    assert all(site.lookup(record["url"]).status == 200 for record in truth)
    assert len(set(walk.articles) & {r["article_id"] for r in truth}) >= 150
