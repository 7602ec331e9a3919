"""A crawl of a hostile portal (tests/hostile.py): nothing good lost, nothing bad unexplained.

The hostile portal is the demo replica plus more than thirty injected faults: 5xx and 429
bursts, hangs, resets, drips, redirect loops and escapes, oversized and mislabelled bodies,
legacy encodings, session ids, listing loops and a calendar trap. One crawl of it, run as a
user runs it, is checked against a clean crawl of the same replica (the `crawled` fixture):
the same rows for every good page, a reason in `fetches` for every bad one, no request to any
other server, no traceback, and an end of its own.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.warc import read_record, record_payload

from .conftest import govarchive
from .hostile import (
    HOSTILE_SETTINGS,
    MAX_LISTING_PAGES,
    PORTAL,
    RETRY_AFTER,
    Case,
    HostileServer,
)

#: What an article *is*, as opposed to where and when it was captured.
CONTENT = (
    "url", "portal", "article_id", "title", "published_at", "published_raw", "author",
    "category", "sapo", "text", "language", "posted_by", "source",
)  # fmt: skip


@dataclass
class HostileCrawl:
    data: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cases: list[Case]
    server_log: list[tuple[float, str, str]]
    foreign_hits: list[str]
    server: HostileServer

    def rows(self, sql: str, *params) -> list[dict]:
        return rows(self.data, sql, *params)

    def fetches(self, case: Case) -> list[dict]:
        """The case's fetch rows, in the order they were recorded."""
        found = []
        for part in case.url_parts:
            match = "url = ?" if part.startswith(PORTAL) else "instr(url, ?) > 0"
            found += self.rows(f"select * from fetches where {match}", part)
        return sorted({r["id"]: r for r in found}.values(), key=lambda r: r["id"])

    def article(self, article_id: str) -> dict | None:
        found = self.rows("select * from articles where article_id = ?", article_id)
        assert len(found) <= 1, f"article {article_id} stored {len(found)} times"
        return found[0] if found else None

    def requests(self, part: str) -> list[tuple[float, str, str]]:
        """Requests the hostile server received whose target contains ``part``."""
        return [entry for entry in self.server_log if part in entry[1]]


def rows(data: Path, sql: str, *params) -> list[dict]:
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> HostileCrawl:
    data = tmp_path_factory.mktemp("hostile") / "data"
    settings = [
        arg for name, value in HOSTILE_SETTINGS.items() for arg in ("-s", f"{name}={value}")
    ]
    with HostileServer() as server:
        profile = server.profile(data.parent)
        started = time.monotonic()
        result = govarchive(
            "crawl", str(profile), "--data", str(data), "--base-url", server.url, *settings,
            timeout=600,
        )  # fmt: skip
        seconds = time.monotonic() - started
        log, hits = list(server.portal.log), server.foreign_hits
    return HostileCrawl(
        data, result.returncode, result.stdout, result.stderr, seconds, server.cases, log, hits,
        server,
    )  # fmt: skip


def cases(crawl: HostileCrawl, *kinds: str) -> list[Case]:
    return [case for case in crawl.cases if case.kind in kinds]


# -- the server ------------------------------------------------------------------------------


def test_the_hostile_portal_injects_more_than_thirty_distinct_cases(hostile):
    names = [case.name for case in hostile.cases]
    assert len(names) == len(set(names)) >= 30
    kinds = {case.kind for case in hostile.cases}
    assert kinds == {"transient", "failure", "redirect", "content", "encoding", "url", "trap",
                     "scope"}  # fmt: skip


# -- the crawl as a whole ----------------------------------------------------------------------


def test_the_crawl_ends_on_its_own_with_errors_and_no_traceback(hostile, record_property):
    record_property("hostile_crawl_seconds", round(hostile.seconds, 1))
    assert hostile.returncode == 1, hostile.stderr[-3000:]  # done, with errors
    [crawl] = hostile.rows("select * from crawls")
    assert crawl["status"] == "done_with_errors" and crawl["finished_at"]
    log = (hostile.data / "logs" / "govarchive.log").read_text(encoding="utf-8")
    for output in (hostile.stderr, hostile.stdout, log):
        assert "Traceback" not in output
        assert "Unhandled" not in output and "Spider error" not in output


def test_every_good_page_is_archived_exactly_as_in_a_clean_crawl(hostile, crawled):
    columns = ", ".join(CONTENT)
    clean = {r["url"]: r for r in rows(crawled.data, f"select {columns} from articles")}
    got = {r["url"]: r for r in hostile.rows(f"select {columns} from articles")}
    assert len(clean) >= 150
    assert [url for url in clean if url not in got] == []
    assert [url for url in clean if got[url] != clean[url]] == []
    for table in ("images", "attachments"):
        query = f"select article_url, url from {table} order by article_url, position"
        theirs = [r for r in rows(crawled.data, query)]
        ours = [r for r in hostile.rows(query) if r["article_url"] in clean]
        assert ours == theirs


def test_no_request_ever_reaches_another_server(hostile):
    assert hostile.foreign_hits == []
    assert not [r for r in hostile.rows("select url from fetches") if PORTAL not in r["url"]]


def test_the_summary_lists_the_failures_with_their_reasons(hostile):
    summary = hostile.stdout
    assert "done_with_errors" in summary
    assert "HTTP 500 Internal Server Error: gave up after 4 attempts" in summary
    assert "timeout: no complete response within 4 s (DOWNLOAD_TIMEOUT)" in summary


# -- transient faults ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "t500", "t502-twice", "t503-retry-after", "t429-retry-after", "t429-retry-after-date",
    "t-timeout", "t-reset", "t-short-body", "t-empty", "t-listing-503",
])  # fmt: skip
def test_a_transient_failure_is_retried_and_leaves_no_error(hostile, name):
    case = hostile.server.portal.case(name)
    fetches = hostile.fetches(case)
    assert [f["note"].split(":")[0] for f in fetches[:-1]] == ["retried"] * (len(fetches) - 1)
    assert len(fetches) == (3 if name == "t502-twice" else 2)
    assert all(f["error"] is None for f in fetches)
    assert fetches[-1]["status"] == 200 and fetches[-1]["note"] is None
    if case.article_id:
        assert hostile.article(case.article_id) is not None


def test_retries_wait_for_retry_after_and_back_off_exponentially(hostile):
    def gaps(case_name: str) -> list[float]:
        case = hostile.server.portal.case(case_name)
        times = [t for t, _, _ in hostile.requests(f"/view_content/{case.article_id}-")]
        return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]

    # Retry-After is longer than anything else could make the crawler wait here.
    assert gaps("t429-retry-after")[0] >= RETRY_AFTER - 0.1
    assert gaps("t429-retry-after-date")[0] >= RETRY_AFTER - 0.1  # an HTTP date, 1 s rounding
    # Without Retry-After: 0.5 s, then 1 s, then 2 s (GOVARCHIVE_RETRY_BACKOFF=0.5, doubling).
    first, second, third = gaps("p503")
    assert first >= 0.45 and second >= 0.95 and third >= 1.95


# -- permanent failures --------------------------------------------------------------------


def failure_cases() -> list[str]:
    return [
        "p500", "p502", "p503", "p429-day", "p-timeout", "p-reset", "p-drip",
        "p-short-body", "oversize-declared", "oversize-streamed", "gzip-bomb", "bad-gzip",
        "p-empty", "p-listing-500", "redirect-loop", "redirect-self", "redirect-long-chain",
        "redirect-other-host", "redirect-other-port", "retry-then-redirect-away",
    ]  # fmt: skip


@pytest.mark.parametrize("name", failure_cases())
def test_a_permanent_failure_is_recorded_in_fetches_with_its_reason(hostile, name):
    case = hostile.server.portal.case(name)
    errors = [f["error"] for f in hostile.fetches(case) if f["error"]]
    assert len(errors) == 1, hostile.fetches(case)
    assert case.reason in errors[0]
    if case.article_id:
        assert hostile.article(case.article_id) is None


BROKEN_LINK_CASES = ["p404", "p410"]


@pytest.mark.parametrize("name", BROKEN_LINK_CASES)
def test_a_linked_page_the_portal_does_not_serve_is_a_broken_link_not_an_error(hostile, name):
    case = hostile.server.portal.case(name)
    (fetch,) = hostile.fetches(case)
    assert fetch["error"] is None
    assert fetch["broken_link"] == 1
    assert fetch["note"].startswith(f"broken link: {case.reason}")
    assert hostile.article(case.article_id) is None


def test_the_failure_cases_cover_every_failure_the_server_injects(hostile):
    expected = {case.name for case in hostile.cases if case.reason}
    assert expected == set(failure_cases()) | set(BROKEN_LINK_CASES)


def test_redirects_that_stay_on_the_portal_are_followed_on_the_mirror(hostile):
    chain = hostile.article("990024")  # 301 -> 302 -> 307 -> here
    assert chain is not None and chain["url"].endswith("990024-redirect-target.html")
    # Redirected to https://sotttt.hanoi.gov.vn/...: fetched from the mirror instead.
    assert hostile.article("990030") is not None
    assert len(hostile.requests("/view_content/990030-")) == 1
    assert all(f["error"] is None for f in hostile.fetches(hostile.server.portal.case(
        "redirect-chain")))  # fmt: skip


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "magic", "kind"), [
    ("pdf-as-html", b"%PDF", "a PDF document"),
    ("png-as-html", b"\x89PNG", "a PNG image"),
])  # fmt: skip
def test_a_binary_body_served_as_html_is_archived_but_not_extracted(hostile, name, magic, kind):
    case = hostile.server.portal.case(name)
    [fetch] = hostile.fetches(case)
    assert fetch["status"] == 200 and fetch["content_type"].startswith("text/html")
    assert fetch["error"] is None and f"not extracted: the body is {kind}" in fetch["note"]
    record = read_record(hostile.data, {"filename": fetch["warc_filename"],
                                        "offset": fetch["warc_offset"]})  # fmt: skip
    assert record_payload(record).startswith(magic)
    assert hostile.article(case.article_id) is None


def test_truncated_html_is_archived_and_extracted_as_sent_with_a_note(hostile):
    case = hostile.server.portal.case("truncated-html")
    [fetch] = hostile.fetches(case)
    assert fetch["error"] is None and "ends before </html>" in fetch["note"]
    original = hostile.server.portal.truncated_original
    article = hostile.article(case.article_id)
    assert article is not None and article["title"] == hostile.article(
        original["article_id"])["title"]  # fmt: skip


def test_a_page_dripped_slowly_within_the_timeout_is_archived(hostile):
    assert hostile.article(hostile.server.portal.case("slow-but-complete").article_id)


@pytest.mark.parametrize("name", [
    "windows-1258", "cp1258-header-says-utf8", "cp1258-meta-says-utf8",
    "cp1258-labelled-latin1", "utf8-header-says-latin1",
])  # fmt: skip
def test_legacy_and_mislabelled_encodings_extract_the_same_vietnamese_text(hostile, name):
    case = hostile.server.portal.case(name)
    original = hostile.server.portal.encoded_originals[case.article_id]
    copy, utf8 = hostile.article(case.article_id), hostile.article(original["article_id"])
    for field in ("title", "text", "sapo", "published_at", "author", "category"):
        assert copy[field] == utf8[field], field
    assert re.search("[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", copy["text"])


# -- URLs ------------------------------------------------------------------------------------


def test_session_ids_and_query_order_give_one_fetch_and_one_row(hostile):
    assert not hostile.rows("select url from fetches where url like '%jsessionid%'")
    assert not hostile.rows("select url from articles where url like '%jsessionid%'")
    session = hostile.article("990050")  # linked twice, canonical link with a third session
    assert session["url"] == PORTAL + "/hostile/-/view_content/990050-session-id.html"
    assert len(hostile.requests("/view_content/990050-")) == 1
    query = hostile.article("990051")  # linked as ?b=2&a=1 and ?a=1&b=2
    assert query["url"].endswith("990051-query-order.html?a=1&b=2")
    assert len(hostile.requests("/view_content/990051-")) == 1
    # A real article linked with a session id too, and a listing page linked three ways.
    real = hostile.server.portal.url_originals["session-id"]
    assert len(hostile.requests(f"/view_content/{real['article_id']}-")) == 1
    assert len(hostile.requests("/vi/thong-tin-dt")) == len(
        {t for _, t, _ in hostile.requests("/vi/thong-tin-dt")})  # fmt: skip
    assert sum("_101_cur=2" in t for _, t, _ in hostile.requests("/vi/thong-tin-dt")) == 1


def test_a_canonical_link_naming_another_article_is_ignored(hostile):
    wrong = hostile.article("990052")
    victim = hostile.server.portal.url_originals["victim"]
    assert wrong["url"] == PORTAL + "/hostile/-/view_content/990052-wrong-canonical.html"
    assert hostile.article(victim["article_id"])["text"] != wrong["text"]


# -- traps and scope ---------------------------------------------------------------------------


def test_a_listing_that_repeats_page_one_past_its_end_is_stopped(hostile):
    pages = {int(m.group(1)) for _, t, _ in hostile.requests("/vong-lap")
             for m in [re.search(r"_101_cur=(\d+)", t)] if m}  # fmt: skip
    assert max(pages) <= 5  # pages 4 and 5 repeat page 1: their pagers are not followed
    log = (hostile.data / "logs" / "govarchive.log").read_text(encoding="utf-8")
    assert re.search(r"section /vong-lap: \S+_101_cur=4 lists the same 5 articles as", log)


def test_a_calendar_trap_is_stopped_at_the_listing_page_cap(hostile):
    days = {t for _, t, _ in hostile.requests("/lich-cong-tac?ngay=")}
    assert 0 < len(days) <= MAX_LISTING_PAGES
    log = (hostile.data / "logs" / "govarchive.log").read_text(encoding="utf-8")
    assert f"section /lich-cong-tac: {MAX_LISTING_PAGES} listing pages reached" in log


def test_robots_txt_is_obeyed(hostile):
    case = hostile.server.portal.case("robots-disallowed")
    assert not [t for _, t, _ in hostile.server_log if t.startswith("/noi-bo/")]
    [fetch] = hostile.fetches(case)
    assert fetch["status"] is None and fetch["error"] is None
    assert fetch["note"] == "skipped: forbidden by the portal's robots.txt"


def test_links_to_other_servers_are_never_requested(hostile):
    for name in ("link-other-host", "link-other-port"):
        assert not hostile.fetches(hostile.server.portal.case(name))
    assert hostile.foreign_hits == []
