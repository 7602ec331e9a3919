"""A fleet: many portals crawled side by side in one process, into one archive.

A fleet file lists portals, one TOML table each::

    [[portals]]
    portal = "sotttt"                      # a profile name or a profile path
    base_url = "http://127.0.0.1:8001"     # optional, as --base-url
    settings = { DOWNLOAD_DELAY = 1 }      # optional Scrapy settings for this portal

Every portal gets its own Scrapy crawler, all on one reactor (``CrawlerProcess`` with several
crawlers, as Scrapy documents for running spiders in the same process). Politeness is Scrapy's,
per host (``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY`` and AutoThrottle keep one
downloader slot per host), so portals on different hosts crawl side by side while each host
sees what a crawl of it alone would send. Per-crawler components are per portal: the WARC
writer (files are named after the portal), the pipeline's ``crawls`` row and its counts. Shared
by all: the data-directory lock, ``archive.db`` (every write happens on the reactor thread, one
transaction at a time) and the extraction worker processes.

A portal that cannot start (bad profile) or fails (unreachable host) is recorded as such and the
others carry on; the run's exit status is the worst of the portals'.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess

from archive.lock import DataDirLock
from archive.store import CRAWL_COUNTS, Archive
from crawler.exit_codes import EXIT_OK, EXIT_USAGE
from crawler.extraction_pool import shared_workers
from crawler.fatal import DiskReserve, stop_crawl
from crawler.profiles import Profile, ProfileError, load_profile
from crawler.recognise import UnreachablePortal, profile_for_url
from crawler.run import CrawlResult, crawl_settings, file_log_handler, recover
from crawler.spiders.portal import PortalSpider

logger = logging.getLogger(__name__)

__all__ = [
    "FleetEntry",
    "FleetError",
    "PortalOutcome",
    "fleet_exit_code",
    "fleet_summary",
    "fleet_totals",
    "load_fleet",
    "run_fleet",
]

#: Above ``cmdline`` (40): a portal's own settings beat the run's ``-s`` options, which apply to
#: every portal of the fleet.
PORTAL_SETTINGS_PRIORITY = 41
_ENTRY_KEYS = {"portal", "base_url", "settings"}


class FleetError(ValueError):
    """A fleet file problem the user can fix; the message names the file, entry and field."""


@dataclass(frozen=True)
class FleetEntry:
    portal: str
    base_url: str | None = None
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class PortalOutcome:
    """How one portal of a fleet run ended: its crawl's result, or why it never started."""

    entry: FleetEntry
    name: str
    result: CrawlResult
    error: str | None = None
    duration_s: float | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_USAGE if self.error else self.result.exit_code


def _is_url(value: str) -> bool:
    return "://" in value


def load_fleet(path: Path) -> list[FleetEntry]:
    """Read and check a fleet file; raises :class:`FleetError` naming the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FleetError(f"{path}: cannot read the fleet file: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FleetError(f"{path}: not a valid TOML file: {exc}") from None
    tables = data.get("portals")
    if not isinstance(tables, list) or not tables:
        raise FleetError(f"{path}: no [[portals]] tables (each names a `portal`)")
    entries: list[FleetEntry] = []
    for number, table in enumerate(tables, start=1):
        where = f"{path}: portals #{number}"
        unknown = set(table) - _ENTRY_KEYS
        if unknown:
            raise FleetError(f"{where}: unknown field(s) {sorted(unknown)}; known: "
                             f"{sorted(_ENTRY_KEYS)}")  # fmt: skip
        portal = table.get("portal")
        if not isinstance(portal, str) or not portal.strip():
            raise FleetError(f"{where}: `portal` must be a profile name, a profile path or a URL")
        base_url = table.get("base_url")
        if base_url is not None and not (
            isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
        ):
            raise FleetError(f"{where}: `base_url` must be an http:// or https:// URL")
        settings = table.get("settings", {})
        if not isinstance(settings, dict):
            raise FleetError(f"{where}: `settings` must be a table, e.g. {{ DOWNLOAD_DELAY = 1 }}")
        # Relative profile paths are relative to the fleet file, wherever cron runs from.
        if portal.endswith(".toml") and not Path(portal).is_absolute():
            portal = str((path.parent / portal).resolve())
        entries.append(FleetEntry(portal.strip(), base_url, {k: _setting(v) for k, v in
                                                             settings.items()}))  # fmt: skip
    return entries


def _setting(value: Any) -> Any:
    # Booleans as Scrapy reads them from the command line; numbers and strings as they are.
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


def run_fleet(
    entries: list[FleetEntry],
    data_dir: Path,
    *,
    max_articles: int | None = None,
    overrides: dict[str, str] | None = None,
) -> list[PortalOutcome]:
    """Crawl every portal of ``entries`` into ``data_dir`` at once; one outcome per entry.

    Raises ``archive.lock.LockHeld`` when another command holds the data directory. Like
    :func:`crawler.run.run_crawl`, call it once per process (Scrapy's reactor starts once).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    profiles: list[tuple[FleetEntry, Profile | None, str | None]] = []
    seen: dict[str, int] = {}
    for entry in entries:
        try:
            if _is_url(entry.portal):  # a portal nobody profiled (crawler/recognise.py)
                profile = profile_for_url(entry.portal, entry.base_url)
            else:
                profile = load_profile(entry.portal)
        except (ProfileError, UnreachablePortal) as exc:
            profiles.append((entry, None, str(exc)))
            continue
        if profile.name in seen:
            # Two crawlers of one portal would write one portal's rows twice at once.
            profiles.append((entry, None, f"portal {profile.name!r} is listed twice"))
            continue
        seen[profile.name] = len(profiles)
        profiles.append((entry, profile, None))

    with DataDirLock(data_dir):
        recovered = recover(data_dir)
        last_id_before = _last_crawl_id(data_dir)
        settings = crawl_settings(data_dir, overrides)
        process = CrawlerProcess(settings)

        def stop_all(failure: str) -> None:  # a full disk stops every portal's crawl
            for crawler in process.crawlers:
                stop_crawl(crawler, failure)

        handler = file_log_handler(data_dir, on_disk_full=stop_all)
        logging.root.addHandler(handler)
        reserve = DiskReserve(data_dir, settings.getfloat("GOVARCHIVE_DISK_RESERVE_MB", 1))
        start_errors: dict[str, str] = {}
        try:
            reserve.hold()
            for note in recovered:
                logger.warning("recovery: %s", note)
            raw_workers = process.settings.get("GOVARCHIVE_EXTRACT_WORKERS")
            with shared_workers(None if raw_workers in (None, "") else int(raw_workers)):
                for queue in _by_host(profiles):
                    _start_in_turn(process, queue, max_articles, start_errors)
                process.start()
        finally:
            reserve.release()
            logging.root.removeHandler(handler)
            handler.close()
        outcomes = []
        with Archive(data_dir / "archive.db") as archive:
            for entry, profile, error in profiles:
                if profile is None:
                    name = (
                        urlsplit(entry.portal).hostname or entry.portal
                        if _is_url(entry.portal)
                        else Path(entry.portal).stem
                    )
                    outcomes.append(PortalOutcome(entry, name, _failed(recovered), error))
                    continue
                crawl = archive.last_crawl(profile.name)
                articles = archive.article_count(profile.name)
                if crawl is None or crawl["id"] <= last_id_before:
                    error = start_errors.get(profile.name, "the crawl did not start (see the log)")
                    outcomes.append(PortalOutcome(entry, profile.name, _failed(recovered, articles),
                                                  error))  # fmt: skip
                    continue
                counts = {n: crawl[n] for n in CRAWL_COUNTS if crawl.get(n) is not None}
                result = CrawlResult(
                    crawl["id"],
                    crawl["status"],
                    counts,
                    articles,
                    recovered,
                    failure=crawl.get("failure"),
                    drift=crawl.get("drift"),
                )
                outcomes.append(
                    PortalOutcome(entry, profile.name, result, duration_s=crawl["duration_s"])
                )
    return outcomes


def _by_host(
    profiles: list[tuple[FleetEntry, Profile | None, str | None]],
) -> list[list[tuple[FleetEntry, Profile]]]:
    """Portals grouped by the host they are fetched from.

    Scrapy keeps politeness (delay, concurrency) per host within one crawler; two crawlers of
    one host would each keep their own. Portals that share a host are therefore crawled one
    after the other, so the host never sees more than one portal's crawl at a time.
    """
    groups: dict[str, list[tuple[FleetEntry, Profile]]] = {}
    for entry, profile, _ in profiles:
        if profile is not None:
            # Scrapy keys its politeness slots by host name, whatever the port.
            host = urlsplit(entry.base_url or profile.base_url).hostname or ""
            groups.setdefault(host, []).append((entry, profile))
    for host, group in groups.items():
        if len(group) > 1:
            names = ", ".join(profile.name for _, profile in group)
            logger.info("%s share the host %s: crawled one after the other", names, host)
    return list(groups.values())


def _start_in_turn(
    process: CrawlerProcess,
    queue: list[tuple[FleetEntry, Profile]],
    max_articles: int | None,
    start_errors: dict[str, str],
) -> None:
    """Start the first portal of ``queue``; the next starts when it ends, and so on."""
    entry, profile = queue[0]
    crawler = process.create_crawler(PortalSpider)
    crawler.settings.setdict(entry.settings, priority=PORTAL_SETTINGS_PRIORITY)
    deferred = process.crawl(crawler, portal=profile, base_url=entry.base_url,
                             max_articles=max_articles)  # fmt: skip
    deferred.addErrback(_record_start_error, start_errors, profile.name)
    if len(queue) > 1:
        # Added to the process's active crawls before this one leaves them, so the process's
        # join() waits for it too.
        deferred.addBoth(_then_start, process, queue[1:], max_articles, start_errors)


def _then_start(result: Any, *args: Any) -> Any:
    _start_in_turn(*args)
    return result


def _record_start_error(failure, errors: dict[str, str], name: str) -> None:
    logger.error("%s: the crawl failed: %s", name, failure.getErrorMessage())
    errors[name] = f"the crawl failed: {failure.getErrorMessage()}"


def _failed(recovered: list[str], articles: int = 0) -> CrawlResult:
    return CrawlResult(None, "failed", {}, articles, recovered)


def _last_crawl_id(data_dir: Path) -> int:
    db_path = data_dir / "archive.db"
    if not db_path.exists():
        return 0
    with Archive(db_path) as archive:
        crawl = archive.last_crawl()
    return crawl["id"] if crawl else 0


def fleet_exit_code(outcomes: list[PortalOutcome]) -> int:
    """The worst of the portals' exit statuses (0 done, 1 errors, 2 bad profile)."""
    return max((outcome.exit_code for outcome in outcomes), default=EXIT_OK)


def fleet_totals(outcomes: list[PortalOutcome]) -> dict[str, int]:
    totals = dict.fromkeys(CRAWL_COUNTS, 0)
    for outcome in outcomes:
        for name, value in outcome.result.counts.items():
            totals[name] = totals.get(name, 0) + (value or 0)
    return totals


def fleet_summary(outcomes: list[PortalOutcome], elapsed: float) -> str:
    """One line for the whole run: how many portals ended how, and the summed counts."""
    statuses: dict[str, int] = {}
    for outcome in outcomes:
        status = "failed" if outcome.error else outcome.result.status
        statuses[status] = statuses.get(status, 0) + 1
    totals = fleet_totals(outcomes)
    ended = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    failing = [o.name for o in outcomes if o.exit_code != EXIT_OK]
    line = (
        f"fleet: {len(outcomes)} portals in {elapsed:.1f}s ({ended}): "
        f"{totals['requests']} requests, {totals['articles_new']} new, "
        f"{totals['articles_updated']} updated, {totals['articles_unchanged']} unchanged, "
        f"{totals['articles_removed']} removed, {totals['errors']} errors; "
        f"{sum(o.result.article_count for o in outcomes)} articles archived"
    )
    if failing:
        line += f"; not clean: {', '.join(failing)}"
    return line
