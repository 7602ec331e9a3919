"""The small rules behind a robust crawl, one at a time (the whole crawl: test_hostile.py)."""

from __future__ import annotations

import json
import re

import pytest

from crawler.extract import decode_html, extract_article
from crawler.fetch_policy import body_problem
from crawler.profiles import load_profile
from crawler.replica import DEMO_REPLICA
from crawler.urls import canonical_url, strip_session_ids

from .hostile import PDF_BODY, PNG_BODY, to_windows_1258

PORTAL = "https://sotttt.hanoi.gov.vn"


# -- URLs ------------------------------------------------------------------------------------


def test_session_ids_are_dropped_from_paths_and_queries():
    article = f"{PORTAL}/tin/-/view_content/1-a.html"
    assert strip_session_ids(article + ";jsessionid=0A1B2C3D") == article
    assert strip_session_ids(article + ";JSESSIONID=x?p=1") == article + "?p=1"
    assert strip_session_ids(article + "?PHPSESSID=abc&p=1#top") == article + "?p=1"
    assert strip_session_ids(article) is article  # nothing to do: the same object back


def test_canonical_urls_sort_the_query_and_keep_its_values_as_they_are():
    assert canonical_url(f"{PORTAL}/a?b=2&a=1") == f"{PORTAL}/a?a=1&b=2"
    assert canonical_url(f"{PORTAL}/a?q=H%C3%A0+N%E1%BB%99i&a=") == (
        f"{PORTAL}/a?a=&q=H%C3%A0+N%E1%BB%99i"
    )
    assert canonical_url(f"{PORTAL}/a?x=2&x=1") == f"{PORTAL}/a?x=2&x=1"  # repeated: kept order
    assert canonical_url(f"{PORTAL}/a?") == f"{PORTAL}/a"


# -- bodies ----------------------------------------------------------------------------------


def test_bodies_are_judged_by_their_bytes_not_their_label():
    html = "text/html; charset=utf-8"
    assert body_problem(b"", html, PORTAL + "/a").kind == "empty"
    assert body_problem(b"  \n", "", PORTAL + "/a").kind == "empty"
    assert body_problem(b"", "text/plain", PORTAL + "/robots.txt") is None  # allowed empty
    assert "a PDF document" in body_problem(PDF_BODY, html, PORTAL + "/a").text
    assert "a PNG image" in body_problem(PNG_BODY, "", PORTAL + "/a").text
    assert body_problem(PDF_BODY, "application/pdf", PORTAL + "/a.pdf") is None  # as labelled
    assert body_problem(b"<html><body><p>half", html, PORTAL + "/a").kind == "truncated"
    assert body_problem(b"<html><body></body></html>\n", html, PORTAL + "/a") is None


# -- encodings -------------------------------------------------------------------------------


def replica_articles(count: int) -> list[bytes]:
    with open(DEMO_REPLICA / "ground_truth.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle][:count]
    return [(DEMO_REPLICA / row["file"]).read_bytes() for row in rows]


def test_windows_1258_copies_of_real_pages_extract_exactly_as_the_utf8_originals():
    profile = load_profile("sotttt")
    url = PORTAL + "/tin/-/view_content/1-a.html"
    meta = re.compile("charset=utf-8", re.IGNORECASE)
    checked = 0
    for original in replica_articles(30):
        text = original.decode("utf-8")
        expected = extract_article(original, url, profile)
        checked += bool(expected.text)
        for label in ("windows-1258", "utf-8", "iso-8859-1", ""):
            copy = to_windows_1258(meta.sub(f"charset={label}" if label else "", text))
            got = extract_article(copy, url, profile)
            assert (got.title, got.text, got.author) == (
                expected.title, expected.text, expected.author
            ), label  # fmt: skip
    assert checked >= 20


@pytest.mark.parametrize(
    "text",
    [
        "Perché però la città è già più bella; andrò là, farò ciò, sarò lì.",  # Italian
        "A educação não é só informação; São Paulo, corações, órgãos, mãe.",  # Portuguese
        "L'été à Noël, l'hôtel où ça sentait le café brûlé; naïve Zoë.",  # French
    ],
)
def test_western_text_in_a_legacy_charset_is_not_mistaken_for_vietnamese(text):
    page = f"<html><body><p>{text}</p></body></html>"
    assert decode_html(page.encode("cp1252")) == page
    declared = f'<html><head><meta charset="iso-8859-1"></head><body><p>{text}</p></body></html>'
    assert decode_html(declared.encode("cp1252")) == declared


def test_decoded_text_is_nfc_whatever_the_bytes_used():
    decomposed = "Ho\u0302\u0323i nghi\u0323"  # "Hội nghị" typed with combining marks
    assert decode_html(decomposed.encode()) == "Hội nghị"
    assert decode_html(to_windows_1258("Đảng ủy: hội nghị")) == "Đảng ủy: hội nghị"
