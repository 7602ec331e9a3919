"""Listing pages as some CMSs print them: item links with their dates, and URL-pattern pagers.

Two facts a template can state, for portals where links alone do not say enough:

* **Items.** ``[listing] item`` is the CSS of the item links and ``item_date`` the date printed
  beside each (looked for inside the link, then in the element holding it). The crawl keeps the
  date shown next to the link it followed and hands it to extraction as a hint
  (``crawler.extract.extract_article(..., listing_date=...)``), because some pages print no date
  of their own, or a re-save date.
* **URL-pattern pagers.** ``[links] pager = "{section}/page/{n}"`` for listings that never link
  their next pages: page ``n + 1`` is requested after page ``n`` turned out to be a listing with
  items, so the walk stops at the first page that is missing (404), that is not a listing (a
  placeholder) or that repeats an earlier page (the spider's listing guard stops that one).

The spider calls these from small hooks; nothing here builds Requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from crawler.dates import normalize_space
from crawler.extract import css_to_xpath
from crawler.urls import is_followable

if TYPE_CHECKING:
    from scrapy.http import TextResponse

    from crawler.profiles import Profile

#: Request meta key of a page the crawl guessed (a pager page past the last one, a link whose
#: kind only the page can tell): a 404 answers the guess and is not a crawl error.
PROBE = "govarchive_probe"


@dataclass(frozen=True)
class ListedLink:
    """An item link on a listing page, with the date printed beside it (as shown)."""

    url: str
    date: str | None


def listed_links(response: TextResponse, profile: Profile) -> list[ListedLink]:
    """The listing's item links (absolute URLs), in page order, with their printed dates."""
    if not profile.listing_item:
        return []
    found: list[ListedLink] = []
    date_xpath = css_to_xpath(profile.listing_item_date) if profile.listing_item_date else None
    for link in response.xpath(css_to_xpath(profile.listing_item)):
        href = link.attrib.get("href")
        if not href or not is_followable(href):
            continue
        date = None
        if date_xpath:
            for scope in (link, *link.xpath("..")):
                dates = scope.xpath(date_xpath)
                text = (
                    normalize_space(" ".join(dates[0].xpath(".//text()").getall())) if dates else ""
                )
                if text:
                    date = text.strip("() ")
                    break
        found.append(ListedLink(urljoin(response.url, href.strip()), date or None))
    return found


def next_pattern_page(url: str, profile: Profile) -> str | None:
    """The URL of the page after ``url`` by the template's pager pattern, or None."""
    pattern = profile.pager_pattern
    if not pattern:
        return None
    parts = urlsplit(url)
    if parts.query:
        return None
    path = parts.path.rstrip("/")
    section, number = path, 1
    match = _pattern_regex(pattern).fullmatch(path)
    if match:
        section, number = match.group("section"), int(match.group("n"))
    if not section:
        return None  # the home page is not a section
    next_path = pattern.format(section=section, n=number + 1)
    return f"{parts.scheme}://{parts.netloc}{next_path}"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    escaped = re.escape(pattern)
    escaped = escaped.replace(re.escape("{section}"), r"(?P<section>/.*?)")
    escaped = escaped.replace(re.escape("{n}"), r"(?P<n>\d+)")
    return re.compile(escaped)
