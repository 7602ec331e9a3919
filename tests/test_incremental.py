"""Routine crawls from cron: cheap, catching new, edited and deleted articles."""

import re
import shutil
import sqlite3

import pytest

from crawler.replica import serve_replica

from .changing_portal import ChangingPortal
from .conftest import FAST, govarchive


def rows(data, sql, *params):
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


#: The replica holds pages only; linked documents would all be (expected) 404s.
NO_ATTACHMENTS = ("-s", "GOVARCHIVE_FETCH_ATTACHMENTS=0")


def crawl(portal, profile, data, *extra):
    extra = (*NO_ATTACHMENTS, *extra)
    with serve_replica(portal.directory) as server:
        result = govarchive("crawl", str(profile), "--data", str(data), "--base-url", server.url,
                            *FAST, *extra)  # fmt: skip
        return result, len(server.requests)


@pytest.fixture
def portal(tmp_path):
    portal = ChangingPortal(tmp_path / "site", {"/vi/tin-tuc-su-kien": 40, "/vi/thanh-tra": 30})
    return portal


def test_incremental_run_records_new_edited_and_deleted_articles(portal, tmp_path):
    profile = portal.profile(tmp_path / "changing.toml")
    data = tmp_path / "data"
    first, first_requests = crawl(portal, profile, data)
    assert first.returncode == 0, first.stderr[-3000:]
    assert rows(data, "select count(*) n from articles")[0]["n"] == 70

    news = portal.sections["/vi/tin-tuc-su-kien"]
    inspection = portal.sections["/vi/thanh-tra"]
    new = portal.publish("/vi/tin-tuc-su-kien", 5)
    silently_edited = [news[7], inspection[2]]
    redated = news[9]
    for article in silently_edited:
        portal.edit(article)
    portal.edit(redated, new_date=True)
    deleted = [news[11], inspection[4]]
    for article in deleted:
        portal.delete(article)

    second, second_requests = crawl(portal, profile, data)

    assert second.returncode == 0, second.stderr[-3000:]
    assert second_requests <= 60, second_requests
    [crawl_row] = rows(data, "select * from crawls where id = 2")
    assert crawl_row["mode"] == "incremental"
    assert crawl_row["requests"] == second_requests
    assert (crawl_row["articles_new"], crawl_row["articles_updated"],
            crawl_row["articles_removed"]) == (5, 3, 2)  # fmt: skip

    by_id = {r["article_id"]: r for r in rows(data, "select * from articles")}
    assert len(by_id) == 75  # nothing is ever deleted
    assert {a.article_id for a in new} <= set(by_id)
    for article in deleted:
        assert by_id[article.article_id]["removed_at"]
        assert by_id[article.article_id]["removed_reason"] == "HTTP 404"
    versions = rows(data, "select a.article_id, v.version, v.reason, v.silent_edit, v.diff "
                    "from article_versions v join articles a on a.url = v.article_url "
                    "order by a.article_id, v.version")  # fmt: skip
    edits = {v["article_id"]: v for v in versions if v["reason"] == "edit"}
    assert set(edits) == {a.article_id for a in [*silently_edited, redated]}
    assert {k: v["silent_edit"] for k, v in edits.items()} == {
        silently_edited[0].article_id: 1, silently_edited[1].article_id: 1,
        redated.article_id: 0}  # fmt: skip
    assert all("Cập nhật: nội dung đã được sửa đổi." in v["diff"] for v in edits.values())
    assert all(v["version"] == 2 for v in edits.values())
    for article in [*silently_edited, redated]:
        assert "Cập nhật: nội dung đã được sửa đổi." in by_id[article.article_id]["text"]
    print(f"requests: first run {first_requests}, incremental run {second_requests}")


def test_a_full_walk_notices_articles_gone_from_the_listings(portal, tmp_path):
    profile = portal.profile(tmp_path / "changing.toml")
    data = tmp_path / "data"
    assert crawl(portal, profile, data)[0].returncode == 0
    old = portal.sections["/vi/thanh-tra"][-1]  # too old to be rechecked
    portal.delete(old)
    result, _ = crawl(portal, profile, data, "--full")
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = rows(data, "select removed_at, removed_reason from articles where article_id = ?",
                 old.article_id)  # fmt: skip
    assert row["removed_at"] and row["removed_reason"] == "vanished from the portal's listings"


def test_a_second_crawl_exits_3_while_one_holds_the_data_directory(portal, tmp_path):
    from archive.lock import DataDirLock

    data = tmp_path / "data"
    profile = portal.profile(tmp_path / "changing.toml")
    with DataDirLock(data):
        result = govarchive("crawl", str(profile), "--data", str(data))
    assert result.returncode == 3
    assert "another govarchive command is running" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # The lock went with its holder.
    assert crawl(portal, profile, data)[0].returncode == 0


def test_cron_is_silent_when_all_is_well_and_keeps_a_log(portal, tmp_path):
    data = tmp_path / "data"
    profile = portal.profile(tmp_path / "changing.toml")
    with serve_replica(portal.directory) as server:
        result = govarchive("cron", str(profile), "--data", str(data), "--base-url", server.url,
                            *FAST, *NO_ATTACHMENTS)  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""
    log = (data / "logs" / "govarchive.log").read_text()
    assert "changing: full walk, 0 articles already archived" in log
    status = govarchive("status", "--data", str(data))
    assert status.returncode == 0
    [header, line] = status.stdout.splitlines()
    assert line.split()[:2] == ["changing", "#1"] and " done " in line


def test_cron_prints_one_line_when_something_went_wrong(portal, tmp_path):
    data = tmp_path / "data"
    profile = portal.profile(tmp_path / "changing.toml")
    shutil.rmtree(portal.directory / "pages")  # every page now answers 404
    (portal.directory / "pages").mkdir()
    with serve_replica(portal.directory) as server:
        result = govarchive("cron", str(profile), "--data", str(data), "--base-url", server.url,
                            *FAST)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "done_with_errors" in line and "logs/govarchive.log" in line


def test_a_crawl_by_hand_shows_a_live_progress_line(portal, tmp_path):
    profile = portal.profile(tmp_path / "changing.toml")
    # `govarchive crawl` turns the line on by itself when stderr is a terminal.
    result, _ = crawl(portal, profile, tmp_path / "data", "-s", "GOVARCHIVE_PROGRESS=1")
    assert result.returncode == 0
    last = [line for line in re.split(r"[\r\n]+", result.stderr) if line.strip()][-1].strip()
    assert re.fullmatch(r"\d+ pages, 70 articles saved, [\d.]+ pages/s", last), last
