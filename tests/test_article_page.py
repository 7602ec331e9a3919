"""The article page of an article that was edited and then removed (in-process Datasette)."""

from __future__ import annotations

import asyncio

from datasette.app import Datasette
from datasette.utils import tilde_encode

from archive.article_page import citation, diff_lines, local_date, paragraphs
from archive.metadata import datasette_metadata
from archive.store import Archive

from .test_datasette import use_govarchive_plugin

URL = "https://hanoi.gov.vn/tin-tuc/bai-1.htm"


def article(text: str, crawled_at: str) -> dict:
    return {
        "url": URL, "portal": "hanoi", "title": "Hội nghị tổng kết", "text": text,
        "sapo": "Mở đầu.", "published_at": "2024-04-05T06:16:00+07:00",
        "published_raw": "Ngày đăng 05/04/2024 | 6:16 AM", "author": "Minh Anh",
        "crawled_at": crawled_at, "warc_record_id": "<urn:uuid:1>",
        "images": [{"url": "https://hanoi.gov.vn/a.jpg", "caption": "Toàn cảnh hội nghị"}],
        "attachments": [{"url": "https://hanoi.gov.vn/qd.pdf", "title": "Quyết định 12"}],
    }  # fmt: skip


def test_versions_diff_silent_edit_and_removal_are_shown(tmp_path):
    path = tmp_path / "archive.db"
    with Archive(path) as store:
        store.save_articles([article("Mở đầu.\nĐoạn một.\nĐoạn hai.", "2024-04-05T00:00:00+00:00")])
        store.save_articles(
            [article("Mở đầu.\nĐoạn một.\nĐoạn hai đã sửa.", "2024-05-01T00:00:00+00:00")]
        )
        store.mark_removed(
            [{"url": URL, "reason": "gone (404)", "seen_at": "2024-06-01T00:00:00+00:00"}]
        )
    use_govarchive_plugin()
    datasette = Datasette(files=[str(path)], metadata=datasette_metadata())

    async def fetch(path: str) -> str:
        response = await datasette.client.get(path)
        assert response.status_code == 200, response.text
        return response.text

    page = asyncio.run(fetch("/archive/articles/" + tilde_encode(URL)))
    assert '<h1 class="article-title">Hội nghị tổng kết</h1>' in page
    assert "<p>Đoạn một.</p>" in page and "<p>Đoạn hai đã sửa.</p>" in page
    assert page.count("<p>Mở đầu.</p>") == 0 and '<p class="sapo">Mở đầu.</p>' in page
    assert "<del>Đoạn hai.</del><ins>Đoạn hai đã sửa.</ins>" in page
    assert 'class="govarchive-badge silent-edit"' in page
    assert "Removed from the portal" in page and "gone (404)" in page
    assert "Toàn cảnh hội nghị" in page and "Quyết định 12" in page
    assert "Versions (2)" in page

    # The timeline's data on the database page counts the edit (silent) and the removal.
    database_page = asyncio.run(fetch("/archive"))
    assert '{"articles": 1, "change": "silent edit", "month": "2024-05"}' in database_page
    assert '{"articles": 1, "change": "removal", "month": "2024-06"}' in database_page
    assert '{"articles": 1, "month": "2024-04", "portal": "hanoi"}' in database_page


def test_dates_paragraphs_citation_and_diff_helpers():
    assert local_date("2024-04-05T06:16:00+07:00") == "5 April 2024, 06:16 (UTC+07:00)"
    assert local_date("2024-04-05") == "5 April 2024"
    assert local_date("not a date") == "not a date"
    assert paragraphs("Sapo.\n\n Một. \nHai.", "Sapo.") == ["Một.", "Hai."]
    row = {**article("x", "2024-04-06T00:00:00+00:00"), "warc_filename": "warc/a.warc.gz",
           "warc_payload_digest": "sha1:ABC"}  # fmt: skip
    cite = citation(row)
    assert cite.startswith("Minh Anh. “Hội nghị tổng kết”. hanoi, 2024-04-05. " + URL)
    assert "Archived 2024-04-06 by govarchive, WARC record <urn:uuid:1> in warc/a.warc.gz" in cite
    assert diff_lines("--- before\n+++ after\n@@ -1 +1 @@\n-a\n+b\n c") == [
        ("gap", "…"),
        ("del", "a"),
        ("ins", "b"),
        ("same", "c"),
    ]
