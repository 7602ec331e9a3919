"""What a researcher sees when the archive is served with Datasette.

These run a real Datasette over a real archive file and query its JSON API, the same requests
a browser or a notebook would make. The point of interest is search: the index holds folded
text, and the govarchive plugin folds what the user types, so accents never get in the way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette
from datasette.plugins import pm

import archive.datasette_plugin
from archive.metadata import datasette_metadata
from archive.store import Archive

ARTICLES = [
    ("bai-1", "Hội nghị Ban Chấp hành Đảng bộ Thành phố lần thứ 15", "Thời sự"),
    ("bai-2", "Hội nghị trực tuyến về cải cách hành chính", "Thời sự"),
    ("bai-3", "Đảng ủy Khối các cơ quan Thành phố học tập Nghị quyết", "Xây dựng Đảng"),
    ("bai-4", "Hội thảo chuyển đổi số trong cơ quan nhà nước", "Chuyển đổi số"),
    ("bai-5", "Lễ kỷ niệm ngày Giải phóng Thủ đô", "Văn hóa"),
]


def use_govarchive_plugin() -> None:
    """Make sure Datasette runs our plugin, whether or not the package is pip-installed.

    Installed, Datasette loads it from the ``datasette`` entry point under the name
    "govarchive"; from a bare checkout we register the same module under that name.
    """
    if not pm.is_registered(archive.datasette_plugin) and pm.get_plugin("govarchive") is None:
        pm.register(archive.datasette_plugin, name="govarchive")


@pytest.fixture
def datasette(tmp_path: Path) -> Datasette:
    path = tmp_path / "data" / "archive.db"
    with Archive(path) as store:
        store.save_articles(
            [
                {
                    "url": f"https://hanoi.gov.vn/tin-tuc/{slug}.htm",
                    "portal": "hanoi",
                    "article_id": slug,
                    "title": title,
                    "category": category,
                    "published_at": f"2024-04-0{number}T08:00:00+07:00",
                    "text": "Nội dung bài viết.",
                    "warc_filename": "warc/hanoi-20240405-00000.warc.gz",
                    "warc_offset": 1000 * number,
                    "warc_length": 900,
                    "images": [{"url": f"https://hanoi.gov.vn/anh/{slug}.jpg"}],
                }
                for number, (slug, title, category) in enumerate(ARTICLES, start=1)
            ]
        )
    use_govarchive_plugin()
    # The plugin must be registered before Datasette is built: it wraps the ASGI app then.
    return Datasette(files=[str(path)], metadata=datasette_metadata())


def get_json(datasette: Datasette, path: str, **params: Any) -> Any:
    async def fetch() -> Any:
        response = await datasette.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    return asyncio.run(fetch())


def search_titles(datasette: Datasette, **params: str) -> list[str]:
    rows = get_json(datasette, "/archive/articles.json", _shape="array", **params)
    return sorted(row["title"] for row in rows)


def test_the_plugin_is_active(datasette):
    # Listed under its distribution name when pip-installed, else under its module name.
    [ours] = [
        plugin
        for plugin in get_json(datasette, "/-/plugins.json")
        if plugin["name"] in ("govarchive", "archive.datasette_plugin")
    ]
    assert set(ours["hooks"]) == {
        "asgi_wrapper", "prepare_connection", "render_cell", "extra_template_vars",
        "register_routes", "register_output_renderer", "register_facet_classes",
    }  # fmt: skip


def test_searching_without_accents_finds_the_accented_articles(datasette):
    assert search_titles(datasette, _search="hoi nghi") == [
        "Hội nghị Ban Chấp hành Đảng bộ Thành phố lần thứ 15",
        "Hội nghị trực tuyến về cải cách hành chính",
    ]


def test_d_typed_as_d_finds_d_with_stroke(datasette):
    assert search_titles(datasette, _search="dang uy") == [
        "Đảng ủy Khối các cơ quan Thành phố học tập Nghị quyết",
    ]


def test_searching_with_accents_works_too(datasette):
    # FTS5 alone would drop the tone marks but keep đ and find nothing; the plugin folds it.
    assert search_titles(datasette, _search="Đảng ủy") == [
        "Đảng ủy Khối các cơ quan Thành phố học tập Nghị quyết",
    ]
    assert search_titles(datasette, _search="hội thảo") == [
        "Hội thảo chuyển đổi số trong cơ quan nhà nước",
    ]


def test_searching_a_single_column_is_folded_as_well(datasette):
    assert search_titles(datasette, _search_title="Thủ đô") == [
        "Lễ kỷ niệm ngày Giải phóng Thủ đô",
    ]


def test_fold_is_available_in_hand_written_sql(datasette):
    rows = get_json(
        datasette,
        "/archive.json",
        sql="select count(*) as n from articles_fts where articles_fts match fold(:q)",
        q="Đảng ủy",
        _shape="array",
    )
    assert rows == [{"n": 1}]


def test_articles_are_faceted_by_portal_and_category_newest_first(datasette):
    page = get_json(datasette, "/archive/articles.json")
    assert set(page["facet_results"]) == {"portal", "category", "published_at"}
    assert page["facet_results"]["published_at"]["type"] == "year"
    assert [v["value"] for v in page["facet_results"]["published_at"]["results"]] == ["2024"]
    assert "sorted by published_at descending" in page["human_description_en"]
    assert page["rows"][0][page["columns"].index("title")] == ARTICLES[-1][1]


def test_the_index_tables_are_hidden_and_the_columns_explained(datasette):
    tables = {t["name"]: t for t in get_json(datasette, "/archive.json")["tables"]}
    visible = {name for name, table in tables.items() if not table["hidden"]}
    assert visible == {"articles", "article_versions", "crawls", "fetches", "images", "attachments",
                       "sections"}  # fmt: skip

    metadata = get_json(datasette, "/-/metadata.json")
    columns = metadata["databases"]["archive"]["tables"]["articles"]["columns"]
    assert "offset" in columns["warc_offset"]
