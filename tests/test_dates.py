"""How crawler.dates reads the dates portals print.

The archive stores one ISO 8601 value per article, with the portal's UTC offset, and keeps the
string as the page showed it next to it. These tests use the exact forms seen on the sotttt and
hiza portals (see shared/replica/sotttt/README.md).
"""

from dataclasses import replace

import pytest

from crawler.dates import parse_published, strip_labels
from crawler.profiles import load_profile


@pytest.fixture(scope="module")
def sotttt():
    return load_profile("sotttt")


def test_template_date_block_with_label_and_view_count(sotttt):
    # What div.assetPublishDate holds, whitespace and NBSPs included.
    block = "\n\t\tNgày đăng\n\t\t05/04/2024 | 6:16 AM\n\t\t \xa0|\xa0View count: 393\n"
    assert parse_published(block, sotttt) == (
        "2024-04-05T06:16:00+07:00",
        "Ngày đăng 05/04/2024 | 6:16 AM",
    )


def test_english_publish_date_label(sotttt):
    # The /en/ section prints the same block with an English label.
    assert parse_published("Publish date 04/08/2016 | 3:47 PM |View count: 490", sotttt) == (
        "2016-08-04T15:47:00+07:00",
        "Publish date 04/08/2016 | 3:47 PM",
    )


def test_bare_date_without_label(sotttt):
    assert parse_published("22/02/2017 | 9:51 AM", sotttt) == (
        "2017-02-22T09:51:00+07:00",
        "22/02/2017 | 9:51 AM",
    )


def test_listing_style_zero_padded_time(sotttt):
    iso, _ = parse_published("27/07/2022 | 04:04 PM", sotttt)
    assert iso == "2022-07-27T16:04:00+07:00"


@pytest.mark.parametrize(
    ("shown", "iso"),
    [
        ("14/08/2009 | 12:00 AM", "2009-08-14T00:00:00+07:00"),  # midnight, not noon
        ("14/08/2009 | 12:30 AM", "2009-08-14T00:30:00+07:00"),
        ("14/08/2009 | 12:00 PM", "2009-08-14T12:00:00+07:00"),  # noon
        ("14/08/2009 | 12:59 PM", "2009-08-14T12:59:00+07:00"),
        ("14/08/2009 | 1:00 PM", "2009-08-14T13:00:00+07:00"),
        ("14/08/2009 | 11:59 PM", "2009-08-14T23:59:00+07:00"),
    ],
)
def test_twelve_hour_clock_edges(sotttt, shown, iso):
    assert parse_published(shown, sotttt)[0] == iso


def test_day_comes_first(sotttt):
    # 05/04 is 5 April on Vietnamese portals, with or without a profile.
    assert parse_published("05/04/2024 | 6:16 AM", sotttt)[0].startswith("2024-04-05")
    assert parse_published("05/04/2024", None)[0].startswith("2024-04-05")


def test_cap_nhat_form_falls_back_to_dateparser(sotttt):
    # Not the profile's format: the label is cut and dateparser reads the rest.
    assert parse_published("Cập nhật: 10:30 ngày 12/3/2024", sotttt) == (
        "2024-03-12T10:30:00+07:00",
        "Cập nhật: 10:30 ngày 12/3/2024",
    )


def test_without_profile_defaults_to_vietnamese_dmy_in_hanoi_time():
    assert parse_published("Ngày đăng 05/04/2024 | 6:16 AM", None) == (
        "2024-04-05T06:16:00+07:00",
        "Ngày đăng 05/04/2024 | 6:16 AM",
    )


def test_offset_comes_from_the_profile_time_zone(sotttt):
    paris = replace(sotttt, timezone="Europe/Paris")
    # The offset is the zone's offset on that date: summer time in April, winter in January.
    assert parse_published("05/04/2024 | 6:16 AM", paris)[0] == "2024-04-05T06:16:00+02:00"
    assert parse_published("05/01/2024 | 6:16 AM", paris)[0] == "2024-01-05T06:16:00+01:00"


def test_explicit_utc_is_converted_to_portal_time(sotttt):
    assert parse_published("2024-04-05T06:16:00Z", sotttt)[0] == "2024-04-05T13:16:00+07:00"


@pytest.mark.parametrize(
    "garbage",
    [
        "View count: 12",
        "không có ngày",
        "31/02/2024 | 1:00 AM",  # no such day
        "hôm qua",  # relative: refused, so re-extraction gives the same row
        "12/3",  # no year: refused rather than guessed from today's date
    ],
)
def test_unreadable_dates_give_no_iso(sotttt, garbage):
    iso, _ = parse_published(garbage, sotttt)
    assert iso is None


def test_empty_input():
    assert parse_published("", None) == (None, None)
    assert parse_published(" \xa0 \n", None) == (None, None)


def test_raw_keeps_what_the_page_showed_even_when_unreadable(sotttt):
    assert parse_published("hôm qua", sotttt) == (None, "hôm qua")


def test_labels_and_separators_are_cut_for_dateparser():
    assert strip_labels("Ngày đăng 05/04/2024 | 6:16 AM") == "05/04/2024 6:16 AM"
    assert strip_labels("Publish date 05/04/2024 | 6:16 AM") == "05/04/2024 6:16 AM"
    assert strip_labels("Cập nhật: 10:30 ngày 12/3/2024") == "10:30 ngày 12/3/2024"


#: Numeric dates, and which orders read them without dateparser (None: dateparser decides).
NUMERIC_DATES = {
    "05/04/2024": ("DMY", "MDY"),
    "5/4/2024 6:16 AM": ("DMY", "MDY"),
    "12/01/2023 12:30 AM": ("DMY", "MDY"),
    "12/01/2023 12:30 PM": ("DMY", "MDY"),
    "01.02.2020 07:05": ("DMY", "MDY"),
    "1-2-2020 7:05 pm": ("DMY", "MDY"),
    "01/02/2020, 10:11": ("DMY", "MDY"),
    "13/05/2024 23:59:59": ("DMY",),
    "05/13/2024 08:00": ("MDY",),
    "29/02/2023": (),  # no such day
    "25/12/2023 13:00 PM": (),  # no such time
}


@pytest.mark.parametrize("order", ["DMY", "MDY"])
@pytest.mark.parametrize("shown", list(NUMERIC_DATES))
def test_numeric_dates_read_without_dateparser_as_dateparser_reads_them(order, shown):
    """The all-numeric form is read by a regex, a thousand times faster; the rest by
    dateparser. Where the regex reads a date, dateparser reads the same moment."""
    from crawler.dates import _date_parser, _iso, _parse_numeric, _zone

    fast = _parse_numeric(shown, order)
    assert (fast is not None) == (order in NUMERIC_DATES[shown])
    if fast is not None:
        by_dateparser = _date_parser("vi", order, "Europe/Berlin").get_date_data(shown).date_obj
        zone = _zone("Europe/Berlin")
        assert _iso(fast, zone) == _iso(by_dateparser, zone)
