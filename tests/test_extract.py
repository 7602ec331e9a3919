"""What crawler.extract gets out of real article pages, and what it does with bad input.

Fixtures:
- ``fixtures/hiza/hiza-article-2024-04-05.html``: a HIZA article (text from the seed in
  shared/seed) rendered in the Liferay template that sotttt and hiza share.
- ``fixtures/sotttt_articles/<id>.html``: unmodified pages of the sotttt replica; ``urls.json``
  maps each id to the path it was saved under.
"""

from __future__ import annotations

import csv
import json
import pickle
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import lxml.html
import pytest

from crawler.dates import normalize_space
from crawler.extract import (
    Article,
    Attachment,
    Image,
    decode_html,
    extract_article,
    is_account,
    is_person_name,
    parse_byline,
)
from crawler.extract.decoding import to_nfc
from crawler.extract.page_metadata import PageMetadata
from crawler.profiles import load_profile
from crawler.replica import DEMO_REPLICA

FIXTURES = Path(__file__).parent / "fixtures"
HIZA_PAGE = FIXTURES / "hiza" / "hiza-article-2024-04-05.html"
HIZA_URL = (
    "https://hiza.hanoi.gov.vn/tin-hoat-dong/-/view_content/4912087-ban-chap-hanh-dang-bo-cac-"
    "khu-cong-nghiep-cong-nghiep-va-che-xuat-ha-noi-to-chuc-hoi-nghi-lan-thu-16.html"
)
HIZA_TITLE = (
    "Ban Chấp hành Đảng bộ các khu công nghiệp công nghiệp và chế xuất Hà Nội tổ chức Hội nghị "
    "lần thứ 16"
)
SOTTTT_URLS = json.loads((FIXTURES / "sotttt_articles" / "urls.json").read_text())
with open(DEMO_REPLICA / "pages.tsv", encoding="utf-8") as _tsv:
    DEMO_FILES = {row["url"]: row["file"] for row in csv.DictReader(_tsv, delimiter="\t")}
# Strings only page furniture contains; none may reach an article's text.
FURNITURE = (
    "View count",
    "Ngày đăng",
    "Publish date",
    "Các tin khác",
    "In bài viết",
    "Gửi mail",
    "Truy cập nội dung luôn",
    "Về đầu trang",
    "Ghi rõ nguồn",
    "admin admin",
    "Pho Ban bien tap",
)


@pytest.fixture(scope="module")
def sotttt():
    return load_profile("sotttt")


@pytest.fixture(scope="module")
def hiza():
    return load_profile("hiza")


def sotttt_page(article_id: str, profile) -> Article:
    path = FIXTURES / "sotttt_articles" / f"{article_id}.html"
    if not path.exists():  # pages the bundled demo replica already holds are not copied twice
        path = DEMO_REPLICA / DEMO_FILES[SOTTTT_URLS[article_id]]
    return extract_article(
        path.read_bytes(), "https://sotttt.hanoi.gov.vn" + SOTTTT_URLS[article_id], profile
    )


def assert_clean_text(article: Article) -> None:
    """Paragraphs one per line, normalised, and no page furniture."""
    lines = article.text.split("\n")
    assert all(line and line == line.strip() for line in lines)
    assert "\xa0" not in article.text and "  " not in article.text
    assert "Trang chủ" not in lines
    for furniture in FURNITURE:
        assert furniture not in article.text


# -- the hiza acceptance page ---------------------------------------------------------------


def test_hiza_article_with_its_profile(hiza):
    article = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL, hiza)

    assert article.title == HIZA_TITLE
    assert article.published_at == "2024-04-05T06:16:00+07:00"
    assert article.published_raw == "Ngày đăng 05/04/2024 | 6:16 AM"
    assert article.author == "Trần Minh"
    assert article.posted_by == "admin admin"  # the CMS account, not the author
    assert article.category == "Tin hoạt động"
    assert article.text.startswith("Ngày 04/4, Đảng ủy các khu công nghiệp (KCN)")
    assert article.text.endswith("nhiệm kỳ 2025-2030.")
    assert_clean_text(article)
    assert "Trần Minh" not in article.text  # the byline went to author


def test_hiza_sapo_that_repeats_the_title_is_not_a_lead(hiza):
    article = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL, hiza)
    assert article.sapo is None
    assert HIZA_TITLE not in article.text


def test_hiza_images_keep_their_captions_and_sidebar_banners_are_left_out(hiza):
    article = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL, hiza)
    assert [image.caption for image in article.images] == [
        "Đồng chí Trần Anh Tuấn, Phó Bí thư Thường trực báo cáo kết quả công tác 3 tháng đầu năm"
        " và triển khai nhiệm vụ công tác 9 tháng cuối năm 2024",
        "Đồng chí Lê Quang Long, Bí thư Đảng ủy phát biểu kết luận Hội nghị",
    ]
    assert article.images[0].url == (
        "https://hiza.hanoi.gov.vn/documents/20182/4912001/hoi-nghi-bch-lan-16-anh-1.jpg/"
        "6f0c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5?t=1712297760000"
    )


def test_hiza_identity_fields(hiza):
    # Fetched through another section path: the canonical link names the one true URL.
    other_path = HIZA_URL.replace("/tin-hoat-dong/", "/tin-tuc-su-kien/")
    article = extract_article(HIZA_PAGE.read_bytes(), other_path, hiza)
    assert article.url == HIZA_URL
    assert article.article_id == "4912087"
    assert article.language == "vi"
    assert article.extractor == "govarchive-extract/2 profile/hiza"  # trafilatura not needed


def test_hiza_article_without_a_profile_still_extracts():
    article = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL)

    assert article.title == HIZA_TITLE
    assert article.published_at == "2024-04-05T06:16:00+07:00"
    assert article.author == "Trần Minh"
    assert article.category == "Tin hoạt động"
    assert article.text.startswith("Ngày 04/4, Đảng ủy")
    assert article.text.endswith("nhiệm kỳ 2025-2030.")
    assert_clean_text(article)
    assert article.article_id is None
    assert article.extractor.startswith("govarchive-extract/2 trafilatura/")


def test_profile_whose_body_selector_no_longer_matches_falls_back_to_trafilatura(hiza):
    redesigned = replace(hiza, selectors=replace(hiza.selectors, body="div.new-article-body"))
    article = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL, redesigned)
    assert article.text.startswith("Ngày 04/4, Đảng ủy")
    assert "trafilatura/" in article.extractor
    assert article.article_id == "4912087"


# -- real sotttt pages ----------------------------------------------------------------------


def test_photo_report_with_bai_va_anh_byline(sotttt):
    article = sotttt_page("1675304", sotttt)

    assert article.title == "Trao giải và Triển lãm ảnh “Thủ đô Hà Nội xanh - sạch - đẹp 2016”"
    assert article.published_at == "2017-05-05T14:44:00+07:00"
    assert article.author == "Phạm Linh"  # from "Bài và Ảnh: Phạm Linh"
    assert article.posted_by == "Pho Ban bien tap"
    assert article.category == "Tin tức sự kiện"
    assert article.sapo is None  # the template's sapo field is empty on this page
    assert article.text.startswith("Chào mừng kỷ niệm 42 năm Ngày giải phóng miền Nam")
    assert "Bài và Ảnh" not in article.text
    assert_clean_text(article)


def test_photo_report_images_and_captions(sotttt):
    images = sotttt_page("1675304", sotttt).images
    assert len(images) == 6  # the lead image plus five in the body
    assert images[0] == Image(
        url="https://sotttt.hanoi.gov.vn/image/journal/article?img_id=1675303&t=1661588082445"
    )
    assert images[1].caption == (
        "Đ/c Nguyễn Xuân Quang – Phó Giám đốc Sở TT&TT phát biểu tại buổi lễ"
    )
    # A caption printed over two centred italic paragraphs is one caption.
    assert images[2].caption.endswith(
        "cho các tác giả tham dự Cuộc thi ảnh “Thủ đô Hà Nội xanh - sạch - đẹp 2016”"
    )
    assert images[4].caption is None  # this photo has none


def test_english_section_with_publish_date_label(sotttt):
    article = sotttt_page("1128519", sotttt)

    assert article.published_at == "2016-08-04T15:47:00+07:00"
    assert article.published_raw == "Publish date 04/08/2016 | 3:47 PM"
    assert article.author == "Bích Thảo"
    assert article.category == "Cải cách hành chính"  # breadcrumb "Home" / section
    assert article.language == "vi"  # the page says lang="en-US"; the text is Vietnamese
    assert article.sapo.startswith("Từ ngày 1/8/2016 đến 30/10/2016")
    assert article.text.startswith(article.sapo)  # sapo first
    assert_clean_text(article)


def test_date_without_label_and_an_attachment(sotttt):
    article = sotttt_page("1524552", sotttt)

    assert article.published_at == "2017-02-22T09:51:00+07:00"
    assert article.published_raw == "22/02/2017 | 9:51 AM"
    assert article.author == "Thanh Bình"
    # The link text is "tại đây" (here), so the file name is the better title.
    assert article.attachments == [
        Attachment(
            url="https://sotttt.hanoi.gov.vn/documents/554897/716507/TT+35.PDF/TT%2035.PDF",
            title="TT 35.PDF",
        )
    ]
    assert article.text.endswith("Xem chi tiết Thông tư và các biểu mẫu tại đây./.")


def test_theo_line_is_a_source_not_an_author(sotttt):
    article = sotttt_page("690654", sotttt)

    assert article.source == "HNP"
    assert article.author is None  # and "admin admin" is an account, not a fallback author
    assert article.posted_by == "admin admin"
    assert article.sapo.startswith("Ngày 15/10, Sở Thông tin và Truyền thông")
    assert article.text.startswith(article.sapo)
    assert "(Theo HNP)" not in article.text
    assert_clean_text(article)


def test_unclosed_cms_html_does_not_pull_the_page_into_the_body(sotttt):
    # The CMS cut this article inside a table tag, so the parser nests the rest of the page
    # (sidebars, footer) inside the body element.
    article = sotttt_page("692841", sotttt)

    assert article.title == "Quản lý các trạm BTS trên địa bàn thành phố Hà Nội"
    assert article.published_at == "2008-04-14T00:00:00+07:00"
    assert article.posted_by == "admin admin"
    assert article.text.startswith("1. Hiện trạng các trạm BTS trên địa bàn Hà Nội")
    assert_clean_text(article)
    assert "LIÊN KẾT WEBSITE" not in article.text.upper()


@pytest.mark.parametrize("article_id", sorted(SOTTTT_URLS))
def test_every_sotttt_fixture_has_the_core_fields(sotttt, article_id):
    article = sotttt_page(article_id, sotttt)
    assert article.title and article.published_at and article.text
    assert article.url.startswith("https://sotttt.hanoi.gov.vn/")
    assert article.article_id == article_id
    assert all(image.url.startswith("https://") for image in article.images)
    assert_clean_text(article)


def test_generic_extraction_of_a_sotttt_page(sotttt):
    with_profile = sotttt_page("1675304", sotttt)
    generic = sotttt_page("1675304", None)

    assert generic.title == with_profile.title  # not the portlet heading "Tin tức nổi bật"
    assert generic.published_at == with_profile.published_at  # with its time of day
    assert generic.author == "Phạm Linh"
    assert generic.category == "Tin tức sự kiện"
    assert generic.text.startswith("Chào mừng kỷ niệm 42 năm")
    assert "Các tin khác" not in generic.text and "Tin tức nổi bật" not in generic.text


def test_generic_extraction_finds_a_body_in_plain_divs_under_a_bold_lead(sotttt):
    """trafilatura's fast pass keeps only this page's bold lead (685 characters): the body is a
    run of ``<div>``s of pasted text with no ``<p>``. The page's long text runs add up to more
    than twice the lead, so trafilatura's fallbacks run; they drop the short lines closing the
    body, and the fast pass's byline and source lines are put back."""
    with_profile = sotttt_page("3904396", sotttt)
    generic = sotttt_page("3904396", None)

    assert len(generic.text) > 5000
    assert generic.text == with_profile.text
    assert (generic.author, generic.source) == ("Lê Hải", "HNP")


# -- bylines, sources and CMS accounts -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "author", "source"),
    [
        ("Phạm Linh", "Phạm Linh", None),
        ("Bài và ảnh: Phạm Linh", "Phạm Linh", None),
        ("Bài và Ảnh: Phạm Linh", "Phạm Linh", None),
        ("Vũ Thị Hồng Hạnh", "Vũ Thị Hồng Hạnh", None),
        ("Phạm Linh (tổng hợp)", "Phạm Linh", None),
        ("Thu Hằng - Trọng Toàn", "Thu Hằng, Trọng Toàn", None),
        ("ĐỨC THIỆN", "Đức Thiện", None),
        ("(Theo HNP)", None, "HNP"),
        ("(Nguồn HNP)", None, "HNP"),
        ("Nguồn: Báo Kinh tế Đô thị", None, "Báo Kinh tế Đô thị"),
        ("Theo https://mic.gov.vn/", None, "mic.gov.vn"),
    ],
)
def test_byline_forms(line, author, source):
    byline = parse_byline(line)
    assert (byline.author, byline.source) == (author, source)


@pytest.mark.parametrize(
    "line",
    [
        "Hội nghị kết thúc vào 11h30 cùng ngày./.",
        "Chi tiết xem file đính kèm./.",
        "Trân trọng thông báo!",
        "Sở Thông tin và Truyền thông Hà Nội",
        "(Theo quy định tại Điều 7 Luật Thủ đô)",  # a legal reference, not an outlet
        "Phòng QLBCXB",  # an office
        "Hà Nội",
        "Pho Ban bien tap",
    ],
)
def test_body_lines_that_are_not_bylines(line):
    assert parse_byline(line) is None


def test_cms_accounts_and_roles_are_not_people(sotttt):
    for account in ("admin admin", "Ad Min", "Pho Ban bien tap", "Sở Thông tin và Truyền thông"):
        assert is_account(account, sotttt.not_authors)
    assert not is_account("Phạm Văn Linh", sotttt.not_authors)
    assert is_person_name("Lê Xuân Hải")


@pytest.mark.parametrize(
    ("marked", "author"),
    [
        ("Thu Hằng - Trọng Toàn", "Thu Hằng, Trọng Toàn"),  # two reporters, as in a body line
        ("ĐỨC THIỆN", "Đức Thiện"),
        ("John Smith - Reuters", "John Smith"),  # a name and an outlet: trafilatura's reading
    ],
)
def test_a_byline_the_template_marks_is_read_as_a_byline_line(marked, author):
    page = f'<html><body><h1>T</h1><p class="AuthorArticle">{marked}</p></body></html>'
    root = lxml.html.fromstring(page)
    assert PageMetadata(root, "https://example.gov.vn/a").author == author


def test_cms_account_with_a_persons_name_is_the_author_when_there_is_no_byline(sotttt):
    page = HIZA_PAGE.read_text(encoding="utf-8")
    page = page.replace('<p style="text-align: right;"><strong>Trần Minh</strong></p>', "")
    page = page.replace("<em>admin admin</em>", "<em>Phạm Văn Linh</em>")
    article = extract_article(page, HIZA_URL, load_profile("hiza"))
    assert article.author == "Phạm Văn Linh"
    assert article.posted_by == "Phạm Văn Linh"
    assert article.text.endswith("nhiệm kỳ 2025-2030.")


# -- bad input never raises ----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        "",
        "   \n ",
        b"\x00\x01\x02\xff\xfe binary",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)) * 20,
    ],
)
def test_empty_and_binary_input_give_an_empty_article(sotttt, payload):
    article = extract_article(payload, "https://sotttt.hanoi.gov.vn/x.html", sotttt)
    assert article.text == ""
    assert article.url == "https://sotttt.hanoi.gov.vn/x.html"
    assert article.title is None and article.images == [] and article.attachments == []


def test_broken_html_keeps_what_can_be_found(sotttt):
    page = (
        '<html><head><title>Tin ngắn - Sở</title></head><body><div class="asset-content">'
        '<div class="journal-content-article"><p>Đoạn một chưa đóng <b>đậm<p>Đoạn hai'
        '<p align="right">Thu Lan'
    )
    article = extract_article(page, "https://sotttt.hanoi.gov.vn/x.html", sotttt)
    assert article.text == "Đoạn một chưa đóng đậm\nĐoạn hai"
    assert article.author == "Thu Lan"
    assert article.title == "Tin ngắn"


def test_truncated_bytes_of_a_real_page(sotttt):
    data = (FIXTURES / "sotttt_articles" / "1675304.html").read_bytes()
    cut = data[: data.index(b"Tham d")]  # cut mid-article, mid-character possible
    article = extract_article(cut, "https://sotttt.hanoi.gov.vn/x.html", sotttt)
    assert article.published_at == "2017-05-05T14:44:00+07:00"
    assert article.text.startswith("Chào mừng kỷ niệm 42 năm")


# -- decoding ------------------------------------------------------------------------------


def test_decoding_honours_bom_and_meta_charset():
    text = "<p>Hà Nội</p>"
    assert decode_html(b"\xef\xbb\xbf" + text.encode()) == text
    assert decode_html(b"\xff\xfe" + text.encode("utf-16-le")) == text
    # windows-1258 spells "ộ" as "ô" + a combining dot; extraction composes it again (NFC).
    legacy = '<meta charset="windows-1258"><p>Hà Nô\u0323i</p>'.encode("cp1258")
    assert "Hà Nội" in unicodedata.normalize("NFC", decode_html(legacy))
    # A wrong declaration on valid UTF-8 (common on these portals) does not garble the text.
    assert "Hà Nội" in decode_html('<meta charset="iso-8859-1"><p>Hà Nội</p>'.encode())
    # Undeclared and not UTF-8: windows-1252 unless it reads as Vietnamese (windows-1258).
    assert decode_html(b"<p>caf\xe9</p>") == "<p>café</p>"
    # UTF-8 with one broken byte stays UTF-8 (the byte becomes U+FFFD).
    assert decode_html("<p>Hà Nội ".encode() + b"\xff</p>") == "<p>Hà Nội \ufffd</p>"


def test_text_is_composed_and_spaced_as_the_plain_definitions_say():
    """decode_html's NFC (a line at a time) and normalize_space (checks before work) are
    shortcuts: they give exactly what the one-line definitions give."""
    samples = [
        "Hà Nô\u0323i\n<p>ascii line</p>\r\nTha\u0300nh pho\u0302\u0301\n\u0301 at a line start",
        "a\u00a0 b\u2003c\u200b d\u00ad e\u3000f\x1c\x1dg\x85h\u2028i\tj\n",
        "\ufeffGia\u0301m \u2060đô\u0301c\u200d  ",
        "   plain  ascii\t text  ",
        "",
    ]
    for text in samples:
        assert to_nfc(text) == unicodedata.normalize("NFC", text)
        plain = unicodedata.normalize(
            "NFC", re.sub("[\u200b\u200c\u200d\u2060\ufeff\u00ad]", "", text)
        )
        assert normalize_space(text) == re.sub(r"\s+", " ", plain).strip()


# -- the result is a plain, deterministic value -----------------------------------------------


def test_result_is_picklable_json_ready_and_deterministic(hiza):
    first = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL, hiza)
    second = extract_article(HIZA_PAGE.read_bytes(), HIZA_URL, hiza)
    assert first == second
    assert pickle.loads(pickle.dumps(first)) == first
    data = json.loads(json.dumps(first.to_dict(), ensure_ascii=False))
    assert data["images"][0]["caption"].startswith("Đồng chí Trần Anh Tuấn")
    assert set(data) >= {
        "url",
        "title",
        "published_at",
        "published_raw",
        "author",
        "posted_by",
        "source",
        "category",
        "text",
        "language",
        "images",
        "attachments",
        "article_id",
        "sapo",
        "extractor",
    }


def test_str_and_bytes_input_agree(hiza):
    data = HIZA_PAGE.read_bytes()
    from_bytes = extract_article(data, HIZA_URL, hiza)
    from_str = extract_article(data.decode("utf-8"), HIZA_URL, hiza)
    assert from_bytes == from_str
