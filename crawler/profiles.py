"""Portal profiles: one TOML file per portal under ``crawler/portals/``, on a CMS template.

A portal is data, not code. A CMS family's rules (which links are articles and which are
further listing pages, the pager, how dates are printed, CSS selectors that beat generic
extraction, byline rules, the markers that recognise the CMS) live once, in a template under
``crawler/templates/``. A portal file names its template (``[portal] template = "NAME"``) and
holds only its own facts: name, title, base URL, language, time zone, start-path hints, and any
table of the template it overrides (a portal's ``[selectors] title = ...`` replaces the
template's one key, and leaves the template's other selectors as they are).

Every problem raises :class:`ProfileError` naming the file that holds the field (the portal
file or its template) and the field, because the person who has to fix it is editing that file.
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
TEMPLATES_DIR = Path(__file__).parent / "templates"

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
    #: Fingerprint of the portal file and its template: extraction depends on both, so rows
    #: record it and re-extraction notices a template change.
    config_hash: str = ""
    #: The CMS template the portal file names ("" for a self-contained profile).
    template: str = ""
    #: Which date wins when the page's and the listing's disagree on the day: "page" or
    #: "listing" (a CMS that re-stamps a page's date when it is re-saved).
    date_preference: str = "page"
    #: Listing pages: CSS of the item links, and of the date printed beside an item (looked
    #: for inside the link, then in the element holding it).
    listing_item: str | None = None
    listing_item_date: str | None = None
    #: Pager as a URL pattern for listings that do not link their next pages, e.g.
    #: "{section}/page/{n}": walked from n = 2 until a page is missing, repeats or is empty.
    pager_pattern: str | None = None
    #: CSS markers: a fetched page is an article / a listing when one of them matches.
    article_markers: tuple[str, ...] = ()
    listing_markers: tuple[str, ...] = ()
    #: Whether a post with a title and no content (text, image, attachment) is not an article.
    require_content: bool = False
    #: Regular expressions that all occur in the HTML of the CMS's pages (recognising it).
    cms_markers: tuple[re.Pattern[str], ...] = ()
    #: The time zone was guessed (a profile built from a URL, crawler/recognise.py), so the
    #: UTC offset of a date that prints none is a guess, and the rows say so.
    timezone_guessed: bool = False

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
        # A pattern of several shapes names its alternatives' ids id, id2... (crawler.generic).
        ids = [v for name, v in match.groupdict().items() if name.startswith("id") and v]
        return ids[0] if ids else match.group(0)

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


def available_templates() -> list[str]:
    """Names of the bundled CMS templates."""
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.toml"))


def recognise_templates(html: str) -> list[str]:
    """The bundled templates whose ``[markers] html`` patterns all occur in a page's HTML (a
    home page, say): which CMS a portal nobody wrote a profile for runs on."""
    found = []
    for name in available_templates():
        path = TEMPLATES_DIR / f"{name}.toml"
        patterns = _Reader([(path, _read_toml(path, "template")[1])]).regex_list("markers.html")
        if patterns and all(pattern.search(html) for pattern in patterns):
            found.append(name)
    return found


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile by bundled name (``sotttt``) or by path to a TOML file.

    The template the portal file names is read from the bundled templates (or, when the name
    ends in ``.toml``, from that path relative to the portal file).
    """
    path = profile_path(name_or_path)
    if not path.is_file():
        known = ", ".join(available_profiles())
        raise ProfileError(path, "portal", f"no such profile (known portals: {known})")
    raw, data = _read_toml(path, "portal")
    sources = [(path, data)]
    digest = hashlib.sha1(raw)
    template_name = data.get("portal", {}).get("template") if isinstance(data, dict) else None
    if template_name is not None:
        template_path = _template_path(template_name, path)
        template_raw, template_data = _read_toml(template_path, "template")
        digest.update(b"\0" + template_raw)
        sources.append((template_path, template_data))
    profile = _profile_from_dict(_Reader(sources))
    return replace(profile, config_hash=digest.hexdigest()[:12])


def profile_from_tables(tables: dict, origin: str, template: str | None = None) -> Profile:
    """A profile held in memory (``tables`` as a portal file's TOML would give them), on a
    bundled template or none: a portal nobody wrote a file for (crawler/recognise.py).
    ``origin`` names it in errors (the URL it was built from)."""
    path = Path(origin)
    sources = [(path, tables)]
    digest = hashlib.sha1(repr(sorted(tables.items())).encode())
    if template is not None:
        template_path = _template_path(template, path)
        template_raw, template_data = _read_toml(template_path, "template")
        digest.update(b"\0" + template_raw)
        sources.append((template_path, template_data))
    profile = _profile_from_dict(_Reader(sources))
    return replace(profile, path="", config_hash=digest.hexdigest()[:12])


def _template_path(name: object, portal_path: Path) -> Path:
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(portal_path, "portal.template", f"must be a template name, got {name!r}")
    if name.endswith(".toml"):
        candidate = portal_path.parent / name
    elif re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        candidate = TEMPLATES_DIR / f"{name}.toml"
    else:
        candidate = None
    if candidate is None or not candidate.is_file():
        known = ", ".join(available_templates())
        raise ProfileError(
            portal_path, "portal.template", f"no such template {name!r} (known templates: {known})"
        )
    return candidate


def _read_toml(path: Path, what: str) -> tuple[bytes, dict]:
    try:
        raw = path.read_bytes()
        return raw, tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(path, "toml", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(path, "toml", f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ProfileError(path, what, f"cannot read the {what}: {exc.strerror}") from None


def _profile_from_dict(reader: _Reader) -> Profile:
    path = reader.path
    base_url = reader.string("portal.base_url").rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(
            reader.origin("portal.base_url"),
            "portal.base_url",
            f"must be an http(s) URL, got {base_url!r}",
        )
    # Optional hints: a crawl always starts at the home page and finds sections itself
    # (crawler/discovery.py); listed paths are walked even when nothing links them.
    start_paths = reader.string_list("portal.start_paths")
    for start in start_paths:
        if not start.startswith("/"):
            raise ProfileError(
                reader.origin("portal.start_paths"),
                "portal.start_paths",
                f"{start!r} must start with '/'",
            )
    timezone = reader.string("portal.timezone", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(
            reader.origin("portal.timezone"), "portal.timezone", f"unknown time zone {timezone!r}"
        ) from None
    date_order = reader.string("dates.order", "DMY")
    if sorted(date_order) != ["D", "M", "Y"]:
        raise ProfileError(
            reader.origin("dates.order"),
            "dates.order",
            f"must be a permutation of DMY, got {date_order!r}",
        )
    selectors = Selectors(
        **{name: reader.optional_string(f"selectors.{name}") for name in SELECTOR_FIELDS},
        remove=tuple(reader.string_list("selectors.remove")),
    )
    for name in (*SELECTOR_FIELDS, "remove"):
        values = getattr(selectors, name)
        for css in values if isinstance(values, tuple) else [values]:
            if css:
                _check_css(css, reader.origin(f"selectors.{name}"), f"selectors.{name}")
    date_pattern = reader.optional_regex("dates.pattern")
    date_preference = reader.string("dates.prefer", "page")
    if date_preference not in ("page", "listing"):
        raise ProfileError(
            reader.origin("dates.prefer"),
            "dates.prefer",
            f'must be "page" or "listing", got {date_preference!r}',
        )
    pager_pattern = reader.optional_string("links.pager")
    if pager_pattern is not None and (
        "{section}" not in pager_pattern or "{n}" not in pager_pattern
    ):
        raise ProfileError(
            reader.origin("links.pager"),
            "links.pager",
            f"must contain {{section}} and {{n}}, got {pager_pattern!r}",
        )
    css_fields = ("listing.item", "listing.item_date")
    for dotted in css_fields:
        if reader.optional_string(dotted):
            _check_css(reader.optional_string(dotted), reader.origin(dotted), dotted)
    markers = {}
    for dotted in ("markers.article", "markers.listing"):
        markers[dotted] = tuple(reader.string_list(dotted))
        for css in markers[dotted]:
            _check_css(css, reader.origin(dotted), dotted)
    return Profile(
        name=_portal_name(reader.string("portal.name", path.stem), reader.origin("portal.name")),
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
        template=reader.template_name,
        date_preference=date_preference,
        listing_item=reader.optional_string("listing.item"),
        listing_item_date=reader.optional_string("listing.item_date"),
        pager_pattern=pager_pattern,
        article_markers=markers["markers.article"],
        listing_markers=markers["markers.listing"],
        cms_markers=tuple(reader.regex_list("markers.html")),
        require_content=reader.boolean("articles.require_content", False),
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
    """Typed access to dotted TOML fields, turning every mistake into a ProfileError.

    ``sources`` are (file, data) pairs, the portal file first, then its template: a field is
    read from the first file that has it, and its errors name that file.
    """

    _missing = object()

    def __init__(self, sources: list[tuple[Path, dict]]):
        self.sources = sources
        self.path = sources[0][0]
        self.template_name = Path(sources[1][0]).stem if len(sources) > 1 else ""

    @staticmethod
    def _lookup(data: dict, dotted: str, missing: object) -> object:
        node = data
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                return missing
            node = node[key]
        return node

    def origin(self, dotted: str) -> Path:
        """The file that holds a field (the portal file when none does)."""
        for path, data in self.sources:
            if self._lookup(data, dotted, self._missing) is not self._missing:
                return path
        return self.path

    def _get(self, dotted: str, default=_missing):
        for _, data in self.sources:
            value = self._lookup(data, dotted, self._missing)
            if value is not self._missing:
                return value
        if default is self._missing:
            where = f" (in the portal file or its template {self.template_name})"
            raise ProfileError(
                self.path, dotted, "is required" + (where if self.template_name else "")
            )
        return default

    def string(self, dotted: str, default=_missing) -> str:
        value = self._get(dotted, default)
        if not isinstance(value, str) or not value.strip() and default is self._missing:
            raise ProfileError(
                self.origin(dotted), dotted, f"must be a non-empty string, got {value!r}"
            )
        return value

    def optional(self, dotted: str):
        return self._get(dotted, None)

    def optional_string(self, dotted: str) -> str | None:
        value = self._get(dotted, None)
        if value is not None and not isinstance(value, str):
            raise ProfileError(self.origin(dotted), dotted, f"must be a string, got {value!r}")
        return value or None

    def boolean(self, dotted: str, default: bool) -> bool:
        value = self._get(dotted, default)
        if not isinstance(value, bool):
            raise ProfileError(self.origin(dotted), dotted, f"must be true or false, got {value!r}")
        return value

    def positive_int(self, dotted: str, default: int) -> int:
        value = self._get(dotted, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ProfileError(
                self.origin(dotted), dotted, f"must be a positive integer, got {value!r}"
            )
        return value

    def string_list(self, dotted: str) -> list[str]:
        value = self._get(dotted, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(
                self.origin(dotted), dotted, f"must be a list of strings, got {value!r}"
            )
        return value

    def _compile(self, dotted: str, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise ProfileError(
                self.origin(dotted), dotted, f"invalid regular expression: {exc}"
            ) from None

    def regex(self, dotted: str) -> re.Pattern[str]:
        return self._compile(dotted, self.string(dotted))

    def optional_regex(self, dotted: str) -> re.Pattern[str] | None:
        value = self.optional_string(dotted)
        return self._compile(dotted, value) if value else None

    def regex_list(self, dotted: str) -> list[re.Pattern[str]]:
        return [self._compile(dotted, p) for p in self.string_list(dotted)]
