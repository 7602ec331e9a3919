"""A portal nobody wrote a profile for: from its URL to an in-memory profile.

``govarchive crawl https://host/`` fetches the home page, looks for a bundled CMS template
whose ``[markers] html`` patterns all occur in it (:func:`crawler.profiles.recognise_templates`)
and crawls with a profile built from that template: name = the host (rows carry it as
``portal``), base URL = the URL, language from the page, time zone from the page's country
where the host says it, else UTC, marked as guessed either way. When no template matches, or
``generic`` is asked for, the link rules are inferred from the home page itself
(:mod:`crawler.generic`).

:func:`profile_for_url` is the one entry point (the CLI, ``probe`` and a fleet file call it).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from html import unescape
from urllib.parse import urlsplit, urlunsplit

from crawler.profiles import Profile, ProfileError, profile_from_tables, recognise_templates

USER_AGENT = "govarchive (+https://github.com/govarchive/govarchive) probe"
FETCH_TIMEOUT = 30

#: Country-code domains and the time zone a government portal there dates its news in: the
#: country's own where it has one, the capital's where it has several (a ministry publishes
#: from the capital). Anything else falls back to UTC (and says it guessed).
COUNTRY_ZONES = {
    # Several zones: the capital's. ".gov" and ".mil" are the US federal government's.
    "gov": "America/New_York",
    "mil": "America/New_York",
    "us": "America/New_York",
    "ca": "America/Toronto",
    "au": "Australia/Sydney",
    "br": "America/Sao_Paulo",
    "mx": "America/Mexico_City",
    "id": "Asia/Jakarta",
    "ru": "Europe/Moscow",
    "kz": "Asia/Almaty",
    # One zone.
    "lu": "Europe/Luxembourg",
    "sk": "Europe/Bratislava",
    "si": "Europe/Ljubljana",
    "hr": "Europe/Zagreb",
    "bg": "Europe/Sofia",
    "rs": "Europe/Belgrade",
    "is": "Atlantic/Reykjavik",
    "mt": "Europe/Malta",
    "cy": "Asia/Nicosia",
    "ma": "Africa/Casablanca",
    "dz": "Africa/Algiers",
    "tn": "Africa/Tunis",
    "sn": "Africa/Dakar",
    "ci": "Africa/Abidjan",
    "gh": "Africa/Accra",
    "et": "Africa/Addis_Ababa",
    "tz": "Africa/Dar_es_Salaam",
    "ug": "Africa/Kampala",
    "rw": "Africa/Kigali",
    "ae": "Asia/Dubai",
    "sa": "Asia/Riyadh",
    "qa": "Asia/Qatar",
    "jo": "Asia/Amman",
    "lb": "Asia/Beirut",
    "pk": "Asia/Karachi",
    "bd": "Asia/Dhaka",
    "lk": "Asia/Colombo",
    "np": "Asia/Kathmandu",
    "mm": "Asia/Yangon",
    "uy": "America/Montevideo",
    "py": "America/Asuncion",
    "bo": "America/La_Paz",
    "ve": "America/Caracas",
    "cr": "America/Costa_Rica",
    "gt": "America/Guatemala",
    "sv": "America/El_Salvador",
    "hn": "America/Tegucigalpa",
    "pa": "America/Panama",
    "do": "America/Santo_Domingo",
    "vn": "Asia/Ho_Chi_Minh",
    "th": "Asia/Bangkok",
    "kh": "Asia/Phnom_Penh",
    "la": "Asia/Vientiane",
    "ph": "Asia/Manila",
    "sg": "Asia/Singapore",
    "my": "Asia/Kuala_Lumpur",
    "jp": "Asia/Tokyo",
    "kr": "Asia/Seoul",
    "cn": "Asia/Shanghai",
    "tw": "Asia/Taipei",
    "in": "Asia/Kolkata",
    "fr": "Europe/Paris",
    "de": "Europe/Berlin",
    "it": "Europe/Rome",
    "es": "Europe/Madrid",
    "nl": "Europe/Amsterdam",
    "be": "Europe/Brussels",
    "at": "Europe/Vienna",
    "ch": "Europe/Zurich",
    "pl": "Europe/Warsaw",
    "cz": "Europe/Prague",
    "se": "Europe/Stockholm",
    "no": "Europe/Oslo",
    "dk": "Europe/Copenhagen",
    "fi": "Europe/Helsinki",
    "ee": "Europe/Tallinn",
    "lv": "Europe/Riga",
    "lt": "Europe/Vilnius",
    "gr": "Europe/Athens",
    "ro": "Europe/Bucharest",
    "hu": "Europe/Budapest",
    "ie": "Europe/Dublin",
    "uk": "Europe/London",
    "gb": "Europe/London",
    "pt": "Europe/Lisbon",
    "ua": "Europe/Kyiv",
    "tr": "Europe/Istanbul",
    "il": "Asia/Jerusalem",
    "nz": "Pacific/Auckland",
    "za": "Africa/Johannesburg",
    "ke": "Africa/Nairobi",
    "ng": "Africa/Lagos",
    "eg": "Africa/Cairo",
    "ar": "America/Argentina/Buenos_Aires",
    "cl": "America/Santiago",
    "co": "America/Bogota",
    "pe": "America/Lima",
}
_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_META_LANG = re.compile(
    r"<meta\b[^>]*?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*?content\s*=\s*[\"']?"
    r"([A-Za-z]{2,3})",
    re.IGNORECASE,
)


class UnreachablePortal(ValueError):
    """The home page could not be fetched: the message says which URL and why."""


@dataclass(frozen=True)
class HomePage:
    url: str  # the page's URL on the portal's own host (the home page or a section)
    fetch_url: str  # where it was fetched (the mirror when --base-url is given)
    html: str


def normalise_portal_url(url: str) -> str:
    """The page a crawl of ``url`` starts from: ``https://host/`` for a bare host, or the
    section ``https://host/path`` given (without a trailing slash or a fragment)."""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(url, "url", "must be an http(s) URL such as https://host/")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def looks_like_url(value: str) -> bool:
    """Whether a command's PORTAL argument is a URL rather than a profile name or file."""
    return value.startswith(("http://", "https://"))


def fetch_page(url: str, base_url: str | None = None) -> HomePage:
    """GET a portal page (from the mirror ``base_url`` when given), decoded as extraction does."""
    from crawler.extract import decode_html

    fetch_url, body = fetch_bytes(url, base_url)
    return HomePage(url, fetch_url, decode_html(body))


def fetch_bytes(url: str, base_url: str | None = None) -> tuple[str, bytes]:
    """GET a portal URL (from the mirror ``base_url`` when given): the URL fetched, the body."""
    fetch_url = url
    if base_url:
        parts, mirror = urlsplit(url), urlsplit(base_url.rstrip("/"))
        fetch_url = urlunsplit(
            (mirror.scheme, mirror.netloc, mirror.path + (parts.path or "/"), parts.query, "")
        )
    from w3lib.url import safe_url_string

    fetch_url = safe_url_string(fetch_url)  # as Scrapy requests it: non-ASCII percent-encoded
    request = urllib.request.Request(fetch_url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as answer:
            body = answer.read(20_000_000)
    except urllib.error.HTTPError as exc:
        raise UnreachablePortal(f"{fetch_url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachablePortal(f"{fetch_url}: cannot fetch: {reason}") from None
    return fetch_url, body


_FEED_LINK = re.compile(
    r"<link\b(?=[^>]*\brel\s*=\s*[\"']?alternate)(?=[^>]*\btype\s*=\s*[\"']?application/"
    r"(?:rss|atom)\+xml)[^>]*\bhref\s*=\s*[\"']?([^\"'\s>]+)",
    re.IGNORECASE,
)


def feed_items(home: HomePage) -> list[str]:
    """The item links of the first RSS or Atom feed the page announces (one more request; none
    when there is no feed or it cannot be read). A feed lists the latest posts of every
    section, so it shows article URL shapes the home page may not."""
    from urllib.parse import urljoin

    from crawler.sitemaps import parse_feed

    match = _FEED_LINK.search(home.html[:200_000])
    if not match:
        return []
    feed_url = urljoin(home.url, unescape(match.group(1)))
    fetched, portal = urlsplit(home.fetch_url), urlsplit(home.url)
    mirror = f"{fetched.scheme}://{fetched.netloc}" if fetched.netloc != portal.netloc else None
    try:
        _, body = fetch_bytes(feed_url, mirror)
    except UnreachablePortal:
        return []
    return [entry.url for entry in parse_feed(body).entries]


def page_language(html: str, host: str) -> str:
    """The language of the page's text where its letters tell (Vietnamese), else the one it
    declares (``<html lang>``, Content-Language), else the host's country's for the few we know,
    else ``en``. Templates saved from another site declare the wrong one (``lang="en-us"``)."""
    from lxml import html as lxml_html

    from crawler.extract.language import _language

    try:
        root = lxml_html.fromstring(html)
        visible = "//body//text()[not(ancestor::script) and not(ancestor::style)]"
        text = " ".join(t.strip() for t in root.xpath(visible) if t.strip())
        found = _language(root, text, None) if text else None
        if found == "vi":
            return found
    except (ValueError, lxml_html.etree.ParserError):
        pass
    for pattern in (_LANG, _META_LANG):
        match = pattern.search(html[:20000])
        if match:
            return match.group(1).lower()
    return {"vn": "vi", "fr": "fr", "de": "de", "es": "es", "it": "it"}.get(
        host.rsplit(".", 1)[-1], "en"
    )


def date_order(html: str, host: str, language: str) -> str | None:
    """The date order of a portal in US English (``lang="en-US"``, or English on ``.gov``/``.us``),
    "MDY": its 03/05/2024 is March 5. None leaves the day first, as nearly everyone writes it."""
    match = re.search(r"<html\b[^>]*?\blang\s*=\s*[\"']?en[-_]US\b", html[:20000], re.I)
    if match or (language == "en" and host.rsplit(".", 1)[-1].lower() in ("gov", "us", "mil")):
        return "MDY"
    return None


def guessed_timezone(host: str) -> str:
    """The host's country's time zone (its capital's where it has several), else UTC."""
    return COUNTRY_ZONES.get(host.rsplit(".", 1)[-1].lower(), "UTC")


def portal_tables(page_url: str, html: str) -> dict:
    """The ``[portal]`` table of a profile starting at ``page_url`` (the home page or a
    section): what the page and the host tell."""
    parts = urlsplit(page_url)
    host = parts.hostname or ""
    start = parts.path or "/"
    language = page_language(html, host)
    tables = {
        "portal": {
            "name": host,
            "title": _page_title(html),
            "base_url": f"{parts.scheme}://{parts.netloc}",
            "language": language,
            "timezone": guessed_timezone(host),
            "start_paths": [start + (f"?{parts.query}" if parts.query else "")],
        }
    }
    order = date_order(html, host, language)
    if order:
        tables["dates"] = {"order": order}
    return tables


def profile_for_url(url: str, base_url: str | None = None, generic: bool = False) -> Profile:
    """The profile to crawl a portal nobody wrote a file for, from its URL.

    A bundled template recognised on the home page wins unless ``generic``; otherwise the
    rules are inferred from the home page (:func:`crawler.generic.infer_profile_tables`).
    Raises :class:`UnreachablePortal` when the home page cannot be fetched.
    """
    home = fetch_page(normalise_portal_url(url), base_url)
    return profile_for_home(home, generic)


def on_own_host(home: HomePage) -> HomePage:
    """``home`` under the host its pages name: ``https://example.gov`` typed for a site whose
    links (and canonical URL) all say ``https://www.example.gov``, or the reverse, is that
    site; a crawl that kept the typed host would find every link off the portal."""
    parts = urlsplit(home.url)
    host = parts.hostname or ""
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    named = Counter(
        (urlsplit(href).hostname or "")
        for href in re.findall(r"""\bhref\s*=\s*["']?(https?://[^"'\s>]+)""", home.html[:500_000])
    )
    if named[twin] <= named[host]:
        return home
    netloc = parts.netloc.replace(host, twin, 1)
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return replace(home, url=url)


def profile_for_home(home: HomePage, generic: bool = False) -> Profile:
    """The profile for a fetched start page (see :func:`profile_for_url`)."""
    home = on_own_host(home)
    tables = portal_tables(home.url, home.html)
    templates = [] if generic else recognise_templates(home.html)
    if templates:
        profile = profile_from_tables(tables, home.url, templates[0])
    else:
        from crawler.generic import infer_profile_tables

        tables = infer_profile_tables(home.url, home.html, tables, feed_items(home))
        profile = profile_from_tables(tables, home.url)
    return replace(profile, timezone_guessed=True)


def _page_title(html: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", html[:50000], re.IGNORECASE | re.DOTALL)
    return re.sub(r"\s+", " ", unescape(match.group(1))).strip()[:200] if match else ""
