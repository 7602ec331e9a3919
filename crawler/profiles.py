"""Portal profiles: one TOML file per portal under ``crawler/portals/``.

A portal is data, not code. The profile says where the news sections start, which links are
articles and which are further listing pages, how the portal prints its dates, and (optionally)
CSS selectors that beat generic extraction on this portal's template.

Every problem in a profile raises :class:`ProfileError` naming the file and the field, because
the person who has to fix it is editing that file.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PORTALS_DIR = Path(__file__).parent / "portals"

SELECTOR_FIELDS = ("title", "date", "sapo", "body", "byline", "posted_by", "category")


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file, the field and the problem."""

    def __init__(self, path: Path | str, field_name: str, problem: str):
        self.path = str(path)
        self.field = field_name
        self.problem = problem
        super().__init__(f"{self.path}: {field_name}: {problem}")


@dataclass(frozen=True)
class Selectors:
    """CSS selectors that override generic extraction; ``None`` means "let trafilatura decide"."""

    title: str | None = None
    date: str | None = None
    sapo: str | None = None
    body: str | None = None
    byline: str | None = None
    posted_by: str | None = None
    category: str | None = None
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    base_url: str
    start_paths: tuple[str, ...]
    article_pattern: re.Pattern[str]
    listing_pattern: re.Pattern[str]
    title: str = ""
    language: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    exclude_patterns: tuple[re.Pattern[str], ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    date_pattern: re.Pattern[str] | None = None
    date_formats: tuple[str, ...] = ()
    date_order: str = "DMY"
    selectors: Selectors = field(default_factory=Selectors)
    not_authors: tuple[str, ...] = ()
    page_number_pattern: re.Pattern[str] | None = None
    stop_after_known: int = 20
    #: Listing pages walked per section at most (None: the GOVARCHIVE_MAX_LISTING_PAGES setting).
    max_listing_pages: int | None = None
    path: str = ""
    #: Fingerprint of the profile file: extraction depends on it, so rows record it.
    config_hash: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host name the portal answers on; requests never leave these."""
        return (self.host, *self.allowed_hosts)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def article_id(self, url: str) -> str | None:
        """The portal's own id for an article URL (the ``id`` group), or None if not an article."""
        match = self.article_pattern.search(url)
        if not match or self.is_excluded(url):
            return None
        return match.groupdict().get("id") or match.group(0)

    def is_listing(self, url: str) -> bool:
        return bool(self.listing_pattern.search(url)) and not self.is_excluded(url)

    def page_number(self, url: str) -> int | None:
        """A listing URL's page number (1 for a section's bare start page), if the profile says."""
        if self.page_number_pattern is None:
            return None
        match = self.page_number_pattern.search(url)
        if match:
            return int(match.group(1))
        return 1 if not self.is_listing(url) else None

    def is_excluded(self, url: str) -> bool:
        return any(pattern.search(url) for pattern in self.exclude_patterns)


def available_profiles() -> list[str]:
    """Names of the bundled portal profiles."""
    return sorted(p.stem for p in PORTALS_DIR.glob("*.toml"))


def profile_path(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        return candidate
    return PORTALS_DIR / f"{name_or_path}.toml"


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile by bundled name (``sotttt``) or by path to a TOML file."""
    path = profile_path(name_or_path)
    if not path.is_file():
        known = ", ".join(available_profiles())
        raise ProfileError(path, "portal", f"no such profile (known portals: {known})")
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(path, "toml", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(path, "toml", f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ProfileError(path, "portal", f"cannot read the profile: {exc.strerror}") from None
    profile = _profile_from_dict(data, path)
    return replace(profile, config_hash=hashlib.sha1(raw).hexdigest()[:12])


def _profile_from_dict(data: dict, path: Path) -> Profile:
    reader = _Reader(data, path)
    base_url = reader.string("portal.base_url").rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(path, "portal.base_url", f"must be an http(s) URL, got {base_url!r}")
    # Optional hints: a crawl always starts at the home page and finds sections itself
    # (crawler/discovery.py); listed paths are walked even when nothing links them.
    start_paths = reader.string_list("portal.start_paths")
    for start in start_paths:
        if not start.startswith("/"):
            raise ProfileError(path, "portal.start_paths", f"{start!r} must start with '/'")
    timezone = reader.string("portal.timezone", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(path, "portal.timezone", f"unknown time zone {timezone!r}") from None
    date_order = reader.string("dates.order", "DMY")
    if sorted(date_order) != ["D", "M", "Y"]:
        raise ProfileError(path, "dates.order", f"must be a permutation of DMY, got {date_order!r}")
    selectors = Selectors(
        **{name: reader.optional_string(f"selectors.{name}") for name in SELECTOR_FIELDS},
        remove=tuple(reader.string_list("selectors.remove")),
    )
    for name in (*SELECTOR_FIELDS, "remove"):
        values = getattr(selectors, name)
        for css in values if isinstance(values, tuple) else [values]:
            if css:
                _check_css(css, path, f"selectors.{name}")
    date_pattern = reader.optional_regex("dates.pattern")
    return Profile(
        name=_portal_name(reader.string("portal.name", path.stem), path),
        title=reader.string("portal.title", ""),
        base_url=base_url,
        start_paths=tuple(start_paths),
        language=reader.string("portal.language", "vi"),
        timezone=timezone,
        allowed_hosts=tuple(reader.string_list("portal.allowed_hosts")),
        article_pattern=reader.regex("links.article"),
        listing_pattern=reader.regex("links.listing"),
        exclude_patterns=tuple(reader.regex_list("links.exclude")),
        date_pattern=date_pattern,
        date_formats=tuple(reader.string_list("dates.formats")),
        date_order=date_order,
        selectors=selectors,
        not_authors=tuple(a.casefold() for a in reader.string_list("byline.not_authors")),
        page_number_pattern=reader.optional_regex("links.page_number"),
        max_listing_pages=(
            reader.positive_int("links.max_pages", 1)
            if reader.optional("links.max_pages") is not None
            else None
        ),
        stop_after_known=reader.positive_int("incremental.stop_after_known", 20),
        path=str(path),
    )


def _portal_name(name: str, path: Path) -> str:
    # The name prefixes WARC file names and is stored in every row: keep it a plain word.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise ProfileError(
            path, "portal.name", f"must be letters, digits, '-', '_' or '.', got {name!r}"
        )
    return name


def _check_css(css: str, path: Path, field_name: str) -> None:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(css)
    except SelectorError as exc:
        raise ProfileError(path, field_name, f"invalid CSS selector {css!r}: {exc}") from None


class _Reader:
    """Typed access to dotted TOML fields, turning every mistake into a ProfileError."""

    _missing = object()

    def __init__(self, data: dict, path: Path):
        self.data = data
        self.path = path

    def _get(self, dotted: str, default=_missing):
        node = self.data
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                if default is self._missing:
                    raise ProfileError(self.path, dotted, "is required")
                return default
            node = node[key]
        return node

    def string(self, dotted: str, default=_missing) -> str:
        value = self._get(dotted, default)
        if not isinstance(value, str) or not value.strip() and default is self._missing:
            raise ProfileError(self.path, dotted, f"must be a non-empty string, got {value!r}")
        return value

    def optional(self, dotted: str):
        return self._get(dotted, None)

    def optional_string(self, dotted: str) -> str | None:
        value = self._get(dotted, None)
        if value is not None and not isinstance(value, str):
            raise ProfileError(self.path, dotted, f"must be a string, got {value!r}")
        return value or None

    def positive_int(self, dotted: str, default: int) -> int:
        value = self._get(dotted, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ProfileError(self.path, dotted, f"must be a positive integer, got {value!r}")
        return value

    def string_list(self, dotted: str) -> list[str]:
        value = self._get(dotted, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(self.path, dotted, f"must be a list of strings, got {value!r}")
        return value

    def _compile(self, dotted: str, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise ProfileError(self.path, dotted, f"invalid regular expression: {exc}") from None

    def regex(self, dotted: str) -> re.Pattern[str]:
        return self._compile(dotted, self.string(dotted))

    def optional_regex(self, dotted: str) -> re.Pattern[str] | None:
        value = self.optional_string(dotted)
        return self._compile(dotted, value) if value else None

    def regex_list(self, dotted: str) -> list[re.Pattern[str]]:
        return [self._compile(dotted, p) for p in self.string_list(dotted)]
