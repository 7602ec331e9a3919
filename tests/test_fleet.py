"""A fleet: two portals crawled by one `govarchive crawl --fleet`, side by side in one process."""

from __future__ import annotations

import sqlite3

import pytest

from crawler.fleet import FleetError, load_fleet
from crawler.replica import DEMO_REPLICA, serve_replica
from crawler.replica_copies import renamed_portal
from tests.conftest import FAST, govarchive


@pytest.fixture(scope="module")
def second_portal(tmp_path_factory):
    """The demo replica again, as another portal ("demo2" on its own host name)."""
    dest = tmp_path_factory.mktemp("portal2")
    copy, profile = renamed_portal(DEMO_REPLICA, "sotttt", "demo2", "demo2.example.gov.vn", dest)
    with serve_replica(copy, host="127.0.0.2") as server:  # another host: side by side
        yield profile, server


def _rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_fleet_crawls_each_portal_as_its_own_crawl(crawled, second_portal, tmp_path):
    profile, server = second_portal
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f'[[portals]]\nportal = "sotttt"\nbase_url = "{crawled.replica_url}"\n\n'
        f'[[portals]]\nportal = "{profile}"\nbase_url = "{server.url}"\n'
        "settings = { CONCURRENT_REQUESTS_PER_DOMAIN = 8 }\n\n"
        '[[portals]]\nportal = "no-such-portal"\n\n'
        # On the same host as sotttt: crawled after it, never beside it.
        f'[[portals]]\nportal = "hiza"\nbase_url = "{crawled.replica_url}"\n'
    )
    data = tmp_path / "data"
    result = govarchive("crawl", "--fleet", str(fleet), "--data", str(data), *FAST)
    lines = result.stdout.splitlines()
    # A bad profile fails that portal only; the worst exit status is the run's.
    assert result.returncode == 2, result.stderr
    assert any(line.startswith("no-such-portal: failed:") for line in lines)
    assert lines[-1].startswith("fleet: 4 portals in ")
    db = data / "archive.db"
    single = crawled.data / "archive.db"
    expected = _rows(single, "SELECT count(*) FROM articles")[0][0]
    # Every portal's figures as in its own crawl: one crawls row each, same articles and errors.
    crawls = _rows(
        db,
        "SELECT portal, status, articles_new, errors FROM crawls"
        " WHERE portal != 'hiza' ORDER BY portal",
    )
    single_crawl = _rows(single, "SELECT status, articles_new, errors FROM crawls")[0]
    assert crawls == [("demo2", *single_crawl), ("sotttt", *single_crawl)]
    assert _rows(db, "SELECT count(*) FROM articles WHERE portal = 'sotttt'")[0][0] == expected
    titles = "SELECT article_id, title, published_at FROM articles WHERE portal = ? ORDER BY 1"
    assert _rows(db, titles, "demo2") == _rows(db, titles, "sotttt") == _rows(single, titles,
                                                                              "sotttt")  # fmt: skip
    hiza_start = _rows(db, "SELECT started_at FROM crawls WHERE portal = 'hiza'")[0][0]
    sotttt_end = _rows(db, "SELECT finished_at FROM crawls WHERE portal = 'sotttt'")[0][0]
    assert hiza_start >= sotttt_end
    # One WARC writer per portal: file names carry the portal.
    warcs = sorted(p.name.split("-")[0] for p in (data / "warc").glob("*.warc.gz"))
    assert warcs == ["demo2", "hiza", "sotttt"]
    verify = govarchive("verify", "--data", str(data))
    assert verify.returncode == 0, verify.stdout

    # cron: the next run of the fleet is a routine one (incremental per portal), and prints
    # nothing: all went well (the links the demo replica lacks are broken links, not errors).
    fleet.write_text(
        f'[[portals]]\nportal = "sotttt"\nbase_url = "{crawled.replica_url}"\n'
        f'[[portals]]\nportal = "{profile}"\nbase_url = "{server.url}"\n'
    )
    cron = govarchive("cron", "--fleet", str(fleet), "--data", str(data), *FAST)
    assert cron.returncode == 0 and cron.stdout == "" and cron.stderr == "", cron.stderr
    modes = _rows(db, "SELECT portal, mode, articles_new FROM crawls WHERE id > 3 ORDER BY 1")
    assert modes == [("demo2", "incremental", 0), ("sotttt", "incremental", 0)]


def test_fleet_file_errors_name_the_entry_and_field(tmp_path):
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[portals]]\nportal = "sotttt"\n[[portals]]\nportal = "https://x.gov.vn"\n')
    assert [entry.portal for entry in load_fleet(fleet)] == ["sotttt", "https://x.gov.vn"]
    fleet.write_text('[[portals]]\nportal = "sotttt"\nbase_url = "ftp://x"\n')
    with pytest.raises(FleetError, match=r"portals #1: `base_url`"):
        load_fleet(fleet)
    fleet.write_text('[[portals]]\nportals = "sotttt"\n')
    result = govarchive("crawl", "--fleet", str(fleet), "--data", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "portals #1: unknown field(s) ['portals']" in result.stderr
    both = govarchive("crawl", "sotttt", "--fleet", str(fleet), "--data", str(tmp_path / "d"))
    assert both.returncode == 2 and "not both" in both.stderr
