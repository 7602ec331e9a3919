"""A hostile portal: the demo replica behind a server that fails the way government portals do.

`HostilePortal` serves ``crawler/demo/sotttt`` byte for byte as :mod:`crawler.replica` does, and
adds the trouble a crawl from cron meets on the real web, one case per URL (``CASES``):

* **transient faults on real pages**: some articles and one listing of the replica answer 500,
  502, 503 or 429 (with ``Retry-After``), hang, reset the connection mid-body, stop short of
  their ``Content-Length`` or come back empty, the first time(s) they are asked for, and are
  served normally afterwards. A crawl must end with exactly the rows of a clean crawl;
* **a section of its own**, ``/hostile``, listing links that fail for good (5xx, 404, 410, a
  day-long ``Retry-After``, endless hangs, resets, a slow drip, oversized and undecodable
  bodies), redirect loops, chains and redirects to another server, a PDF and a PNG served as
  ``text/html``, an empty page, truncated HTML, windows-1258 and mislabelled copies of real
  articles, session ids and reordered query strings, a canonical link naming another article,
  a page robots.txt forbids and links to another server;
* **two traps**: ``/vong-lap``, a listing whose pages past the last one repeat page 1 (with a
  pager that always offers more), and ``/lich-cong-tac``, a calendar whose every day links the
  next and the previous one.

Links to "another server" point at :class:`CountingServer` instances (on 127.0.0.2, and on
127.0.0.1 at another port): they count every request that reaches them, which must stay zero.

The server records every request (time, target, what it did), so tests can check that retries
waited, that a page was fetched once and that forbidden paths were never asked for.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from crawler.profiles import load_profile
from crawler.replica import DEMO_REPLICA, ReplicaSite, split_target

PORTAL = "https://sotttt.hanoi.gov.vn"
PROFILE = Path(__file__).resolve().parent.parent / "crawler" / "portals" / "sotttt.toml"

#: Settings the hostile crawl runs with: politeness off (our own server on loopback), short
#: timeouts and backoff so the whole run takes seconds, and a 1 MB size limit (replica pages
#: are under 90 kB) so oversized bodies are cheap to serve.
HOSTILE_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "DOWNLOAD_TIMEOUT": "4",
    "DOWNLOAD_MAXSIZE": "1000000",
    "GOVARCHIVE_RETRY_BACKOFF": "0.5",
    "CONCURRENT_REQUESTS": "16",
}
RETRY_AFTER = 8  # seconds: longer than any wait for a free download slot in this crawl
MAX_LISTING_PAGES = 64  # the largest section of the replica walks 59 listing pages
HOSTILE_ID = 990000  # hostile-only article ids are 9900NN
_PAGER = "p_p_id=101&p_p_lifecycle=0&p_p_state=normal&p_p_mode=view&_101_cur="


@dataclass(frozen=True)
class Case:
    """One injected case: what the server does, and what the crawler must do about it."""

    name: str
    kind: str  # transient | failure | redirect | content | encoding | url | trap | scope
    what: str
    expect: str
    link: str  # the link the crawler is given (path + query, or an absolute URL)
    article_id: str | None = None  # the article the link leads to, if any
    reason: str | None = None  # for failures: words the fetch row's error must contain
    watch: tuple[str, ...] = ()  # other URL parts whose fetch rows belong to this case

    @property
    def portal_url(self) -> str:
        return self.link if "://" in self.link else PORTAL + self.link

    @property
    def url_parts(self) -> tuple[str, ...]:
        """What identifies this case's fetch rows: its full URL, or parts of URLs."""
        own = f"/view_content/{self.article_id}-" if self.article_id else self.portal_url
        return (own, *self.watch)


# -- the replica's own articles ------------------------------------------------------------


def _listed_articles() -> list[dict]:
    with open(DEMO_REPLICA / "ground_truth.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return sorted((r for r in rows if r["listed_on"]), key=lambda r: int(r["article_id"]))


def to_windows_1258(text: str) -> bytes:
    """``text`` as windows-1258 writes Vietnamese: base letter (ô, ơ, ư...) + combining tone mark.

    Characters the code page lacks become numeric character references, as browsers send them.
    """
    out = []
    for char in text:
        try:
            out.append(char.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        import unicodedata

        base, *marks = unicodedata.normalize("NFD", char)
        for i, mark in enumerate(marks):
            rest = "".join(marks[:i] + marks[i + 1 :])
            try:
                out.append((unicodedata.normalize("NFC", base + mark) + rest).encode("cp1258"))
                break
            except UnicodeEncodeError:
                continue
        else:
            try:
                out.append((base + "".join(marks)).encode("cp1258"))
            except UnicodeEncodeError:
                out.append(f"&#{ord(char)};".encode())
    return b"".join(out)


_CANONICAL = re.compile(r'<link href="[^"]*" rel="canonical" />')
_META_CHARSET = re.compile(r"charset=utf-8", re.IGNORECASE)

# A one-page PDF and a 1x1 PNG: what a CMS serves when a document link is mislabelled.
PDF_BODY = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]"
    b"/Count 1>>endobj 3 0 obj<</Type/Page/MediaBox[0 0 612 792]/Parent 2 0 R>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_BODY = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class HostilePortal:
    """The cases, the pages they serve and the log of what was asked; see the module doc."""

    def __init__(self, foreign_hosts: tuple[str, str]):
        self.site = ReplicaSite(DEMO_REPLICA)
        self.foreign_host, self.foreign_port = foreign_hosts  # "http://127.0.0.2:P", "...:Q"
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.log: list[tuple[float, str, str]] = []  # (monotonic time, target, what was done)
        self.stopping = threading.Event()
        articles = _listed_articles()
        self.originals = {a["article_id"]: a for a in articles}
        picks = iter(articles)
        self.behaviours: dict[str, object] = {}  # fault key -> callable(handler, attempt)
        self.cases: list[Case] = []
        self._transient_cases(picks)
        self._failure_cases()
        self._redirect_cases()
        self._content_cases(picks)
        self._url_cases(picks)
        self.loop_pages = [[next(picks)["url"] for _ in range(5)] for _ in range(3)]
        self.event_template = next(picks)
        self.cases += [
            Case(
                "listing-loop",
                "trap",
                "a listing whose pages past the last (3) repeat page 1, with a pager that "
                "always offers two more",
                "pagination stopped at the first page listing the same articles as an earlier "
                "one (logged)",
                "/vong-lap",
            ),
            Case(
                "calendar-trap",
                "trap",
                "a calendar: every day links the day before and after, the months around it, "
                "and an event page of its own",
                f"stopped at the section's listing page cap ({MAX_LISTING_PAGES}, logged)",
                "/lich-cong-tac",
            ),
        ]

    # -- bookkeeping ---------------------------------------------------------------------

    def attempt(self, key: str) -> int:
        with self.lock:
            self.attempts[key] += 1
            return self.attempts[key]

    def record(self, target: str, what: str) -> None:
        with self.lock:
            self.log.append((time.monotonic(), target, what))

    def requests_for(self, needle: str) -> list[tuple[float, str, str]]:
        with self.lock:
            return [entry for entry in self.log if needle in entry[1]]

    def case(self, name: str) -> Case:
        return next(c for c in self.cases if c.name == name)

    # -- pages ---------------------------------------------------------------------------

    def original_bytes(self, article: dict) -> bytes:
        return (DEMO_REPLICA / article["file"]).read_bytes()

    def copy_of(self, article: dict, url: str | None, *, charset_meta: str | None = "utf-8"):
        """A real article's page, re-homed at ``url`` (its canonical link), as text."""
        text = self.original_bytes(article).decode("utf-8")
        link = f'<link href="{url}" rel="canonical" />' if url else ""
        text = _CANONICAL.sub(link, text, count=1)
        if charset_meta != "utf-8":
            text = _META_CHARSET.sub(f"charset={charset_meta}" if charset_meta else "", text)
        return text

    def hostile_link(self, number: int, slug: str, section: str = "hostile") -> str:
        return f"/{section}/-/view_content/{HOSTILE_ID + number}-{slug}.html"

    def _add(self, case: Case, key: str | None, behaviour) -> None:
        self.cases.append(case)
        if key is not None:
            self.behaviours[key] = behaviour

    # -- transient faults on the replica's own pages -------------------------------------

    def _transient_cases(self, picks) -> None:
        def first(n, fault):
            return lambda h, attempt: fault(h) if attempt <= n else h.serve_replica()

        def status(code, headers=None):
            return lambda h: h.send(code, headers or {}, b"busy")

        transient = [
            ("t500", "500 once, then the page", first(1, status(500))),
            ("t502-twice", "502 twice, then the page", first(2, status(502))),
            (
                "t503-retry-after",
                "503 with Retry-After: 1, then the page",
                first(1, status(503, {"Retry-After": "1"})),
            ),
            (
                "t429-retry-after",
                f"429 with Retry-After: {RETRY_AFTER}, then the page",
                first(1, status(429, {"Retry-After": str(RETRY_AFTER)})),
            ),
            (
                "t429-retry-after-date",
                f"429 with Retry-After as an HTTP date {RETRY_AFTER + 1} s ahead, then the page",
                first(
                    1,
                    lambda h: h.send(
                        429,
                        {"Retry-After": formatdate(time.time() + RETRY_AFTER + 1, usegmt=True)},
                        b"",
                    ),
                ),
            ),  # fmt: skip
            ("t-timeout", "no answer at all the first time, then the page", first(1, _hang)),
            ("t-reset", "connection reset mid-body once, then the page", first(1, _reset)),
            (
                "t-short-body",
                "connection closed after half the Content-Length once, then the page",
                first(1, _short),
            ),
            ("t-empty", "an empty 200 once, then the page", first(1, _empty)),
        ]
        for name, what, behaviour in transient:
            article = next(picks)
            self._add(
                Case(
                    name,
                    "transient",
                    what,
                    "retried with backoff (Retry-After honoured); archived like a clean crawl",
                    article["url"],
                    article["article_id"],
                ),
                article["article_id"],
                behaviour,
            )
        listing = "/vi/thanh-tra"
        self._add(
            Case(
                "t-listing-503",
                "transient",
                "a section's first listing page answers 503 once",
                "retried; the section is walked as in a clean crawl",
                listing,
            ),
            listing,
            first(1, status(503)),
        )

    # -- permanent failures --------------------------------------------------------------

    def _failure_cases(self) -> None:
        def always(code, headers=None):
            return lambda h, attempt: h.send(code, headers or {}, b"<html>error</html>")

        failures = [
            (1, "p500", "always 500", always(500), "HTTP 500"),
            (2, "p502", "always 502", always(502), "HTTP 502"),
            (3, "p503", "always 503, no Retry-After", always(503), "HTTP 503"),
            (4, "p404", "404 Not Found", always(404), "HTTP 404"),
            (5, "p410", "410 Gone", always(410), "HTTP 410"),
            (
                6,
                "p429-day",
                "429 with Retry-After: 86400 (come back tomorrow)",
                always(429, {"Retry-After": "86400"}),
                "Retry-After",
            ),
            (7, "p-timeout", "never answers", lambda h, a: _hang(h), "timeout"),
            (8, "p-reset", "resets the connection mid-body", lambda h, a: _reset(h), "connection"),
            (9, "p-drip", "drips 64 bytes every 0.25 s forever", lambda h, a: _drip(h), "timeout"),
            (
                10,
                "p-short-body",
                "closes the connection after half its Content-Length",
                lambda h, a: _short(h),
                "connection",
            ),
            (
                11,
                "oversize-declared",
                "declares a 50 MB body",
                lambda h, a: _oversize(h, declared=True),
                "DOWNLOAD_MAXSIZE",
            ),
            (
                12,
                "oversize-streamed",
                "streams 3 MB without a Content-Length",
                lambda h, a: _oversize(h, declared=False),
                "DOWNLOAD_MAXSIZE",
            ),
            (
                13,
                "gzip-bomb",
                "20 MB of zeros, gzip-encoded into 20 kB",
                lambda h, a: _gzip_bomb(h),
                "DOWNLOAD_MAXSIZE",
            ),
            (
                14,
                "bad-gzip",
                "Content-Encoding: gzip on bytes that are not gzip",
                lambda h, a: h.send(200, {"Content-Encoding": "gzip"}, b"not gzip at all"),
                "decode",
            ),
            (15, "p-empty", "an empty 200, every time", lambda h, a: _empty(h), "empty body"),
        ]
        for number, name, what, behaviour, reason in failures:
            link = self.hostile_link(number, name)
            self._add(
                Case(name, "failure", what, f"recorded as a failure: {reason!r}", link,
                     str(HOSTILE_ID + number), reason),
                str(HOSTILE_ID + number),
                behaviour,
            )  # fmt: skip
        listing = f"/hostile?{_PAGER}2"
        self._add(
            Case(
                "p-listing-500",
                "failure",
                "a listing page that always answers 500",
                "recorded as a failure: 'HTTP 500'; the crawl goes on",
                listing,
                reason="HTTP 500",
            ),
            listing,
            always(500),
        )

    # -- redirects -----------------------------------------------------------------------

    def _redirect_cases(self) -> None:
        def redirect(location, code=302):
            return lambda h, attempt: h.send(code, {"Location": location}, b"")

        loop_b = self.hostile_link(21, "redirect-loop-b")
        target = self.hostile_link(24, "redirect-target")
        foreign = self.foreign_host + "/tin/-/view_content/1-foreign.html"
        other_port = self.foreign_port + "/tin/-/view_content/2-foreign.html"
        portal_target = self.hostile_link(30, "moved-on-portal")
        cases = [
            (20, "redirect-loop", "302 to a page that 302s back", redirect(loop_b),
             "recorded as a failure: 'redirect loop'", "redirect loop", ("990021-",)),
            (22, "redirect-self", "302 to itself", None, "recorded as a failure: 'redirect loop'",
             "redirect loop", ()),
            (23, "redirect-chain", "301 → 302 → 307 → an article", redirect("/hostile/hop/1", 301),
             "followed; the article is archived under its canonical URL", None, ("/hostile/hop/",)),
            (25, "redirect-long-chain", "a chain of 15 redirects", redirect("/hostile/long/1"),
             "recorded as a failure: 'too many redirects'", "too many redirects",
             ("/hostile/long/",)),
            (26, "redirect-other-host", "302 to another server (127.0.0.2)", redirect(foreign),
             "not followed, recorded as a failure: 'leaves the portal'", "leaves the portal", ()),
            (27, "redirect-other-port", "302 to another port of the same host",
             redirect(other_port), "not followed, recorded as a failure: 'leaves the portal'",
             "leaves the portal", ()),
            (28, "retry-then-redirect-away", "503 once, then 302 to another server", None,
             "retried, then not followed: 'leaves the portal'", "leaves the portal", ()),
            (29, "redirect-to-public-url", "302 to the portal's public https URL", redirect(
                PORTAL + portal_target), "followed on the mirror, never on the live host", None,
             ()),
        ]  # fmt: skip
        for number, name, what, behaviour, expect, reason, watch in cases:
            key = str(HOSTILE_ID + number)
            if name == "redirect-self":
                behaviour = redirect(self.hostile_link(number, name))
            if name == "retry-then-redirect-away":
                behaviour = _then(lambda h: h.send(503, {}, b""), redirect(foreign))
            link = self.hostile_link(number, name)
            self._add(
                Case(name, "redirect", what, expect, link, key, reason, watch), key, behaviour
            )
        self.behaviours[str(HOSTILE_ID + 21)] = redirect(self.hostile_link(20, "redirect-loop"))
        self.behaviours["/hostile/hop/1"] = redirect("/hostile/hop/2", 302)
        self.behaviours["/hostile/hop/2"] = redirect(target, 307)
        for hop in range(1, 16):
            self.behaviours[f"/hostile/long/{hop}"] = redirect(f"/hostile/long/{hop + 1}")
        self.redirect_target = (target, portal_target)

    # -- bodies ----------------------------------------------------------------------------

    def _content_cases(self, picks) -> None:
        def page(body: bytes, content_type="text/html; charset=utf-8"):
            return lambda h, attempt: h.send(200, {"Content-Type": content_type}, body)

        for target in self.redirect_target:
            article = next(picks)
            key = target.split("/-/view_content/")[1].split("-")[0]
            self.behaviours[key] = page(self.copy_of(article, PORTAL + target).encode())
        slow = next(picks)
        truncated = next(picks)
        truncated_body = self.original_bytes(truncated)
        cases = [
            (31, "pdf-as-html", "a PDF served as text/html", page(PDF_BODY),
             "archived in WARC, not extracted; note names the PDF"),
            (32, "png-as-html", "a PNG served as text/html", page(PNG_BODY),
             "archived in WARC, not extracted; note names the PNG"),
            (33, "truncated-html", "an article cut in half, with an honest Content-Length",
             page(truncated_body[: len(truncated_body) // 2]),
             "archived and extracted as received; note says it ends before </html>"),
            (34, "slow-but-complete", "an article dripped over ~1.5 s (under the timeout)",
             lambda h, a: _drip(h, self.copy_of(slow, None).encode(), chunks=6, pause=0.25),
             "archived and extracted"),
        ]  # fmt: skip
        for number, name, what, behaviour, expect in cases:
            key = str(HOSTILE_ID + number)
            self._add(
                Case(name, "content", what, expect, self.hostile_link(number, name), key),
                key,
                behaviour,
            )
        self.truncated_original = truncated
        self.encoded_originals: dict[str, dict] = {}
        encodings = [
            (41, "windows-1258", "windows-1258, declared in the header and <meta>",
             "windows-1258", "windows-1258", "cp1258"),
            (42, "cp1258-header-says-utf8", "windows-1258 body, header says utf-8, no <meta>",
             "utf-8", None, "cp1258"),
            (43, "cp1258-meta-says-utf8", "windows-1258 body, header and <meta> say utf-8",
             "utf-8", "utf-8", "cp1258"),
            (44, "cp1258-labelled-latin1", "windows-1258 body labelled iso-8859-1 everywhere",
             "iso-8859-1", "iso-8859-1", "cp1258"),
            (45, "utf8-header-says-latin1", "UTF-8 body, header says iso-8859-1, no <meta>",
             "iso-8859-1", None, "utf-8"),
        ]  # fmt: skip
        for number, name, what, header, meta, body_encoding in encodings:
            article = next(picks)
            link = self.hostile_link(number, name)
            text = self.copy_of(article, PORTAL + link, charset_meta=meta)
            body = to_windows_1258(text) if body_encoding == "cp1258" else text.encode()
            key = str(HOSTILE_ID + number)
            self.encoded_originals[key] = article
            self._add(
                Case(name, "encoding", what, "same title and text as the UTF-8 original",
                     link, key),
                key,
                page(body, f"text/html; charset={header}"),
            )  # fmt: skip

    # -- URLs ------------------------------------------------------------------------------

    def _url_cases(self, picks) -> None:
        session_original = next(picks)
        session = self.hostile_link(50, "session-id")
        # Misconfigured Liferay prints the session into the canonical link too.
        session_body = self.copy_of(session_original, PORTAL + session + ";jsessionid=C0FFEE")
        query_original = next(picks)
        query = self.hostile_link(51, "query-order")
        wrong_original = next(picks)
        victim = next(picks)  # a real article the wrong canonical link names
        thong_tin = "/vi/thong-tin-dt?" + (
            "p_p_id=101&p_p_lifecycle=0&p_p_state=normal&p_p_mode=view&p_p_col_id=column-1"
            "&p_p_col_pos=1&p_p_col_count=2&_101_delta=10&_101_keywords=&_101_advancedSearch="
            "false&_101_andOperator=true&p_r_p_564233524_resetCur=false&_101_cur=2"
        )
        reordered = "/vi/thong-tin-dt?" + (
            "p_p_id=101&_101_delta=10&p_p_mode=view&p_p_state=normal&p_p_lifecycle=0"
            "&p_r_p_564233524_resetCur=false&_101_andOperator=true&_101_advancedSearch=false"
            "&_101_keywords=&p_p_col_count=2&p_p_col_pos=1&p_p_col_id=column-1&_101_cur=2"
        )
        real = session_original["url"]
        self.url_extras = {
            "session-id": [session + ";jsessionid=AAAA1111", session + ";jsessionid=BBBB2222"],
            "query-order": [query + "?b=2&a=1", query + "?a=1&b=2"],
            "real-article-session": [real + ";jsessionid=DDDD4444"],
            "listing-session-and-order": [thong_tin.replace("?", ";jsessionid=EEEE5555?", 1),
                                          reordered],
        }  # fmt: skip
        self.reordered_listing = thong_tin
        self.url_originals = {"session-id": session_original, "query-order": query_original,
                              "wrong-canonical": wrong_original, "victim": victim}  # fmt: skip
        cases = [
            (50, "session-id", "one article linked with two ;jsessionid= values, its canonical "
             "link carrying a third", session_body.encode(),
             "fetched once; one row, URL without the session id"),
            (51, "query-order", "one article linked as ?b=2&a=1 and ?a=1&b=2, no canonical link",
             self.copy_of(query_original, None).encode(),
             "fetched once; one row under ?a=1&b=2"),
            (52, "wrong-canonical", "an article whose canonical link names another (real) "
             "article", self.copy_of(wrong_original, PORTAL + victim["url"]).encode(),
             "row under its own URL; the other article's row untouched"),
        ]  # fmt: skip
        for number, name, what, body, expect in cases:
            key = str(HOSTILE_ID + number)
            link = self.url_extras.get(name, [self.hostile_link(number, name)])[0]
            self._add(
                Case(name, "url", what, expect, link, key),
                key,
                lambda h, a, body=body: h.send(200, {"Content-Type": "text/html; charset=utf-8"},
                                               body),
            )  # fmt: skip
        self.cases += [
            Case(
                "listing-session-and-order",
                "url",
                "a listing page linked with ;jsessionid= and with its query reordered",
                "fetched once",
                self.url_extras["listing-session-and-order"][0],
            ),
            Case(
                "robots-disallowed",
                "scope",
                "an article under /noi-bo/, which robots.txt disallows",
                "never requested; noted in fetches as forbidden by robots.txt",
                self.hostile_link(60, "internal-memo", section="noi-bo"),
                str(HOSTILE_ID + 60),
            ),
            Case(
                "link-other-host",
                "scope",
                "an article link to another server (127.0.0.2)",
                "never requested",
                self.foreign_host + "/tin/-/view_content/3-foreign.html",
            ),
            Case(
                "link-other-port",
                "scope",
                "an article link to another port of the same host",
                "never requested",
                self.foreign_port + "/tin/-/view_content/4-foreign.html",
            ),
        ]

    # -- listings of our own ---------------------------------------------------------------

    def listing_page(self, title: str, links: list[str]) -> bytes:
        items = "\n".join(f'<li><a href="{_attr(link)}">{_attr(link)}</a></li>' for link in links)
        return (
            f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>'
            f"</head><body><h1>{title}</h1><ul>\n{items}\n</ul></body></html>\n"
        ).encode()

    def hostile_listing(self) -> bytes:
        links = [case.link for case in self.cases if case.kind != "trap"]
        links += [link for extra in self.url_extras.values() for link in extra]
        links = [link for link in dict.fromkeys(links) if link != "/vi/thanh-tra"]
        return self.listing_page("Tin tức (hostile)", links)

    def loop_listing(self, page: int) -> bytes:
        items = self.loop_pages[page - 1] if page <= len(self.loop_pages) else self.loop_pages[0]
        pager = [f"/vong-lap?{_PAGER}{n}" for n in (page - 1, page + 1, page + 2) if n > 1]
        return self.listing_page(f"Vòng lặp, trang {page}", items + pager)

    def calendar(self, day: str) -> bytes:
        from datetime import date, timedelta

        today = date.fromisoformat(day)
        around = [today - timedelta(days=1), today + timedelta(days=1)]
        around += [today - timedelta(days=30), today + timedelta(days=30)]
        links = [f"/lich-cong-tac?ngay={d.isoformat()}" for d in around]
        event = f"/lich-cong-tac/-/view_content/98{today.strftime('%Y%m%d')}-lich-{day}.html"
        return self.listing_page(f"Lịch công tác {day}", [event, *links])

    def robots(self) -> bytes:
        base = (DEMO_REPLICA / "robots.txt").read_bytes()
        return base.rstrip(b"\n") + b"\nDisallow: /noi-bo/\n"


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


def _then(first, afterwards):
    return lambda h, attempt: first(h) if attempt == 1 else afterwards(h, attempt)


# -- misbehaviours, on the raw socket ------------------------------------------------------


def _hang(h: _Handler) -> None:
    """Answer nothing until the client gives up (or the server stops)."""
    h.close_connection = True
    h.connection.settimeout(0.2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not h.portal.stopping.is_set():
        try:
            if h.connection.recv(1024) == b"":
                return
        except TimeoutError:
            continue
        except OSError:
            return


def _reset(h: _Handler) -> None:
    body = h.portal.original_bytes(h.portal.event_template)
    h.raw_head(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": len(body)})
    h.raw(body[: len(body) // 3])
    time.sleep(0.05)
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def _short(h: _Handler) -> None:
    body = h.portal.original_bytes(h.portal.event_template)
    h.raw_head(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": len(body)})
    h.raw(body[: len(body) // 2])
    h.connection.shutdown(socket.SHUT_WR)
    h.close_connection = True


def _empty(h: _Handler) -> None:
    h.send(200, {"Content-Type": "text/html; charset=utf-8"}, b"")


def _drip(h: _Handler, body: bytes | None = None, chunks: int = 0, pause: float = 0.25) -> None:
    body = body or h.portal.original_bytes(h.portal.event_template)
    size = -(-len(body) // chunks) if chunks else 64
    h.raw_head(200, {"Content-Type": "text/html; charset=utf-8", "Content-Length": len(body)})
    for start in range(0, len(body), size):
        if h.portal.stopping.is_set() or not h.raw(body[start : start + size]):
            h.close_connection = True
            return
        time.sleep(pause)


def _oversize(h: _Handler, declared: bool) -> None:
    chunk = b"<p>" + b"x" * 65533 + b"\n"
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if declared:
        headers["Content-Length"] = 50_000_000
    else:
        headers["Connection"] = "close"
    h.raw_head(200, headers)
    h.close_connection = True
    for _ in range(48):  # 3 MB, unless the client hangs up first
        if not h.raw(chunk):
            return


def _gzip_bomb(h: _Handler) -> None:
    h.send(200, {"Content-Encoding": "gzip"}, _GZIP_BOMB)


_GZIP_BOMB = gzip.compress(b"\0" * 20_000_000, compresslevel=9)


# -- the servers ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "govarchive-hostile/1"
    timeout = 30
    server: _HostileHTTPServer

    @property
    def portal(self) -> HostilePortal:
        return self.server.portal

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the client reset or closed: that is its right
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args) -> None:
        pass

    # -- writing -------------------------------------------------------------------------

    def raw(self, data: bytes) -> bool:
        try:
            self.connection.sendall(data)
            return True
        except OSError:
            return False

    def raw_head(self, status: int, headers: dict) -> None:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if value is not None]
        self.raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, status: int, headers: dict, body: bytes) -> None:
        headers = {"Content-Type": "text/html; charset=utf-8", **headers}
        headers["Content-Length"] = len(body)
        self.raw_head(status, headers)
        self.raw(body)

    def serve_replica(self) -> None:
        status, headers, body = self.portal.site.lookup(self.path, dict(self.headers.items()))
        self.send(status, headers, body)

    # -- routing -------------------------------------------------------------------------

    def do_GET(self) -> None:
        portal = self.portal
        path, query = split_target(self.path)
        key, what = self._route(path, query)
        portal.record(self.path, what)
        if key is None:
            return
        behaviour = portal.behaviours.get(key)
        if behaviour is None:
            self.serve_replica()
        else:
            behaviour(self, portal.attempt(key))

    def _route(self, path: str, query: tuple) -> tuple[str | None, str]:
        portal = self.portal
        params = dict(query)
        if path == "/robots.txt":
            self.send(200, {"Content-Type": "text/plain; charset=utf-8"}, portal.robots())
            return None, "robots"
        if path == "/hostile" and not params:
            self.send(200, {}, portal.hostile_listing())
            return None, "hostile listing"
        if path == "/vong-lap":
            page = int(params.get("_101_cur", "1"))
            self.send(200, {}, portal.loop_listing(page))
            return None, f"loop page {page}"
        if path == "/lich-cong-tac":
            day = params.get("ngay", "2024-03-01")
            self.send(200, {}, portal.calendar(day))
            return None, f"calendar {day}"
        match = re.search(r"/-/view_content/(\d+)-", path)
        if match and match.group(1).startswith("98") and path.startswith("/lich-cong-tac/"):
            url = PORTAL + path
            body = portal.copy_of(portal.event_template, url).encode()
            self.send(200, {}, body)
            return None, "calendar event"
        if match:
            return match.group(1), f"article {match.group(1)}"
        for key in portal.behaviours:
            if key.startswith("/") and split_target(key) == (path, query):
                return key, f"page {key}"
        return "replica", "replica"


class _HostileHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address, portal: HostilePortal):
        self.portal = portal
        super().__init__(address, _Handler)


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        body = b"<html><body>Not the portal.</body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_POST = do_GET

    def log_message(self, format: str, *args) -> None:
        pass


class CountingServer:
    """Another server: answers anything with 200 and counts what reached it."""

    def __init__(self, host: str):
        server = ThreadingHTTPServer((host, 0), _CountingHandler)
        server.daemon_threads = True
        server.hits = []
        self._server = server
        self.url = f"http://{host}:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def hits(self) -> list[str]:
        return list(self._server.hits)

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _loopback_alias() -> str:
    """127.0.0.2 where the OS routes all of 127/8 to loopback (Linux); else localhost."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return "localhost"


class HostileServer:
    """The hostile portal on 127.0.0.1 plus the two "other" servers; a context manager."""

    def __init__(self) -> None:
        self.foreign = [CountingServer(_loopback_alias()), CountingServer("127.0.0.1")]
        self.portal = HostilePortal((self.foreign[0].url, self.foreign[1].url))
        self._server = _HostileHTTPServer(("127.0.0.1", 0), self.portal)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def cases(self) -> list[Case]:
        return self.portal.cases

    @property
    def foreign_hits(self) -> list[str]:
        return [hit for server in self.foreign for hit in server.hits]

    def profile(self, directory: Path) -> Path:
        """The sotttt profile with the hostile sections added and a listing page cap."""
        text = PROFILE.read_text(encoding="utf-8")
        start = 'start_paths = [\n    "/vi/tin-tuc-su-kien",'
        assert start in text, "sotttt.toml changed: update tests/hostile.py"
        text = text.replace(
            start, start.replace("[\n", '[\n    "/hostile", "/vong-lap", "/lich-cong-tac",\n')
        )
        # The listing pattern is the Liferay template's; the portal file overrides it.
        listing = load_profile("sotttt").listing_pattern.pattern
        assert "'" not in listing, "the template's listing pattern changed: update tests/hostile.py"
        text += (
            f"\n[links]\nlisting = '{listing}|/lich-cong-tac\\?ngay='\n"
            f"max_pages = {MAX_LISTING_PAGES}\n"
        )
        path = directory / "hostile-sotttt.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def shutdown(self) -> None:
        self.portal.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for server in self.foreign:
            server.shutdown()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
