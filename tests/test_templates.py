"""CMS templates and the EasyWebHub/LacViet portals (sldtbxh-daknong): profiles on shared
templates, pages told apart by their markers, URL-pattern pagers, dates from listings, and a
real crawl of the bundled cut of the sldtbxh-daknong replica."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from scrapy.http import HtmlResponse

from crawler.extract import extract_article, not_an_article
from crawler.extract.markers import ARTICLE, LISTING, OTHER, page_kind
from crawler.listings import listed_links, next_pattern_page
from crawler.profiles import TEMPLATES_DIR, load_profile
from crawler.replica import DAKNONG_DEMO_REPLICA, ReplicaSite, serve_replica

from .conftest import FAST, govarchive

PORTAL = "https://sldtbxh.daknong.gov.vn"
SECTION = "/tin-tuc-su-kien/nguoi-co-cong"
DOCUMENT = "/nghi-dinh-dieu-chinh-luong-huu-tro-cap-bao-hiem-xa-hoi-va-tro-cap-hang-thang"


@pytest.fixture(scope="module")
def daknong():
    return load_profile("sldtbxh-daknong")


def page(path: str) -> bytes:
    site = ReplicaSite(DAKNONG_DEMO_REPLICA)
    return site.resolve(path).file.read_bytes()


def truth() -> dict[str, dict]:
    with (DAKNONG_DEMO_REPLICA / "ground_truth.jsonl").open(encoding="utf-8") as handle:
        return {unquote(r["url"]): r for r in map(json.loads, handle)}


# -- templates ---------------------------------------------------------------------------------


def test_sotttt_and_hiza_share_the_liferay_template():
    sotttt, hiza = load_profile("sotttt"), load_profile("hiza")
    assert sotttt.template == hiza.template == "liferay-cttdt"
    assert sotttt.selectors == hiza.selectors
    assert sotttt.article_pattern.pattern == hiza.article_pattern.pattern
    assert sotttt.base_url != hiza.base_url
    portal_file = Path(sotttt.path).read_text(encoding="utf-8")
    assert "[selectors]" not in portal_file and "[links]" not in portal_file


def test_a_portal_file_by_path_names_a_bundled_template_and_overrides_one_key(tmp_path):
    portal = tmp_path / "mine.toml"
    portal.write_text(
        '[portal]\nname = "mine"\ntemplate = "liferay-cttdt"\n'
        'base_url = "https://example.gov.vn"\nstart_paths = ["/news"]\n\n'
        '[selectors]\ntitle = "h1.headline"\n',
        encoding="utf-8",
    )
    mine, sotttt = load_profile(portal), load_profile("sotttt")
    assert mine.selectors.title == "h1.headline"
    assert mine.selectors.body == sotttt.selectors.body  # the rest of the table stays
    assert mine.date_pattern.pattern == sotttt.date_pattern.pattern


def test_the_config_hash_covers_the_template(tmp_path):
    template = tmp_path / "cms.toml"
    template.write_text((TEMPLATES_DIR / "liferay-cttdt.toml").read_text(encoding="utf-8"))
    portal = tmp_path / "portal.toml"
    portal.write_text(
        Path(load_profile("sotttt").path)
        .read_text(encoding="utf-8")
        .replace('template = "liferay-cttdt"', 'template = "cms.toml"'),
        encoding="utf-8",
    )
    before = load_profile(portal).config_hash
    template.write_text(template.read_text().replace('sapo = "p.sapo"', 'sapo = "p.lead"'))
    assert load_profile(portal).config_hash != before


# -- pages of the EasyWebHub/LacViet template -----------------------------------------------


def test_pages_are_told_apart_by_the_templates_markers(daknong):
    assert page_kind(page(SECTION), daknong) == LISTING
    assert page_kind(page(DOCUMENT), daknong) == ARTICLE
    assert page_kind(page("/404"), daknong) == OTHER  # "Default 404 Not Found Page", 200
    assert page_kind(page("/giai-quyet-don-thu"), daknong) == OTHER
    assert page_kind(page(SECTION), load_profile("sotttt")) is None  # no markers: URLs decide


def test_listing_items_carry_the_date_printed_beside_them(daknong):
    response = HtmlResponse(PORTAL + SECTION, body=page(SECTION), encoding="utf-8")
    items = listed_links(response, daknong)
    by_path = {urlsplit(item.url).path: item.date for item in items}
    expected = {
        path: record["listing_date"]
        for path, record in truth().items()
        if SECTION in record["listed_on"]
    }
    assert expected and all(by_path.get(p) == d for p, d in expected.items())
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", item.date) for item in items if item.date)


def test_the_pager_pattern_gives_the_next_page(daknong):
    assert next_pattern_page(PORTAL + SECTION, daknong) == PORTAL + SECTION + "/page/2"
    assert next_pattern_page(PORTAL + SECTION + "/page/2", daknong) == PORTAL + SECTION + "/page/3"
    assert next_pattern_page(PORTAL + "/", daknong) is None
    assert next_pattern_page(PORTAL + SECTION, load_profile("sotttt")) is None


def test_a_news_post_and_a_document_post(daknong):
    records = truth()
    path = "/mong-tim-duoc-phan-mo-dong-doi-de-co-noi-yen-nghi-dang-hoang"
    news = extract_article(page(path), PORTAL + path, daknong)
    assert news.title == records[path]["title"]
    assert news.published_at == records[path]["page_date_iso"]  # with its time, +07:00
    assert news.date_source == "page" and news.category is None
    assert "Số lượt người xem" not in news.text and "Quay lại" not in news.text
    document = extract_article(page(DOCUMENT), PORTAL + DOCUMENT, daknong)
    assert document.published_at == "2019-05-22"  # the page prints the day only
    assert document.category == "Văn bản QPPL"
    assert [a.url.rsplit("/", 1)[-1] for a in document.attachments] == ["NĐ-49-2019-CP.pdf"]
    assert "TIN ĐÃ ĐƯA" not in document.text and "Xem tiếp" not in document.text


def test_the_listing_date_is_used_when_the_page_prints_none(daknong):
    path = "/mong-tim-duoc-phan-mo-dong-doi-de-co-noi-yen-nghi-dang-hoang"
    undated = re.sub(rb'<td[^>]*class="Time"[^>]*>[^<]*</td>', b"", page(path))
    article = extract_article(undated, PORTAL + path, daknong, listing_date="27/07/2019")
    assert (article.published_at, article.date_source) == ("2019-07-27", "listing")
    assert article.listing_date == "27/07/2019"
    # A page date on another day wins, unless the template says the listing's is the one.
    dated = extract_article(page(path), PORTAL + path, daknong, listing_date="01/01/2019")
    assert dated.date_source == "page" and dated.published_at.startswith("2019-07-")
    listing_first = replace(daknong, date_preference="listing")
    moved = extract_article(page(path), PORTAL + path, listing_first, listing_date="01/01/2019")
    assert (moved.published_at, moved.date_source) == ("2019-01-01", "listing")


def test_placeholders_and_empty_posts_are_not_articles(daknong):
    empty = extract_article(page("/1"), PORTAL + "/1", daknong)
    assert empty.title and not empty.text
    assert "empty post" in not_an_article(empty, daknong.require_content)
    assert not_an_article(empty, load_profile("sotttt").require_content) is None
    # The generator's placeholder has a heading ("EasyWeb") and no content; the crawl never
    # extracts it (no article markers), and extraction alone would not keep it either.
    placeholder = extract_article(page("/404"), PORTAL + "/404", daknong)
    assert not_an_article(placeholder, daknong.require_content) is not None
    bare = extract_article(b"<html><body><p></p></body></html>", PORTAL + "/x", daknong)
    assert "placeholder" in not_an_article(bare)


# -- a crawl of the bundled cut -----------------------------------------------------------------


@pytest.fixture(scope="module")
def daknong_crawl(tmp_path_factory):
    """A crawl of the cut from one section page, with a portal file loaded by path."""
    tmp = tmp_path_factory.mktemp("daknong")
    portal = tmp / "daknong.toml"
    portal.write_text(
        '[portal]\nname = "sldtbxh-daknong"\ntemplate = "easywebhub-lacviet"\n'
        f'base_url = "{PORTAL}"\nstart_paths = ["{SECTION}"]\n',
        encoding="utf-8",
    )
    with serve_replica(DAKNONG_DEMO_REPLICA) as server:
        result = govarchive(
            "crawl", str(portal), "--data", str(tmp / "data"), "--base-url", server.url, *FAST
        )
    db = sqlite3.connect(tmp / "data" / "archive.db")
    db.row_factory = sqlite3.Row
    yield result, db, tmp / "data"
    db.close()


def test_the_crawl_archives_the_sections_articles_with_listing_titles_and_dates(daknong_crawl):
    result, db, _ = daknong_crawl
    assert "Traceback" not in result.stderr
    rows = {unquote(urlsplit(r["url"]).path): dict(r) for r in db.execute("select * from articles")}
    listed = {p: r for p, r in truth().items() if r["listed_on"] and r["expected_iso"]}
    assert set(rows) == set(listed)  # both pages of the section, nothing else
    for path, record in listed.items():
        row = rows[path]
        assert row["title"] == unicodedata.normalize("NFC", record["listing_title"])
        assert row["published_at"][:10] == record["expected_iso"]
        assert row["published_at"].endswith("+07:00") and row["date_source"] == "page"
        assert row["listing_date"] == record["listing_date"]
        assert row["warc_record_id"] and row["category"] is None


def test_the_crawl_walks_the_pattern_pager_to_the_first_missing_page(daknong_crawl):
    result, db, _ = daknong_crawl
    fetched = {
        urlsplit(r["url"]).path: dict(r)
        for r in db.execute("select url, status, error, note, broken_link from fetches")
    }
    assert fetched[SECTION + "/page/2"]["status"] == 200
    assert fetched[SECTION + "/page/3"]["status"] == 404
    assert fetched[SECTION + "/page/3"]["error"] is None  # the end of the pager, not a failure
    assert SECTION + "/page/4" not in fetched
    assert not any(p.startswith("/web/") for p in fetched)  # Wayback links are not followed
    # The generator's placeholder (status 200) is recorded with a reason, not archived.
    placeholder = fetched["/giai-quyet-don-thu"]
    assert placeholder["status"] == 200 and placeholder["note"].startswith("not an article")
    # The listing's own broken link (curly quotes the generator dropped) is a broken link, and
    # the walk has no error.
    assert not [p for p, r in fetched.items() if r["error"]]
    broken = [unquote(p) for p, r in fetched.items() if r["broken_link"]]
    assert "/dao-ly-“uong-nuoc-nho-nguon”" in broken
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]


def test_the_crawl_reextracts_to_the_same_rows(daknong_crawl):
    _, _, data = daknong_crawl
    result = govarchive("reextract", "--data", str(data))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0 new, 0 changed" in result.stdout + result.stderr


def test_the_replica_server_serves_the_cut_as_the_static_host_did():
    site = ReplicaSite(DAKNONG_DEMO_REPLICA)
    path = "/mong-tim-duoc-phan-mo-dong-doi-de-co-noi-yen-nghi-dang-hoang"
    assert site.lookup(path).status == 200
    assert site.lookup(path + "/").status == 404  # no trailing-slash variant, no redirect
    assert site.lookup(path + "/index.html").status == 404
    assert site.lookup(path + "?page=2").status == 404  # queries are not pages here
    assert site.lookup(SECTION + "/page/2").status == 200
    assert site.lookup(SECTION + "/page/3").status == 404
    assert site.lookup("/404").status == 200  # the generator's soft 404


def test_a_home_page_tells_which_template_its_cms_is():
    from crawler.profiles import recognise_templates
    from crawler.replica import DEMO_REPLICA

    sotttt_home = (DEMO_REPLICA / "pages" / "index.html").read_text(encoding="utf-8")
    assert recognise_templates(sotttt_home) == ["liferay-cttdt"]
    assert recognise_templates(page(SECTION).decode("utf-8")) == ["easywebhub-lacviet"]
    assert recognise_templates("<html><body>WordPress</body></html>") == []
