"""Search snippets (archive.snippets): highlighted as the search matched, escaped, short."""

from __future__ import annotations

import unicodedata

from archive.snippets import highlight, query_terms, snippet

TEXT = "Sáng 5/4, Hội nghị Ban Chấp hành Đảng bộ Thành phố đã họp bàn về nghị quyết."


def test_words_are_matched_with_accents_folded_as_the_search_folds_them():
    assert str(highlight(TEXT, "hoi nghi")) == (
        "Sáng 5/4, <mark>Hội</mark> <mark>nghị</mark> Ban Chấp hành Đảng bộ Thành phố đã họp"
        " bàn về <mark>nghị</mark> quyết."
    )
    assert "<mark>Đảng</mark>" in highlight(TEXT, "dang uy")
    assert "<mark>Đảng</mark>" in highlight(TEXT, "Đảng")


def test_only_whole_words_match_as_fts5_tokens_do_unless_a_prefix_is_asked_for():
    assert str(highlight("Hội nghị", "hoi ngh")) == "<mark>Hội</mark> nghị"
    assert str(highlight("Hội nghị", "ngh*")) == "Hội <mark>nghị</mark>"
    assert query_terms('"hoi" AND nghi* OR x') == [("hoi", False), ("nghi", True), ("x", False)]


def test_decomposed_text_keeps_its_characters_and_its_highlights():
    decomposed = unicodedata.normalize("NFD", TEXT)
    marked = str(highlight(decomposed, "hoi nghi"))
    assert "<mark>Hội</mark> <mark>nghị</mark>" in marked


def test_markup_in_the_text_stays_text():
    marked = str(snippet("<script>alert(1)</script> Hội nghị <b>x</b>", "hoi"))
    assert "<script>" not in marked and "&lt;script&gt;" in marked
    assert "<mark>Hội</mark>" in marked and "&lt;b&gt;" in marked


def test_a_snippet_is_short_and_centred_on_the_first_match():
    text = "mở đầu " * 200 + "Hội nghị tổng kết năm. " + "kết thúc " * 200
    cut = str(snippet(text, "hoi nghi", width=120))
    plain = cut.replace("<mark>", "").replace("</mark>", "")
    assert cut.startswith("…") and cut.endswith("…") and len(plain) <= 122
    assert "<mark>Hội</mark> <mark>nghị</mark>" in cut
    assert str(snippet("ngắn thôi", "hoi")) == "ngắn thôi"  # no match: the start of the text


def test_a_match_far_into_a_long_text_is_found_and_one_near_the_start_cut_short():
    far = "mở đầu " * 1000 + "Hội nghị tổng kết. " + "kết thúc " * 10
    assert "<mark>Hội</mark> <mark>nghị</mark>" in snippet(far, "hoi nghi")
    near = "Hội nghị tổng kết. " + "kết thúc " * 1000
    cut = str(snippet(near, "hoi nghi"))
    assert cut.startswith("<mark>Hội</mark> <mark>nghị</mark>") and cut.endswith("…")
