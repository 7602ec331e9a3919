"""Portal URLs versus fetch URLs.

A crawl may fetch from a mirror or a local replica (``--base-url``) instead of the live host. The
archive must still speak of the portal's own URLs: an article is the same article whether it was
fetched from ``https://sotttt.hanoi.gov.vn`` or from ``http://127.0.0.1:8000``, and a second crawl
from another mirror must not add a second row. So requests are made to fetch URLs and everything
that is stored (rows, WARC-Target-URI) uses portal URLs; :class:`UrlMap` converts between them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SKIPPED_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "#", "ftp:")


class UrlMap:
    """Translate between the portal's URLs and the URLs actually fetched."""

    def __init__(self, portal_base: str, fetch_base: str | None = None):
        self.portal_base = portal_base.rstrip("/")
        self.fetch_base = (fetch_base or portal_base).rstrip("/")
        self._portal = urlsplit(self.portal_base)
        self._fetch = urlsplit(self.fetch_base)
        # Links in pages can name the portal by either scheme, and by www. or not.
        self.portal_hosts = {self._portal.hostname or ""}

    @property
    def is_mirrored(self) -> bool:
        return self.portal_base != self.fetch_base

    @property
    def fetch_host(self) -> str:
        return self._fetch.hostname or ""

    def to_fetch(self, url: str) -> str:
        """The URL to request for a portal URL (unchanged when not mirrored or off-portal)."""
        parts = urlsplit(url)
        if not self.is_mirrored or parts.hostname not in self.portal_hosts:
            return url
        return urlunsplit(
            (self._fetch.scheme, self._fetch.netloc, parts.path, parts.query, parts.fragment)
        )

    def to_portal(self, url: str) -> str:
        """The portal URL for a fetched URL (unchanged when not fetched from the mirror)."""
        parts = urlsplit(url)
        if not self.is_mirrored or parts.netloc != self._fetch.netloc:
            return url
        return urlunsplit(
            (self._portal.scheme, self._portal.netloc, parts.path, parts.query, parts.fragment)
        )

    def portal_url(self, path: str) -> str:
        return self.portal_base + path


def is_followable(href: str) -> bool:
    """False for links that are not HTTP resources (scripts, mail, anchors)."""
    stripped = href.strip().lower()
    return bool(stripped) and not stripped.startswith(SKIPPED_SCHEMES)


#: Query or path parameters that carry a server session, not a resource: Java servlet
#: containers (Liferay's Tomcat) add ``;jsessionid=...`` to links for cookie-less clients.
SESSION_PARAMS = frozenset({"jsessionid", "phpsessid", "aspsessionid", "sessionid"})
_PATH_SESSION = re.compile(r";(?:" + "|".join(SESSION_PARAMS) + r")=[^/;?#]*", re.IGNORECASE)


def strip_session_ids(url: str) -> str:
    """``url`` without session ids (``;jsessionid=...`` path parameters, ``?PHPSESSID=...``) and
    without its fragment: the same page whichever session the link was printed for."""
    parts = urlsplit(url)
    path = _PATH_SESSION.sub("", parts.path)
    items = [item for item in parts.query.split("&") if item]
    kept = [item for item in items if item.split("=", 1)[0].lower() not in SESSION_PARAMS]
    query = "&".join(kept) if len(kept) != len(items) else parts.query
    if path == parts.path and query == parts.query and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def canonical_url(url: str) -> str:
    """The one URL an article row is stored under: session ids and fragment dropped, query
    parameters sorted by name (the portal ignores their order, so ``?b=2&a=1`` is ``?a=1&b=2``).

    Values keep their percent-encoding; parameters with the same name keep their order.
    """
    parts = urlsplit(strip_session_ids(url))
    items = [item for item in parts.query.split("&") if item]
    query = "&".join(sorted(items, key=lambda item: item.split("=", 1)[0]))
    if query == parts.query:
        return urlunsplit(parts)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
