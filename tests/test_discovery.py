"""Discovery: a portal is crawled from its home page, its sitemaps and its feeds, not only from
the sections a profile names; sections are rows that routine crawls keep up to date."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from archive.store import SCHEMA_VERSION, Archive
from crawler.profiles import load_profile
from crawler.replica import serve_replica

from .changing_portal import ChangingPortal
from .conftest import FAST, govarchive

PORTAL = "https://sotttt.hanoi.gov.vn"
NO_ATTACHMENTS = ("-s", "GOVARCHIVE_FETCH_ATTACHMENTS=0")
#: Sitemaps above this size (gunzipped) are not read: the "oversized" case.
SITEMAP_MAX = 20_000


def rows(data, sql, *params):
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


def crawl(portal, profile, data, *extra):
    with serve_replica(portal.directory) as server:
        result = govarchive("crawl", str(profile), "--data", str(data), "--base-url", server.url,
                            *FAST, *NO_ATTACHMENTS, *extra)  # fmt: skip
        return result, [path for path in server.requests.paths]


def urlset(*locs: tuple[str, str], news: bool = False) -> bytes:
    entries = []
    for loc, date in locs:
        extra = (
            f"<news:news><news:publication><news:name>So</news:name><news:language>vi"
            f"</news:language></news:publication><news:publication_date>{date}"
            f"</news:publication_date><news:title>t</news:title></news:news>"
            if news
            else f"<lastmod>{date}</lastmod>"
        )
        entries.append(f"<url><loc>{PORTAL}{loc}</loc>{extra}</url>")
    namespace = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
        f'schemas/sitemap/0.9"{namespace}>{"".join(entries)}</urlset>'
    ).encode()


def sitemap_index(*locs: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{PORTAL}{loc}</loc></sitemap>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/'
        f'schemas/sitemap/0.9">{entries}</sitemapindex>'
    ).encode()


def rss(loc: str, date: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Tin</title>'
        f"<link>{PORTAL}/</link><description>d</description><item><title>a</title>"
        f"<link>{PORTAL}{loc}</link><pubDate>{date}</pubDate></item></channel></rss>"
    ).encode()


def atom(loc: str, date: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Tin</title><id>{PORTAL}/atom</id><updated>{date}</updated><entry><title>a"
        f'</title><id>{PORTAL}{loc}</id><link href="{PORTAL}{loc}"/><updated>{date}</updated>'
        "</entry></feed>"
    ).encode()


def test_a_profile_without_start_paths_is_valid(tmp_path):
    text = Path(load_profile("sotttt").path).read_text(encoding="utf-8")
    start = text.index("start_paths = [")
    path = tmp_path / "sotttt.toml"
    path.write_text(text[:start] + "start_paths = []\n" + text[text.index("]", start) + 1 :])
    assert load_profile(path).start_paths == ()


@pytest.fixture
def fed_portal(tmp_path):
    """A portal with one listed section, whose other articles only sitemaps or feeds name."""
    portal = ChangingPortal(tmp_path / "site", {"/vi/tin-tuc-su-kien": 3}, home=True)
    lone = {name: portal.take() for name in ("plain", "news", "gz", "index", "rss", "atom")}
    day = portal.now.strftime("%Y-%m-%d")
    portal.extra = {
        lone[name].url: (lone[name].html.encode(), "text/html; charset=utf-8") for name in lone
    }
    portal.extra.update(
        {
            "/sitemap.xml": (urlset((lone["plain"].url, day)), "application/xml"),
            "/sitemaps/index.xml": (
                sitemap_index("/sitemaps/news.xml", "/sitemaps/more.xml.gz",
                              "/sitemaps/broken.xml", "/sitemaps/big.xml", "/sitemaps/child.xml"),
                "application/xml",
            ),  # fmt: skip
            "/sitemaps/news.xml": (
                urlset((lone["news"].url, portal.now.isoformat()), news=True),
                "application/xml",
            ),
            "/sitemaps/more.xml.gz": (
                gzip.compress(urlset((lone["gz"].url, day))),
                "application/x-gzip",
            ),
            "/sitemaps/child.xml": (urlset((lone["index"].url, day)), "text/xml"),
            "/sitemaps/broken.xml": (b"<?xml version='1.0'?><urlset><url><lo", "text/xml"),
            "/sitemaps/big.xml": (
                urlset(*[(f"/x/-/view_content/{n}-x.html", day) for n in range(400)]),
                "application/xml",
            ),
            "/feed.rss": (rss(lone["rss"].url, "Mon, 01 Jan 2024 08:00:00 +0700"),
                          "application/rss+xml"),
            "/feed.atom": (atom(lone["atom"].url, "2024-01-01T08:00:00+07:00"),
                           "application/atom+xml"),
        }
    )  # fmt: skip
    assert len(portal.extra["/sitemaps/big.xml"][0]) > SITEMAP_MAX
    portal.head_links = [
        '<link rel="alternate" type="application/rss+xml" href="/feed.rss">',
        f'<link rel="alternate" type="application/atom+xml" href="{PORTAL}/feed.atom">',
    ]
    (portal.directory / "robots.txt").write_text(
        f"User-agent: *\nDisallow: /admin\nSitemap: {PORTAL}/sitemaps/index.xml\n"
    )
    portal.write()
    return portal, lone


def test_articles_only_sitemaps_or_feeds_name_are_archived(fed_portal, tmp_path):
    portal, lone = fed_portal
    profile = portal.profile(tmp_path / "fed.toml", start_paths=[])
    data = tmp_path / "data"
    limit = f"GOVARCHIVE_SITEMAP_MAX_SIZE={SITEMAP_MAX}"
    result, requested = crawl(portal, profile, data, "-s", limit)
    assert result.returncode == 0, result.stderr[-3000:]

    found = {r["article_id"]: r["found_via"] for r in rows(data, "select * from articles")}
    listed = {a.article_id for a in portal.sections["/vi/tin-tuc-su-kien"]}
    assert listed <= set(found)
    assert found[lone["plain"].article_id] == f"sitemap {PORTAL}/sitemap.xml"
    assert found[lone["news"].article_id] == f"sitemap {PORTAL}/sitemaps/news.xml"
    assert found[lone["gz"].article_id] == f"sitemap {PORTAL}/sitemaps/more.xml.gz"
    assert found[lone["index"].article_id] == f"sitemap {PORTAL}/sitemaps/child.xml"
    assert found[lone["rss"].article_id] == f"feed {PORTAL}/feed.rss"
    assert found[lone["atom"].article_id] == f"feed {PORTAL}/feed.atom"
    for article_id in listed:
        assert found[article_id].startswith(f"listing {PORTAL}/vi/tin-tuc-su-kien")
    assert len(found) == len(listed) + len(lone)  # one row per article

    notes = {r["url"]: r for r in rows(data, "select * from fetches where note is not null")}
    broken = notes[f"{PORTAL}/sitemaps/broken.xml"]
    assert broken["status"] == 200 and "broken" in broken["note"] and broken["error"] is None
    big = notes[f"{PORTAL}/sitemaps/big.xml"]
    assert big["status"] == 200 and f"larger than {SITEMAP_MAX:,}" in big["note"]
    assert not any("/x/-/view_content/" in path for path in requested)  # not read at all
    assert rows(data, "select errors from crawls")[0]["errors"] == 0
    # robots.txt is fetched once (by Scrapy's robots.txt middleware) and read for sitemaps.
    assert requested.count("/robots.txt") == 1

    sections = {r["url"]: r for r in rows(data, "select * from sections")}
    news = sections[f"{PORTAL}/vi/tin-tuc-su-kien"]
    assert news["state"] == "active" and news["found_via"] == f"link {PORTAL}/"
    assert news["articles_seen"] == 3 and news["depth"] == 1


def test_a_later_sitemap_date_makes_a_routine_crawl_recheck_an_old_article(fed_portal, tmp_path):
    portal, lone = fed_portal
    profile = portal.profile(tmp_path / "fed.toml", start_paths=[])
    data = tmp_path / "data"
    settings = (
        "-s",
        "GOVARCHIVE_RECHECK_DAYS=0",
        "-s",
        f"GOVARCHIVE_SITEMAP_MAX_SIZE={SITEMAP_MAX}",
    )
    first, _ = crawl(portal, profile, data, *settings)
    assert first.returncode == 0, first.stderr[-3000:]
    later = (portal.now + timedelta(days=30)).strftime("%Y-%m-%d")
    portal.extra["/sitemap.xml"] = (urlset((lone["plain"].url, later)), "application/xml")
    portal.write()
    second, requested = crawl(portal, profile, data, *settings)
    assert second.returncode == 0, second.stderr[-3000:]
    assert lone["plain"].url in requested  # its lastmod is after its capture
    assert lone["rss"].url not in requested  # its feed date is not
    assert rows(data, "select mode from crawls where id = 2")[0]["mode"] == "incremental"


def test_routine_crawls_find_new_sections_and_mark_removed_ones(tmp_path):
    portal = ChangingPortal(
        tmp_path / "site", {"/vi/tin-tuc-su-kien": 30, "/vi/thanh-tra": 12}, home=True
    )
    profile = portal.profile(tmp_path / "p.toml", start_paths=[], stop_after_known=5)
    data = tmp_path / "data"
    first, _ = crawl(portal, profile, data)
    assert first.returncode == 0, first.stderr[-3000:]
    assert rows(data, "select count(*) n from articles")[0]["n"] == 42
    sections = {r["url"]: r["state"] for r in rows(data, "select * from sections")}
    assert sections == {  # the home page lists no article here: it is not a section
        f"{PORTAL}/vi/tin-tuc-su-kien": "active",
        f"{PORTAL}/vi/thanh-tra": "active",
    }

    added = portal.add_section("/vi/chuyen-doi-so", 14)
    portal.remove_section("/vi/thanh-tra")
    second, requested = crawl(portal, profile, data)
    # A section the portal had is gone: an error the archivist hears of (once: a vanished
    # section is not revisited), unlike a broken link.
    assert second.returncode == 1, second.stderr[-3000:]
    errors = rows(data, "select url, error from fetches where crawl_id = 2 and error is not null")
    assert errors == [{"url": f"{PORTAL}/vi/thanh-tra", "error": "HTTP 404 Not Found"}]

    crawl_row = rows(data, "select * from crawls where id = 2")[0]
    assert crawl_row["mode"] == "incremental" and crawl_row["requests"] == len(requested)
    found = {r["article_id"]: r["found_via"] for r in rows(data, "select * from articles")}
    assert {a.article_id for a in added} <= set(found)
    assert crawl_row["articles_new"] == len(added)
    # Not a walk of the whole portal: the known section's older pages and articles are left
    # alone (its recent articles are rechecked, as always: see the last crawl).
    assert not any("tin-tuc-su-kien?" in path and "_101_cur=2" in path for path in requested)

    by_url = {r["url"]: r for r in rows(data, "select * from sections")}
    new = by_url[f"{PORTAL}/vi/chuyen-doi-so"]
    assert new["state"] == "active" and new["first_crawl_id"] == 2 and new["articles_seen"] == 14
    gone = by_url[f"{PORTAL}/vi/thanh-tra"]
    assert gone["state"] == "vanished" and gone["vanished_reason"] == "HTTP 404"

    status = govarchive("status", "--data", str(data))
    assert f"new section {PORTAL}/vi/chuyen-doi-so" in status.stdout
    assert f"vanished section {PORTAL}/vi/thanh-tra" in status.stdout
    as_json = json.loads(govarchive("status", "--data", str(data), "--json").stdout)
    assert [s["url"] for s in as_json["sections_vanished"]] == [f"{PORTAL}/vi/thanh-tra"]

    # An unchanged portal: the home page and the known sections, nothing else.
    third, requested = crawl(portal, profile, data, "-s", "GOVARCHIVE_RECHECK_DAYS=0")
    assert third.returncode == 0, third.stderr[-3000:]
    assert len(requested) <= 8, requested


def test_an_archive_of_schema_1_gains_sections_and_found_via(tmp_path):
    path = tmp_path / "archive.db"
    Archive(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE sections")
        db.execute("ALTER TABLE articles DROP COLUMN found_via")
        db.execute("PRAGMA user_version = 1")
    with Archive(path) as archive:
        assert "found_via" in archive.db["articles"].columns_dict
        assert archive.db["sections"].exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_links_are_sorted_before_any_request_is_built(tmp_path):
    from crawler.discovery import classify_links, section_url
    from crawler.urls import UrlMap

    profile = load_profile("sotttt")
    urls = UrlMap(profile.base_url, "http://127.0.0.1:9")
    hrefs = [
        "/vi/tin-tuc-su-kien/-/view_content/123-tin.html",
        "/vi/tin-tuc-su-kien?p_p_id=101&p_p_lifecycle=0&_101_cur=2",
        "/vi/thanh-tra",
        "/documents/1/file.pdf",
        "/theme/main.css?v=1",
        "https://other.example.org/vi/thanh-tra",
        "javascript:void(0)",
        "/vi/tin-tuc-su-kien/-/view_content/pop_up/123-tin.html",
        "/vi/thanh-tra",
    ]
    links = classify_links(hrefs, "http://127.0.0.1:9/", profile, urls)
    assert links.articles == [
        ("http://127.0.0.1:9/vi/tin-tuc-su-kien/-/view_content/123-tin.html", "123")
    ]
    assert links.pagers == [
        "http://127.0.0.1:9/vi/tin-tuc-su-kien?p_p_id=101&p_p_lifecycle=0&_101_cur=2"
    ]
    assert links.candidates == ["http://127.0.0.1:9/vi/thanh-tra"]
    assert section_url(f"{PORTAL}/vi/tin-tuc-su-kien?p_p_id=101&_101_cur=2", profile) == (
        f"{PORTAL}/vi/tin-tuc-su-kien"
    )
