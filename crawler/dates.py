"""Publication dates as the portals print them, turned into ISO 8601 with the portal's offset.

Portals show dates for people ("Ngày đăng 05/04/2024 | 6:16 AM  |  View count: 393"), never as
machine-readable timestamps, and the archive has to store one comparable value per article. The
profile knows the one format its portal uses, so a regex plus ``strptime`` reads nearly every page
exactly and fast. dateparser is the fallback for everything else, but it only copes once the
labels and ``|`` separators are cut, and without a DMY hint it reads 05/04/2024 as 4 May: both are
handled here so callers never have to think about it.

Results are deterministic: relative dates ("hôm qua") and dates without a year are refused rather
than resolved against the clock, because re-extracting the same bytes must give the same row.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

    from crawler.profiles import Profile

DEFAULT_LANGUAGE = "vi"
DEFAULT_DATE_ORDER = "DMY"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

# "| View count: 393", "Lượt xem: 12": a counter printed in the same block as the date.
_VIEW_COUNT = re.compile(
    r"\s*\|?\s*(?:view\s*count|lượt\s*xem|số\s*lượt\s*xem|lượt\s*truy\s*cập)\s*:?\s*[\d.,]*\s*$",
    re.IGNORECASE,
)
# Labels that precede the date and that dateparser does not understand.
_LABELS = re.compile(
    r"(?:ngày\s*đăng|ngày\s*cập\s*nhật|cập\s*nhật(?:\s*lúc)?|đăng\s*lúc|đăng\s*ngày|"
    r"ngày\s*xuất\s*bản|ngày\s*ban\s*hành|thời\s*gian\s*đăng|publish(?:ed)?\s*date|"
    r"published(?:\s*on)?|posted(?:\s*on)?|updated(?:\s*on)?|last\s*updated|date)\s*:?",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"\s*[|•·]\s*")
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS), None)


def normalize_space(text: str) -> str:
    """One space between words, NBSP and other Unicode spaces included, NFC composed.

    Vietnamese text arrives both precomposed and with combining marks; NFC makes the two spell
    the same so that comparisons and searches agree.
    """
    # Called for every line of every page: the checks below skip the work most lines don't need
    # (str.translate alone walked every character through a dict).
    if not text.isascii():
        if any(ch in text for ch in _INVISIBLE_CHARS):
            text = text.translate(_INVISIBLE)
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())  # str.split() and re's \s agree on what Unicode calls space


def clean_raw(text: str) -> str:
    """The date as shown on the page: whitespace normalised, trailing view counter removed."""
    raw = normalize_space(text)
    previous = None
    while raw != previous:
        previous = raw
        raw = _VIEW_COUNT.sub("", raw).strip()
        raw = raw.rstrip("|").strip()
    return raw


def parse_published(raw_text: str, profile: Profile | None) -> tuple[str | None, str | None]:
    """Read a published date as printed on a page; return ``(iso, raw)``.

    ``raw`` is the text as shown (whitespace normalised, no "| View count: N"), or None when
    there is no text. ``iso`` is ISO 8601 with the portal's UTC offset at that date, e.g.
    ``2024-04-05T06:16:00+07:00``, or None when no complete date (day, month and year) can be
    read. The profile's ``dates.pattern``/``dates.formats`` are tried first; dateparser, with
    the profile's language, date order and time zone, is the fallback.
    """
    if not raw_text:
        return None, None
    raw = clean_raw(raw_text)
    if not raw:
        return None, None
    language = profile.language if profile else DEFAULT_LANGUAGE
    order = profile.date_order if profile else DEFAULT_DATE_ORDER
    tz_name = profile.timezone if profile else DEFAULT_TIMEZONE
    zone = _zone(tz_name)

    if profile and profile.date_pattern is not None and profile.date_formats:
        parsed = _parse_with_pattern(raw, profile.date_pattern, profile.date_formats)
        if parsed is not None:
            moment, fmt = parsed
            if not _TIME_DIRECTIVES.search(fmt):
                return moment.date().isoformat(), raw  # the day only: no time was printed
            return _iso(moment, zone), raw

    read = raw
    moment = _parse_with_dateparser(raw, language, order, tz_name)
    if moment is None:
        # A label in the portal's language around the date ("Publié le", "Publicado el",
        # "Veröffentlicht am", "Diterbitkan:"): read the date-shaped part alone, with its time
        # if it parses, else without.
        for read in _date_spans(raw):
            moment = _parse_with_dateparser(read, language, order, tz_name)
            if moment is not None:
                break
    if moment is None:
        return None, raw
    if not _PRINTED_TIME.search(read):
        # dateparser gives midnight for "5 mars 2024": store the day, as the profile path does,
        # rather than a time and an offset the page never printed.
        return moment.date().isoformat(), raw
    return _iso(moment, zone), raw


#: A time of day in a date string: 6:16, 10h30, 6 PM, 10 giờ.
_PRINTED_TIME = re.compile(
    r"\d{1,2}\s*(?::|[hH](?=\s*\d)|giờ)\s*\d{2}(?!\d)|\d\s*[AaPp]\.?\s?[Mm]\b|\d{1,2}\s*giờ"
)


_DAY_MONTH_YEAR = (
    r"\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})\b|\d{4}-\d{1,2}-\d{1,2}\b"
    # 5 mars 2024, 1er avril 2024, 5 de marzo de 2024, 5. März 2024, 05 Maret 2024
    r"|\d{1,2}(?:er|st|nd|rd|th|º|\.)?\s+(?:de\s+)?[^\W\d_]{3,}\.?,?\s+(?:de\s+)?\d{4}\b"
    # March 5, 2024; Mar. 5th 2024
    r"|[^\W\d_]{3,}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b"
)
_DATE_SPAN = re.compile(
    rf"(?P<date>{_DAY_MONTH_YEAR})"
    r"(?P<time>\s*(?:,|-|–|\||à|a las|um|at|às|pukul)?\s*\d{1,2}[:h.]\d{2}(?::\d{2})?"
    r"(?:\s*[ap]\.?\s?m\.?)?)?",
    re.IGNORECASE,
)


def _date_spans(text: str) -> list[str]:
    """The first date-shaped part of ``text``: with the time printed after it, then alone."""
    match = _DATE_SPAN.search(text)
    if not match:
        return []
    spans = [match.group(0).strip()] if match.group("time") else []
    return [*spans, match.group("date").strip()]


_TIME_DIRECTIVES = re.compile(r"%[HIMSpXcT]")


def _parse_with_pattern(
    raw: str, pattern: re.Pattern[str], formats: tuple[str, ...]
) -> tuple[datetime, str] | None:
    """The moment the profile's pattern and formats read in ``raw``, and the format that read it."""
    match = pattern.search(raw)
    if not match:
        return None
    groups = [g for g in match.groups() if g] if match.groups() else [match.group(0)]
    candidate = normalize_space(" ".join(groups))
    for fmt in formats:
        for text in (candidate, candidate.upper()):  # "6:16 am" -> "6:16 AM" for %p
            try:
                return datetime.strptime(text, fmt), fmt
            except ValueError:
                continue
    return None


def strip_labels(raw: str) -> str:
    """Cut labels and separators that stop dateparser ("Ngày đăng", "Cập nhật:", "|")."""
    text = _LABELS.sub(" ", raw)
    text = _SEPARATORS.sub(" ", text)
    return normalize_space(text.strip(" :,-"))


# "05/04/2024", "5.4.2024 6:16 AM", "05-04-2024 14:30:05": the all-numeric day-month-year (or
# month-day-year) form most portals print, year last.
_NUMERIC_DATE = re.compile(
    r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"
    r"(?:[\s,]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?"
)


def _parse_numeric(text: str, order: str) -> datetime | None:
    """What dateparser reads in an all-numeric date with the year last, without dateparser
    (a thousand times faster); None for anything else, which dateparser then reads."""
    match = _NUMERIC_DATE.fullmatch(text)
    if match is None or order not in ("DMY", "MDY"):
        return None
    first, second, year, hour, minute, second_s, half = match.groups()
    day, month = (first, second) if order == "DMY" else (second, first)
    hours = int(hour or 0)
    if half:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half in "Pp" else 0)
    try:
        return datetime(
            int(year), int(month), int(day), hours, int(minute or 0), int(second_s or 0)
        )
    except ValueError:
        return None  # 31/02, or a month-first date: dateparser's own rules decide


def _parse_with_dateparser(raw: str, language: str, order: str, tz_name: str) -> datetime | None:
    text = strip_labels(raw)
    if not text or not any(ch.isdigit() for ch in text):
        return None
    numeric = _parse_numeric(text, order)
    if numeric is not None:
        return numeric
    parser = _date_parser(language, order, tz_name)
    try:
        data = parser.get_date_data(text)
    except Exception:  # dateparser raises assorted errors on odd input; a date is optional
        return None
    return data.date_obj if data and data.date_obj else None


@lru_cache(maxsize=32)
def _date_parser(language: str, order: str, tz_name: str) -> DateDataParser:
    """One configured parser per (language, order, zone): dateparser is slow to set up."""
    from dateparser.date import DateDataParser

    languages = list(dict.fromkeys(code for code in (dateparser_language(language), "en") if code))
    return DateDataParser(
        languages=languages,
        settings={
            "DATE_ORDER": order,
            "TIMEZONE": tz_name,
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DAY_OF_MONTH": "first",
            # Deterministic: no "yesterday", no guessing a missing year from today's date.
            "PARSERS": ["absolute-time"],
            "REQUIRE_PARTS": ["day", "month", "year"],
            "STRICT_PARSING": False,
        },
    )


#: Language codes pages declare that dateparser knows under another name (ISO 639 renamed
#: iw, in and ji; Norwegian pages say "no", dateparser says Bokmål, "nb").
_LANGUAGE_ALIASES = {"no": "nb", "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "tl": "fil"}


def dateparser_language(language: str | None) -> str | None:
    """``language`` as dateparser names it, or None when dateparser does not know it: one
    unknown code makes dateparser refuse every date, English ones included."""
    from dateparser.data.languages_info import language_order

    code = (language or "").strip().lower().replace("_", "-")
    code = _LANGUAGE_ALIASES.get(code, code)
    if code in language_order:
        return code
    code = _LANGUAGE_ALIASES.get(code.split("-")[0], code.split("-")[0])
    return code if code in language_order else None


@lru_cache(maxsize=32)
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def _iso(moment: datetime, zone: tzinfo) -> str:
    moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    return moment.replace(microsecond=0).isoformat()
