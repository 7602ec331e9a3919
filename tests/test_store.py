"""How the archive database behaves, shown with real SQLite files.

A crawl pipeline hands ``Archive`` batches of extracted articles; these tests are the contract
it can rely on: one row per URL, re-crawls that change nothing write nothing, every row keeps
pointing at the WARC record it was extracted from, and search ignores Vietnamese accents.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from archive.store import Archive, ArchiveError
from archive.textfold import fold

PORTAL = "hanoi"


def article(number: int, **overrides: Any) -> dict[str, Any]:
    """An article as the crawler's extractor hands it over, WARC pointer included."""
    row: dict[str, Any] = {
        "url": f"https://hanoi.gov.vn/tin-tuc/bai-viet-{number}.htm",
        "portal": PORTAL,
        "article_id": str(number),
        "title": f"Hội nghị tổng kết công tác năm 2023 số {number}",
        "published_at": "2024-04-05T06:16:00+07:00",
        "published_raw": "Ngày đăng 05/04/2024 | 6:16 AM",
        "author": "Minh Anh",
        "category": "Tin tức - Sự kiện",
        "sapo": "Sáng 5/4, UBND Thành phố Hà Nội tổ chức hội nghị tổng kết.",
        "text": "Phát biểu tại hội nghị, đồng chí Chủ tịch UBND Thành phố nhấn mạnh…",
        "language": "vi",
        "crawled_at": "2024-04-05T01:00:00+00:00",
        "extractor": "trafilatura 2.3.1 + hanoi.toml",
        "warc_filename": "warc/hanoi-20240405-00000.warc.gz",
        "warc_offset": 1000 * number,
        "warc_length": 800,
        "warc_record_id": f"<urn:uuid:00000000-0000-0000-0000-{number:012d}>",
        "warc_payload_digest": "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "images": [
            {"url": f"https://hanoi.gov.vn/anh/{number}-1.jpg", "caption": "Toàn cảnh hội nghị"},
            {"url": f"https://hanoi.gov.vn/anh/{number}-2.jpg", "caption": None, "alt": "ảnh"},
        ],
        "attachments": [
            {"url": f"https://hanoi.gov.vn/vb/{number}.pdf", "title": "Báo cáo tổng kết"},
        ],
    }
    row.update(overrides)
    return row


def recrawled(row: dict[str, Any], crawl_id: int | None = None, **changes: Any) -> dict[str, Any]:
    """The same page fetched again: new fetch time and WARC record, content as ``changes`` say."""
    return {
        **row,
        "crawled_at": "2024-05-01T01:00:00+00:00",
        "warc_filename": "warc/hanoi-20240501-00000.warc.gz",
        "warc_offset": row["warc_offset"] + 7,
        "warc_record_id": row["warc_record_id"].replace("0000-0000-0000", "1111-1111-1111"),
        "crawl_id": crawl_id,
        **changes,
    }


def table_sizes(archive: Archive) -> dict[str, int]:
    return {
        table: archive.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("articles", "images", "attachments", "articles_fts")
    }


def search(archive: Archive, query: str) -> list[str]:
    """Titles matching a search typed by a user, the way the Datasette plugin runs it."""
    return [
        title
        for (title,) in archive.db.execute(
            "SELECT a.title FROM articles a JOIN articles_fts f ON f.rowid = a.rowid "
            "WHERE articles_fts MATCH fold(?) ORDER BY a.title",
            [query],
        )
    ]


@pytest.fixture
def archive(tmp_path: Path):
    with Archive(tmp_path / "data" / "archive.db") as opened:
        yield opened


# -- folding ---------------------------------------------------------------------------------


def test_fold_drops_vietnamese_marks_and_maps_d_with_stroke():
    assert fold("Hội nghị Đảng ủy quận Hoàn Kiếm") == "Hoi nghi Dang uy quan Hoan Kiem"
    assert fold("Ủy ban nhân dân Thành phố Hà Nội") == "Uy ban nhan dan Thanh pho Ha Noi"


def test_fold_handles_decomposed_input_from_some_editors():
    decomposed = unicodedata.normalize("NFD", "Đảng ủy")
    assert decomposed != "Đảng ủy"
    assert fold(decomposed) == "Dang uy"


def test_fold_leaves_ascii_punctuation_and_other_scripts_readable():
    assert fold("Hanoi, 2024") == "Hanoi, 2024"
    assert fold("“Thủ đô” – văn hiến") == "“Thu do” – van hien"
    assert fold("Ελληνικά 한국어") == "Ελληνικα 한국어"


# -- opening ---------------------------------------------------------------------------------


def test_opening_creates_the_data_directory_and_a_wal_mode_database(tmp_path: Path):
    path = tmp_path / "new" / "data" / "archive.db"
    with Archive(path) as archive:
        assert archive.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert archive.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert {"articles", "crawls", "fetches", "images", "attachments", "articles_fts"} <= set(
            archive.db.table_names()
        )
        assert archive.db["articles"].pks == ["url"]
    assert path.is_file()


def test_opening_an_existing_archive_again_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        archive.save_articles([article(1)])
    with Archive(path) as archive:
        assert archive.article_count() == 1


def test_a_file_that_is_not_sqlite_gives_a_clear_error(tmp_path: Path):
    path = tmp_path / "archive.db"
    path.write_text("these are not the bytes you are looking for\n" * 100)
    with pytest.raises(ArchiveError, match=r"archive\.db: not a SQLite database"):
        Archive(path)


def test_a_researcher_can_open_an_archive_read_only(tmp_path: Path):
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        archive.save_articles([article(1)])
    with Archive(path, readonly=True) as archive:
        assert archive.article_count(PORTAL) == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            archive.save_articles([article(2)])


# -- saving articles -------------------------------------------------------------------------


def test_new_articles_are_stored_with_their_images_attachments_and_warc_pointer(archive):
    counts = archive.save_articles([article(1), article(2)])

    assert counts == {"new": 2, "updated": 0, "unchanged": 0}
    row = archive.db["articles"].get("https://hanoi.gov.vn/tin-tuc/bai-viet-1.htm")
    assert row["title"] == "Hội nghị tổng kết công tác năm 2023 số 1"
    assert (row["warc_filename"], row["warc_offset"], row["warc_length"]) == (
        "warc/hanoi-20240405-00000.warc.gz",
        1000,
        800,
    )
    images = list(archive.db["images"].rows_where("article_url = ?", [row["url"]], "position"))
    assert [(i["position"], i["caption"], i["alt"]) for i in images] == [
        (1, "Toàn cảnh hội nghị", None),
        (2, None, "ảnh"),
    ]
    assert table_sizes(archive) == {
        "articles": 2,
        "images": 4,
        "attachments": 2,
        "articles_fts": 2,
    }


def test_crawling_the_same_pages_again_adds_nothing_and_keeps_the_original_record(archive):
    first = [article(n) for n in range(1, 6)]
    archive.save_articles(first)
    before = table_sizes(archive)

    crawl_id = archive.begin_crawl(PORTAL, settings={}, versions={})
    counts = archive.save_articles([recrawled(row, crawl_id) for row in first])

    assert counts == {"new": 0, "updated": 0, "unchanged": 5}
    assert table_sizes(archive) == before
    row = archive.db["articles"].get(first[0]["url"])
    # Still the record the row was extracted from; the re-fetch is logged in `fetches`.
    assert row["warc_offset"] == first[0]["warc_offset"]
    assert row["crawled_at"] == first[0]["crawled_at"]
    assert row["crawl_id"] is None


def test_a_changed_article_is_replaced_and_points_at_its_new_record(archive):
    original = article(1)
    archive.save_articles([original])

    corrected = recrawled(
        original,
        title="Hội nghị sơ kết quý I năm 2024",
        images=[{"url": "https://hanoi.gov.vn/anh/moi.jpg", "caption": "Ảnh mới"}],
        attachments=[],
    )
    counts = archive.save_articles([corrected])

    assert counts == {"new": 0, "updated": 1, "unchanged": 0}
    row = archive.db["articles"].get(original["url"])
    assert row["title"] == "Hội nghị sơ kết quý I năm 2024"
    assert row["warc_offset"] == corrected["warc_offset"]
    assert [i["url"] for i in archive.db["images"].rows] == ["https://hanoi.gov.vn/anh/moi.jpg"]
    assert archive.db["attachments"].count == 0
    assert search(archive, "so ket") == ["Hội nghị sơ kết quý I năm 2024"]
    assert search(archive, "tong ket cong tac") == []
    assert table_sizes(archive)["articles_fts"] == 1


def test_a_change_in_any_extracted_field_counts_as_an_update(archive):
    archive.save_articles([article(1)])
    assert archive.save_articles([article(1, author="Thu Hà")])["updated"] == 1
    assert archive.save_articles([article(1, author="Thu Hà", images=[])])["updated"] == 1
    assert archive.save_articles([article(1, author="Thu Hà", images=[])])["unchanged"] == 1


def test_the_same_url_twice_in_one_batch_keeps_one_row_the_last_version(archive):
    counts = archive.save_articles([article(1), article(1, title="Bản sửa")])

    assert counts == {"new": 1, "updated": 1, "unchanged": 0}
    assert archive.article_count() == 1
    assert archive.db["articles"].get(article(1)["url"])["title"] == "Bản sửa"


def test_values_are_stored_as_sqlite_gives_them_back_so_recrawls_compare_equal(archive):
    archive.save_articles([article(1, article_id=1)])
    assert archive.save_articles([article(1, article_id=1)])["unchanged"] == 1
    assert archive.known_article_ids(PORTAL) == {"1"}


def test_the_same_attachment_linked_twice_is_stored_once(archive):
    pdf = {"url": "https://hanoi.gov.vn/vb/1.pdf", "title": "Tải về"}
    archive.save_articles([article(1, attachments=[pdf, pdf])])
    assert archive.db["attachments"].count == 1


def test_a_misspelt_field_is_refused_with_its_name(archive):
    with pytest.raises(ArchiveError, match=r"unknown field\(s\) \['athor'\]"):
        archive.save_articles([article(1, athor="Minh Anh")])
    assert archive.article_count() == 0


def test_an_article_without_url_or_portal_is_refused(archive):
    with pytest.raises(ArchiveError, match="'portal' is required"):
        archive.save_articles([article(1, portal=None)])


def test_a_failing_batch_inside_a_transaction_leaves_nothing_behind(archive):
    with pytest.raises(ArchiveError), archive.transaction():
        archive.save_articles([article(1)])
        archive.add_fetches([{"url": None}])
    assert archive.article_count() == 0


def test_known_article_ids_and_counts_are_per_portal(archive):
    archive.save_articles(
        [article(1), article(2), article(3, portal="hanoimoi", url="https://x/3")]
    )

    assert archive.known_article_ids(PORTAL) == {"1", "2"}
    assert archive.article_count(PORTAL) == 2
    assert archive.article_count() == 3


# -- search ----------------------------------------------------------------------------------


def test_search_ignores_accents_and_d_with_stroke(archive):
    archive.save_articles(
        [
            article(1, title="Hội nghị Ban Chấp hành Đảng bộ Thành phố", text="…"),
            article(2, title="Đảng ủy Khối các cơ quan Thành phố", text="…", sapo=None),
            article(3, title="Hội thảo về chuyển đổi số", text="…", sapo=None),
        ]
    )

    assert search(archive, "dang uy") == ["Đảng ủy Khối các cơ quan Thành phố"]
    assert search(archive, "Đảng ủy") == ["Đảng ủy Khối các cơ quan Thành phố"]
    assert search(archive, "hoi thao") == ["Hội thảo về chuyển đổi số"]
    # Without fold() FTS5 keeps đ, which is why queries must be folded like the index.
    raw = archive.db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'đảng'")
    assert raw.fetchone()[0] == 0


def test_the_index_can_be_checked_and_rebuilt_after_rowids_drift(archive):
    archive.save_articles([article(1), article(2)])
    assert archive.check_fts() == []

    archive.db.execute("DELETE FROM articles_fts WHERE rowid = (SELECT min(rowid) FROM articles)")
    archive.db.execute("UPDATE articles_fts SET url = 'https://elsewhere' WHERE url LIKE '%-2.htm'")
    assert archive.check_fts() == [
        "1 article(s) missing from articles_fts",
        "1 articles_fts row(s) point at the wrong or no article",
    ]

    assert archive.rebuild_fts() == 2
    assert archive.check_fts() == []


# -- crawls and fetches ----------------------------------------------------------------------


def test_a_crawl_is_recorded_from_start_to_finish_with_its_fetches(archive):
    crawl_id = archive.begin_crawl(
        PORTAL, settings={"DOWNLOAD_DELAY": 1.0}, versions={"scrapy": "2.13"}
    )
    archive.add_fetches(
        [
            {
                "crawl_id": crawl_id,
                "url": "https://hanoi.gov.vn/tin-tuc/bai-viet-1.htm",
                "status": 200,
                "content_type": "text/html; charset=utf-8",
                "length": 48213,
                "fetched_at": "2024-04-05T01:00:00+00:00",
                "warc_filename": "warc/hanoi-20240405-00000.warc.gz",
                "warc_offset": 1000,
                "warc_record_id": "<urn:uuid:00000000-0000-0000-0000-000000000001>",
            },
            {"crawl_id": crawl_id, "url": "https://hanoi.gov.vn/loi.htm", "error": "TimeoutError"},
        ]
    )
    archive.save_articles([article(1, crawl_id=crawl_id)])
    archive.finish_crawl(
        crawl_id, "done_with_errors", {"requests": 2, "pages": 1, "articles_new": 1, "errors": 1}
    )

    crawl = archive.last_crawl(PORTAL)
    assert crawl["id"] == crawl_id
    assert crawl["status"] == "done_with_errors"
    assert crawl["finished_at"] >= crawl["started_at"]
    assert (crawl["requests"], crawl["articles_new"], crawl["bytes"]) == (2, 1, 0)
    assert crawl["settings"] == '{"DOWNLOAD_DELAY": 1.0}'
    failed = next(archive.db["fetches"].rows_where("error IS NOT NULL"))
    assert (failed["status"], failed["warc_record_id"], failed["fetched_at"] is not None) == (
        None,
        None,
        True,
    )


def test_finishing_a_crawl_checks_status_and_counter_names(archive):
    crawl_id = archive.begin_crawl(PORTAL, settings={}, versions={})
    with pytest.raises(ArchiveError, match="expected one of"):
        archive.finish_crawl(crawl_id, "ok", {})
    with pytest.raises(ArchiveError, match=r"unknown field\(s\) \['artcles_new'\]"):
        archive.finish_crawl(crawl_id, "done", {"artcles_new": 1})
    with pytest.raises(ArchiveError, match="no such crawl"):
        archive.finish_crawl(crawl_id + 1, "done", {})


def test_an_article_cannot_point_at_a_crawl_that_does_not_exist(archive):
    with pytest.raises(sqlite3.IntegrityError):
        archive.save_articles([article(1, crawl_id=42)])
