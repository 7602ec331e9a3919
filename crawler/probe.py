"""``govarchive probe URL``: what the crawl would decide about a portal, and a draft profile.

The same decisions as ``govarchive crawl URL`` (:func:`crawler.recognise.profile_for_url`):
a bundled template recognised from the home page, or link rules inferred from it. The probe
prints them, extracts a few articles linked from the home page so their fields can be checked
by eye, and writes the profile as a TOML file that ``crawl`` accepts, so adding a portal
starts from a working file rather than a blank one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from crawler.extract import Article, extract_article, not_an_article
from crawler.extract.markers import ARTICLE, page_kind
from crawler.generic import same_host_links
from crawler.profiles import Profile
from crawler.recognise import (
    HomePage,
    UnreachablePortal,
    fetch_page,
    normalise_portal_url,
    profile_for_home,
)

SAMPLES = 5


@dataclass
class ProbeResult:
    profile: Profile
    home: HomePage
    samples: list[Article] = field(default_factory=list)
    sample_failures: list[str] = field(default_factory=list)
    article_links: int = 0


def probe(url: str, base_url: str | None = None, generic: bool = False) -> ProbeResult:
    """Recognise or infer a profile for ``url`` and extract up to :data:`SAMPLES` articles."""
    home = fetch_page(normalise_portal_url(url), base_url)
    profile = profile_for_home(home, generic)
    result = ProbeResult(profile, home)
    links = [
        link
        for link in same_host_links(home.html, home.url, profile.host)
        if profile.article_id(link) is not None
    ]
    result.article_links = len(links)
    seen: set[str] = set()
    for link in links:
        if len(result.samples) >= SAMPLES:
            break
        article_id = profile.article_id(link)
        if article_id in seen:
            continue
        seen.add(article_id)
        try:
            page = fetch_page(link, base_url)
        except UnreachablePortal as exc:
            result.sample_failures.append(str(exc))
            continue
        kind = page_kind(page.html, profile)
        if kind not in (None, ARTICLE):
            result.sample_failures.append(f"{link}: a {kind} page by the template's markers")
            continue
        article = extract_article(page.html, link, profile)
        reason = not_an_article(article, profile.require_content)
        if reason is None:
            result.samples.append(article)
        else:
            result.sample_failures.append(f"{link}: {reason}")
    return result


def report_lines(result: ProbeResult) -> list[str]:
    """What the probe found, for people."""
    profile = result.profile
    lines = [f"portal:    {profile.name} ({profile.title or 'no title'})"]
    if profile.template:
        lines.append(f"template:  {profile.template} (recognised from the home page's markers)")
    else:
        lines.append("template:  none recognised: generic rules inferred from the home page")
    lines += [
        f"language:  {profile.language}",
        f"time zone: {profile.timezone} (guessed from the host; check it)",
        f"articles:  {profile.article_pattern.pattern}",
        f"listings:  {profile.listing_pattern.pattern}",
    ]
    if profile.pager_pattern:
        lines.append(f"pager:     {profile.pager_pattern}")
    for name in ("title", "date", "body", "byline"):
        css = getattr(profile.selectors, name)
        if css:
            lines.append(f"selector {name}: {css}")
    if not profile.template:
        lines.append("selectors: none (generic extraction: trafilatura plus our page rules)")
    lines.append(
        f"sections:  {len(profile.start_paths)} start paths"
        + " (discovery finds the sections from there)"
        + f": {', '.join(profile.start_paths[:8])}"
        + (" ..." if len(profile.start_paths) > 8 else "")
    )
    lines.append(f"home page: {result.article_links} article links")
    for index, article in enumerate(result.samples, 1):
        text = article.text.replace("\n", " ")
        lines += [
            f"\nsample {index}: {article.url}",
            f"  title:        {article.title}",
            f"  published_at: {article.published_at} ({article.date_source or 'no date'};"
            f" raw {article.published_raw!r})",
            f"  author:       {article.author}",
            f"  category:     {article.category}",
            f"  text:         {len(article.text)} chars: {text[:160]}",
        ]
    for failure in result.sample_failures:
        lines.append(f"  not a sample: {failure}")
    return lines


def draft_toml(profile: Profile) -> str:
    """The profile as a portal file ``crawl`` accepts: a template's name, or generic rules."""

    def value(item: object) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int):
            return str(item)
        if isinstance(item, (list, tuple)):
            return "[" + ", ".join(value(v) for v in item) + "]"
        return json.dumps(item, ensure_ascii=False)  # a JSON string is a TOML basic string

    how = f"the {profile.template} template" if profile.template else "generic rules"
    out = [
        f"# Draft profile written by `govarchive probe {profile.base_url}`, on {how}.",
        "# Check the time zone and the start paths (the sections), then crawl with",
        "# `govarchive crawl THIS_FILE`.",
        "",
        "[portal]",
        f"name = {value(profile.name)}",
        f"title = {value(profile.title)}",
    ]
    if profile.template:
        out.append(f"template = {value(profile.template)}")
    out += [
        f"base_url = {value(profile.base_url)}",
        f"language = {value(profile.language)}",
        f"timezone = {value(profile.timezone)}",
        f"start_paths = {value(list(profile.start_paths))}",
    ]
    if profile.date_order != "DMY":
        out += ["", "[dates]", f"order = {value(profile.date_order)}"]
    if not profile.template:
        out += [
            "",
            "[links]",
            f"article = {value(profile.article_pattern.pattern)}",
            f"listing = {value(profile.listing_pattern.pattern)}",
        ]
        if profile.page_number_pattern is not None:
            out.append(f"page_number = {value(profile.page_number_pattern.pattern)}")
        out.append(f"exclude = {value([p.pattern for p in profile.exclude_patterns])}")
        if profile.max_listing_pages:
            out.append(f"max_pages = {profile.max_listing_pages}")

    return "\n".join(out) + "\n"


def write_draft(profile: Profile, out: Path) -> Path:
    out.write_text(draft_toml(profile), encoding="utf-8")
    return out
