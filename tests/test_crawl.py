"""End to end: `govarchive crawl` over a replica portal on 127.0.0.1 → WARC + SQLite."""

import json
import shutil
import sqlite3
from collections import Counter

from archive.warc import iter_records, read_record, record_payload
from crawler.profiles import load_profile
from crawler.replica import DEMO_REPLICA

from .conftest import FAST, govarchive, warcio_check

PORTAL = "https://sotttt.hanoi.gov.vn"


def rows(data, sql, *params):
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


def ground_truth():
    with open(DEMO_REPLICA / "ground_truth.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_crawl_archives_the_listed_articles_once_each(crawled):
    assert "Traceback" not in crawled.result.stderr
    assert crawled.result.returncode in (0, 1), crawled.result.stderr[-2000:]
    articles = rows(crawled.data, "select url, article_id, portal from articles")
    profile = load_profile("sotttt")
    ids = Counter(profile.article_id(a["url"]) for a in articles)
    assert ids and max(ids.values()) == 1, "an article is stored twice"
    assert all(a["url"].startswith(PORTAL + "/") for a in articles), "rows keep portal URLs"
    listed = {g["article_id"] for g in ground_truth() if g["listed_on"]}
    assert len(listed & set(ids)) >= 0.98 * len(listed)
    assert len(articles) >= 150


def test_rows_carry_the_listing_title_and_date(crawled):
    by_id = {g["article_id"]: g for g in ground_truth() if g["expected_iso"]}
    articles = rows(crawled.data, "select article_id, title, published_at from articles")
    checked = [a for a in articles if a["article_id"] in by_id]
    assert len(checked) >= 140
    dates_ok = sum(a["published_at"] == by_id[a["article_id"]]["expected_iso"] for a in checked)
    assert dates_ok >= 0.98 * len(checked)
    assert all(a["title"] for a in checked)


def test_every_row_points_at_the_response_record_it_came_from(crawled):
    for row in rows(crawled.data, "select * from articles"):
        record = read_record(
            crawled.data, {"filename": row["warc_filename"], "offset": row["warc_offset"]}
        )
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Record-ID") == row["warc_record_id"]
        target = record.rec_headers.get_header("WARC-Target-URI")
        assert target.startswith(PORTAL) and row["article_id"] in target
        assert row["title"].split()[0].encode() in record_payload(record)


def test_warc_files_are_valid_and_hold_every_exchange(crawled):
    files = sorted((crawled.data / "warc").glob("*.warc.gz"))
    assert files and not list((crawled.data / "warc").glob("*.open"))
    for path in files:
        check = warcio_check(path)
        assert check.returncode == 0, check.stdout + check.stderr
    types = Counter()
    uris = set()
    for path in files:
        for _, record in iter_records(path):
            types[record.rec_type] += 1
            uris.add(record.rec_headers.get_header("WARC-Target-URI"))
    assert types["warcinfo"] == len(files)
    # Every exchange is a request plus a response, or a revisit when its payload repeats one
    # already archived (the replica's 404 page, for one).
    assert types["request"] == types["response"] + types["revisit"]
    assert PORTAL + "/robots.txt" in uris
    # Rows without a status are requests never sent (robots.txt forbids them, discovery left
    # them out): no exchange to archive.
    sent = "select count(*) n from fetches where status is not null"
    fetches = rows(crawled.data, sent)[0]["n"]
    assert types["request"] == fetches


def test_crawl_row_records_the_run(crawled):
    [crawl] = rows(crawled.data, "select * from crawls")
    assert crawl["portal"] == "sotttt" and crawl["finished_at"]
    assert crawl["status"] == "done"
    n_articles = rows(crawled.data, "select count(*) n from articles")[0]["n"]
    assert crawl["articles_new"] == n_articles


def test_second_crawl_adds_no_rows(crawled, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    before = rows(data, "select url, title, text, warc_record_id from articles order by url")
    again = govarchive(
        "crawl", "sotttt", "--data", str(data), "--base-url", crawled.replica_url, *FAST
    )
    assert again.returncode == 0, again.stdout + again.stderr[-2000:]
    after = rows(data, "select url, title, text, warc_record_id from articles order by url")
    assert [r["url"] for r in after] == [r["url"] for r in before]
    assert after == before  # unchanged articles keep pointing at their first capture
    assert len(rows(data, "select id from crawls")) == 2
    # The second run refers to the first run's payloads instead of storing them again.
    first, second = (
        {
            r["record_type"]
            for r in rows(
                data,
                "select distinct record_type from fetches where crawl_id = ? and status = 200",
                crawl_id,
            )
        }
        for crawl_id in (1, 2)
    )
    assert first == {"response"} and second == {"revisit"}
    # And, the first walk being complete, it stops each section at the archived articles.
    assert rows(data, "select mode from crawls order by id") == [
        {"mode": "full"},
        {"mode": "incremental"},
    ]
    first_file, second_file = sorted((data / "warc").glob("*.warc.gz"))
    assert second_file.stat().st_size < 0.10 * first_file.stat().st_size
    # Links found broken by the first run are not asked for again.
    [second] = rows(data, "select requests, broken_links, errors from crawls where id = 2")
    assert second == {"requests": second["requests"], "broken_links": 0, "errors": 0}
    assert second["requests"] <= 40


def test_full_recrawl_walks_every_listing_and_stores_revisits(crawled, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    again = govarchive("crawl", "sotttt", "--data", str(data), "--full",
                       "--base-url", crawled.replica_url, *FAST)  # fmt: skip
    assert again.returncode in (0, 1), again.stderr[-2000:]
    profile = load_profile("sotttt")
    first, second = (
        Counter(
            r["record_type"]
            for r in rows(
                data, "select url, record_type from fetches where crawl_id = ? and status = 200", n
            )  # fmt: skip
            if profile.article_id(r["url"]) is None
        )
        for n in (1, 2)
    )
    # Every listing page again, each a revisit of the first capture; archived articles are
    # not fetched again (they are rechecked only while recent).
    assert first == {"response": first.total()} and second == {"revisit": first.total()}
    revisits = [r for p in (data / "warc").glob("*.warc.gz") for _, r in iter_records(p)
                if r.rec_type == "revisit"]  # fmt: skip
    assert all(r.rec_headers.get_header("WARC-Refers-To") for r in revisits)
    for path in (data / "warc").glob("*.warc.gz"):
        assert warcio_check(path).returncode == 0
    # --full asks again for every listed article found broken before (attachments are asked
    # for again only with the article that links them).
    broken_ids = [
        {
            profile.article_id(r["url"])
            for r in rows(data, "select url from fetches where broken_link = 1 and crawl_id = ?", n)
        }
        - {None}
        for n in (1, 2)
    ]
    assert broken_ids[0] and broken_ids[1] == broken_ids[0]


def test_recent_articles_are_rechecked_with_conditional_requests(crawled, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    n_articles = rows(data, "select count(*) n from articles")[0]["n"]
    # The replica's articles are years old: widen the recheck window to all of them.
    recheck_all = ["-s", "GOVARCHIVE_RECHECK_DAYS=100000"]
    again = govarchive("crawl", "sotttt", "--data", str(data), "--base-url",
                       crawled.replica_url, *recheck_all, *FAST)  # fmt: skip
    assert again.returncode in (0, 1), again.stderr[-2000:]
    not_modified = rows(data, "select record_type, count(*) n from fetches where crawl_id = 2 "
                        "and status = 304 group by 1")  # fmt: skip
    assert not_modified == [{"record_type": "revisit", "n": n_articles}]
    [crawl] = rows(data, "select * from crawls where id = 2")
    assert crawl["articles_unchanged"] == n_articles
    assert crawl["articles_new"] == crawl["articles_updated"] == crawl["articles_removed"] == 0
    profiles = {
        r.rec_headers.get_header("WARC-Profile")
        for p in (data / "warc").glob("*.warc.gz")
        for _, r in iter_records(p, ("revisit",))
        if r.http_headers.get_statuscode() == "304"
    }
    assert profiles == {"http://netpreserve.org/warc/1.1/revisit/server-not-modified"}


def test_max_articles_stops_early(replica, tmp_path):
    result = govarchive(
        "crawl",
        "sotttt",
        "--data",
        str(tmp_path),
        "--base-url",
        replica.url,
        "--max-articles",
        "5",
        *FAST,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    profile = load_profile("sotttt")
    article_fetches = [r for r in rows(tmp_path, "select url, status from fetches")
                       if profile.article_id(r["url"])]  # fmt: skip
    # Five article pages are fetched; those the replica holds (not all it links) are archived.
    assert len(article_fetches) == 5
    archived = rows(tmp_path, "select count(*) n from articles")[0]["n"]
    assert 1 <= archived == sum(r["status"] == 200 for r in article_fetches)
    assert rows(tmp_path, "select mode from crawls") == [{"mode": "limited"}]


def test_bad_profile_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text('[portal]\nbase_url = "ftp://x"\nstart_paths = ["/a"]\n')
    result = govarchive("crawl", str(bad), "--data", str(tmp_path / "data"))
    assert result.returncode == 2
    assert f"{bad}: portal.base_url: must be an http(s) URL" in result.stderr
    assert not (tmp_path / "data").exists()
