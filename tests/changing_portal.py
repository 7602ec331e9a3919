"""A portal that changes between crawls, built from real replica article pages.

Listings are generated (newest first, 10 items a page, Liferay pager URLs) over real sotttt
article pages whose dates are moved close to today, so that "recently published" means
something to the recheck window. Between crawls a test can publish new articles at the top,
edit bodies (with or without a new date) and delete articles, exactly as a portal does.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from crawler.replica import DEMO_REPLICA

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PER_PAGE = 10
DATE_IN_PAGE = re.compile(r"(\d{1,2}/\d{1,2}/\d{4})\s*\|\s*(\d{1,2}:\d{2}\s*[AP]M)")
PROFILE = """
[portal]
name = "changing"
base_url = "https://sotttt.hanoi.gov.vn"
start_paths = {start_paths}
[links]
article = '/-/view_content/(?P<id>\\d+)-[^/?#]*\\.html'
listing = '[?&]p_p_id=101&.*_101_cur=\\d+'
page_number = '[?&]_101_cur=(\\d+)'
[dates]
pattern = '(\\d{{1,2}}/\\d{{1,2}}/\\d{{4}})\\s*\\|\\s*(\\d{{1,2}}:\\d{{2}}\\s*[AaPp][Mm])'
formats = ["%d/%m/%Y %I:%M %p"]
[selectors]
title = "div.asset-full-content-title"
date = "div.assetPublishDate"
sapo = "p.sapo"
body = "div.asset-content div.journal-content-article"
posted_by = ".view-content-author"
category = "div.dd_chuyenmuc > span:not(.trangchu)"
remove = ["div.related_asset", ".view-content-author", "div.asset-control-detail"]
[incremental]
stop_after_known = {stop_after_known}
"""


@dataclass
class Article:
    url: str  # path, as listed
    article_id: str
    title: str
    html: str
    published: datetime


def _source_articles() -> list[tuple[str, str, str]]:
    """(url, article id, html) of real dated articles of the demo replica."""
    truth = {}
    with open(DEMO_REPLICA / "ground_truth.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            truth[row["url"]] = row
    found = []
    with open(DEMO_REPLICA / "pages.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["kind"] != "article" or row["url"] not in truth:
                continue
            text = (DEMO_REPLICA / row["file"]).read_text(encoding="utf-8")
            if DATE_IN_PAGE.search(text) and truth[row["url"]]["title"]:
                found.append((row["url"], truth[row["url"]]["article_id"], text))
    return sorted(found)


class ChangingPortal:
    """Writes a replica folder (pages.tsv + pages/) that `serve_replica` serves."""

    def __init__(
        self,
        directory: Path,
        sections: dict[str, int],
        now: datetime | None = None,
        home: bool = False,
    ):
        self.directory = directory
        self.now = now or datetime.now(HANOI).replace(second=0, microsecond=0)
        self.pool = _source_articles()
        self.sections: dict[str, list[Article]] = {}
        self.crawled = self.now
        #: A home page (``/``) linking every section, and the feeds in ``head_links``.
        self.home = home
        self.head_links: list[str] = []
        #: Other files served: URL -> (bytes, content type); sitemaps, feeds, lone articles.
        self.extra: dict[str, tuple[bytes, str]] = {}
        for section, count in sections.items():
            # Newest first, one every 12 hours: a week's window holds the first 14 of each.
            self.sections[section] = [
                self._take(self.now - timedelta(hours=12 * (i + 1))) for i in range(count)
            ]
        self.write()

    def profile(
        self, path: Path, stop_after_known: int = 20, start_paths: list[str] | None = None
    ) -> Path:
        starts = list(self.sections) if start_paths is None else start_paths
        path.write_text(PROFILE.format(start_paths=json.dumps(starts),
                                       stop_after_known=stop_after_known))  # fmt: skip
        return path

    def take(self, published: datetime | None = None) -> Article:
        """An article page of the pool, not listed anywhere (for sitemaps and feeds)."""
        return self._take(published or self.now)

    def _take(self, published: datetime) -> Article:
        url, article_id, text = self.pool.pop(0)
        title = re.search(r'class="asset-full-content-title">(.*?)</div>', text, re.S)
        return Article(url, article_id, (title.group(1).strip() if title else url),
                       _with_date(text, published), published)  # fmt: skip

    # -- changes -----------------------------------------------------------------------------

    def publish(self, section: str, count: int) -> list[Article]:
        new = [self._take(self.now - timedelta(minutes=count - i)) for i in range(count)]
        self.sections[section][:0] = reversed(new)
        self.write()
        return new

    def edit(self, article: Article, *, new_date: bool = False) -> None:
        article.html = article.html.replace(
            '<div class="journal-content-article">',
            '<div class="journal-content-article"><p>Cập nhật: nội dung đã được sửa đổi.</p>',
            1,
        )
        if new_date:
            article.published += timedelta(hours=1)
            article.html = _with_date(article.html, article.published)
        self.write()

    def add_section(self, section: str, count: int) -> list[Article]:
        self.sections[section] = [
            self._take(self.now - timedelta(minutes=10 * (i + 1))) for i in range(count)
        ]
        self.write()
        return self.sections[section]

    def remove_section(self, section: str) -> list[Article]:
        """The section's pages and articles now answer 404, and the home page drops it."""
        removed = self.sections.pop(section)
        self.write()
        return removed

    def delete(self, article: Article) -> None:
        for articles in self.sections.values():
            if article in articles:
                articles.remove(article)
        self.write()

    # -- files -------------------------------------------------------------------------------

    def write(self) -> None:
        self.crawled += timedelta(minutes=1)  # Last-Modified moves with every change
        stamp = format_datetime(self.crawled.astimezone(UTC), usegmt=True)
        pages = self.directory / "pages"
        rows = []
        for section, articles in self.sections.items():
            slug = section.strip("/").replace("/", "_")
            n_pages = max(1, -(-len(articles) // PER_PAGE))
            for page in range(1, n_pages + 1):
                items = articles[(page - 1) * PER_PAGE : page * PER_PAGE]
                url = section if page == 1 else _page_url(section, page)
                file = pages / f"{slug}.p{page}.html"
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(_listing(section, items, page, n_pages), encoding="utf-8")
                rows.append((url, file, "listing"))
                if page == 1:  # Liferay answers the pager's link to page 1 too
                    rows.append((_page_url(section, 1), file, "listing"))
            for article in articles:
                file = pages / f"article-{article.article_id}.html"
                file.write_text(article.html, encoding="utf-8")
                rows.append((article.url, file, "article"))
        html_type = "text/html; charset=utf-8"
        typed = [(url, file, kind, html_type) for url, file, kind in rows]
        if self.home:
            file = pages / "home.html"
            file.write_text(_home(list(self.sections), self.head_links), encoding="utf-8")
            typed.append(("/", file, "home", html_type))
        for n, (url, (body, content_type)) in enumerate(sorted(self.extra.items())):
            file = pages / f"extra-{n}{Path(urlsplit(url).path).suffix}"
            file.write_bytes(body)
            typed.append((url, file, "other", content_type))
        with open(self.directory / "pages.tsv", "w", encoding="utf-8") as fh:
            fh.write("url\tfile\tkind\tcategory\tcrawled\tcontent_type\n")
            for url, file, kind, content_type in typed:
                relative = file.relative_to(self.directory)
                fh.write(f"{url}\t{relative}\t{kind}\t\t{stamp}\t{content_type}\n")
        for stale in pages.glob("*.p*.html"):
            if not any(stale == file for _, file, _, _ in typed):
                stale.unlink()
        for stale in pages.glob("article-*.html"):
            if not any(stale == file for _, file, _ in rows):
                stale.unlink()


def _home(sections: list[str], head_links: list[str]) -> str:
    menu = " ".join(f'<a href="{section}">{section}</a>' for section in sections)
    return (
        f"<!DOCTYPE html><html><head><title>Trang chủ</title>{''.join(head_links)}</head>"
        f'<body><nav>{menu} <a href="/gioi-thieu">Giới thiệu</a> <a href="/style.css">css</a>'
        "</nav></body></html>"
    )


def _with_date(text: str, moment: datetime) -> str:
    shown = moment.strftime("%d/%m/%Y | ") + moment.strftime("%I:%M %p").lstrip("0")
    return DATE_IN_PAGE.sub(shown, text, count=1)


def _page_url(section: str, page: int) -> str:
    return f"{section}?p_p_id=101&p_p_lifecycle=0&p_p_state=normal&_101_cur={page}"


def _listing(section: str, items: list[Article], page: int, n_pages: int) -> str:
    entries = "\n".join(
        f'<div class="asset-abstract"><h3 class="asset-title"><a href="{a.url}">{a.title}</a>'
        f'</h3><div class="assetPublishDate">{a.published:%d/%m/%Y | %I:%M %p}</div></div>'
        for a in items
    )
    pager = " ".join(
        f'<a href="{_page_url(section, n).replace("&", "&amp;")}">{n}</a>'
        for n in range(1, n_pages + 1)
        if n != page
    )
    return (
        f"<!DOCTYPE html><html><head><title>{section}</title></head><body>"
        f'<div class="asset-publisher">{entries}</div><ul class="pager">{pager}</ul>'
        "</body></html>"
    )
