"""Search plans for large archives (archive.search): same rows, newest first, without the count.

A five-article archive stands in for a million: lowering ``FEW_MATCHES`` makes a two-match
search take the plan that a common term takes on a large archive.
"""

from __future__ import annotations

import pytest

import archive.search
from archive.metadata import datasette_settings

from .test_datasette import datasette, get_json  # noqa: F401 - the fixture is used below


def titles(page: dict) -> list[str]:
    return [row[page["columns"].index("title")] for row in page["rows"]]


@pytest.mark.parametrize("query", ["hoi nghi", "Hội nghị", "dang uy"])
def test_many_matches_walk_the_date_index_and_give_the_same_rows(datasette, monkeypatch, query):  # noqa: F811
    few = get_json(datasette, "/archive/articles.json", _search=query)
    monkeypatch.setattr(archive.search, "FEW_MATCHES", 0)
    many = get_json(datasette, "/archive/articles.json", _search=query)
    assert titles(many) == titles(few) and titles(few)
    assert few["filtered_table_rows_count"] == len(few["rows"])
    assert many["filtered_table_rows_count"] is None and not many["facet_results"]
    assert "newest first" in many["human_description_en"]


def test_the_index_walk_pages_through_every_match(datasette, monkeypatch):  # noqa: F811
    monkeypatch.setattr(archive.search, "FEW_MATCHES", 0)
    page = get_json(datasette, "/archive/articles.json", _search="hoi nghi", _size="1")
    seen = titles(page)
    while page.get("next"):
        page = get_json(
            datasette, "/archive/articles.json", _fts_search="hoi nghi", _nocount="1",
            _nofacet="1", _size="1", _next=page["next"],
        )  # fmt: skip
        seen += titles(page)
    assert seen == [
        "Hội nghị trực tuyến về cải cách hành chính",
        "Hội nghị Ban Chấp hành Đảng bộ Thành phố lần thứ 15",
    ]


def test_other_sorts_and_column_searches_keep_datasettes_plan(datasette, monkeypatch):  # noqa: F811
    monkeypatch.setattr(archive.search, "FEW_MATCHES", 0)
    by_title = get_json(datasette, "/archive/articles.json", _search="hoi nghi", _sort="title")
    assert by_title["filtered_table_rows_count"] == 2
    column = get_json(datasette, "/archive/articles.json", _search_title="hoi nghi")
    assert column["filtered_table_rows_count"] == 2


def test_serve_turns_facet_suggestions_off():
    assert datasette_settings()["suggest_facets"] is False
