"""The ``govarchive`` command line: thin click commands over the crawler and the archive."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from crawler.profiles import ProfileError, available_profiles, load_profile
from crawler.run import EXIT_USAGE

DATA_OPTION = click.option(
    "--data",
    "data_dir",
    # Not file_okay=False: a file here gets the commands' own one-line error, not click's usage.
    type=click.Path(path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Data directory: archive.db and warc/ live here.",
)


def _load_profile_or_exit(
    portal: str, base_url: str | None = None, generic: bool = False, quiet: bool = False
):
    """A bundled name, a .toml file, or a portal's URL (crawler/recognise.py)."""
    from crawler.recognise import UnreachablePortal, looks_like_url, profile_for_url

    try:
        if looks_like_url(portal):
            profile = profile_for_url(portal, base_url, generic=generic)
            how = f"template {profile.template}" if profile.template else "generic rules"
            if not quiet:  # cron mails whatever a job prints
                click.echo(f"{profile.name}: crawling with {how}", err=True)
            return profile
        if generic:
            raise click.BadParameter("--generic needs a portal URL", param_hint="PORTAL")
        return load_profile(portal)
    except (ProfileError, UnreachablePortal) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _check_inputs_or_exit(data_dir: Path, overrides: dict[str, str]) -> None:
    """Bad local input (data directory, archive.db, last WARC): one line, exit 2, no change."""
    from crawler.preflight import BadInput, check_crawl_inputs
    from crawler.run import crawl_settings

    min_free_mb = crawl_settings(data_dir, overrides).getfloat("GOVARCHIVE_MIN_FREE_MB", 100)
    try:
        check_crawl_inputs(data_dir, min_free_mb)
    except BadInput as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _parse_settings(values: tuple[str, ...]) -> dict[str, str]:
    settings = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {value!r}", param_hint="-s")
        settings[name.strip()] = setting
    return settings


@click.group()
@click.version_option(package_name="govarchive")
def cli() -> None:
    """Archive government news portals into WARC files and a SQLite database."""


def crawl_options(command):
    """The options `crawl` and `cron` share."""
    options = [
        click.argument("portal", required=False),
        DATA_OPTION,
        # Issue 14: many portals in one process, or one portal over many processes.
        click.option(
            "--fleet",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Crawl every portal of this fleet file at once, instead of PORTAL.",
        ),
        click.option(
            "--redis",
            "redis_url",
            metavar="URL",
            help="Share the frontier with other workers through Redis (redis://HOST:PORT/DB).",
        ),
        click.option(
            "--base-url", help="Fetch from this mirror or local replica instead of the live host."
        ),
        click.option(
            "--max-articles",
            type=click.IntRange(min=1),
            help="Fetch at most this many article pages (a trial run; later runs do a full walk).",
        ),
        click.option(
            "--generic",
            is_flag=True,
            help="With a portal URL: skip template recognition, infer rules from the home page.",
        ),
        click.option(
            "--full",
            is_flag=True,
            help="Walk every listing page (backfill) instead of stopping at known articles.",
        ),
        click.option(
            "-s",
            "--set",
            "settings",
            multiple=True,
            metavar="NAME=VALUE",
            help="Set a Scrapy setting for this run (repeatable), as `scrapy crawl -s` does.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command()
@crawl_options
def crawl(
    portal: str | None,
    data_dir: Path,
    fleet: Path | None,
    redis_url: str | None,
    base_url: str | None,
    max_articles: int | None,
    generic: bool,
    full: bool,
    settings: tuple[str, ...],
) -> None:
    """Crawl PORTAL (a profile name, a .toml file, or a portal's URL) into the data directory.

    Given a URL (https://host/), the home page is fetched and a bundled CMS template recognised
    from it; with none (or --generic), link rules are inferred from the home page. Rows carry
    the host as their portal.

    --fleet FILE crawls every portal of a fleet file at once, in this process; --redis URL makes
    this crawl one worker of a frontier shared with other processes (see the README).

    Exit status: 0 done, 1 done with errors, 2 bad usage or profile, 3 another command holds
    the data directory. The log is kept in DATA/logs/govarchive.log.
    """
    overrides = {"LOG_LEVEL": "WARNING"}
    if sys.stderr.isatty():
        overrides["GOVARCHIVE_PROGRESS"] = "1"
    if fleet is not None or portal is None:
        _fleet_or_exit(portal, fleet, redis_url, base_url)
        from crawler.fleet_cli import crawl_fleet

        sys.exit(crawl_fleet(fleet, data_dir, max_articles, full, settings, overrides, quiet=False))
    if redis_url:
        overrides.update(_redis_settings_or_exit(redis_url))
    name, result, elapsed = _execute_crawl(
        portal, data_dir, base_url, max_articles, full, settings, overrides, generic
    )
    click.echo(_summary_line(name, result, elapsed))
    from crawler.preflight import failure_lines

    for line in _report_lines(result) + failure_lines(data_dir / "archive.db", result.crawl_id):
        click.echo(line)
    sys.exit(result.exit_code)


@cli.command()
@crawl_options
def cron(
    portal: str | None,
    data_dir: Path,
    fleet: Path | None,
    redis_url: str | None,
    base_url: str | None,
    max_articles: int | None,
    generic: bool,
    full: bool,
    settings: tuple[str, ...],
) -> None:
    """Crawl PORTAL quietly, for cron: no output unless something went wrong.

    cron mails whatever a job prints, so a routine run prints nothing; a run with errors prints
    one summary line and where the log is. Same exit status as `crawl`.
    """
    defaults = {"LOG_ENABLED": "0"}
    if fleet is not None or portal is None:
        _fleet_or_exit(portal, fleet, redis_url, base_url)
        from crawler.fleet_cli import crawl_fleet

        sys.exit(crawl_fleet(fleet, data_dir, max_articles, full, settings, defaults, quiet=True))
    if redis_url:
        defaults.update(_redis_settings_or_exit(redis_url))
    name, result, elapsed = _execute_crawl(
        portal,
        data_dir,
        base_url,
        max_articles,
        full,
        settings,
        defaults,
        generic,
        quiet=True,
    )
    # Profile drift does not fail a crawl, but the archivist must hear of it.
    if result.exit_code != 0 or result.drift:
        from crawler.run import LOG_FILE

        click.echo(f"{_summary_line(name, result, elapsed)} (log: {data_dir / LOG_FILE})", err=True)
        for line in _report_lines(result):
            click.echo(line, err=True)
    sys.exit(result.exit_code)


def _fleet_or_exit(portal, fleet, redis_url, base_url) -> None:
    """PORTAL or --fleet, not both; a fleet file holds each portal's --base-url itself."""
    problem = None
    if portal is None and fleet is None:
        problem = "give a PORTAL or --fleet FILE"
    elif portal is not None:
        problem = "give a PORTAL or --fleet FILE, not both"
    elif redis_url or base_url:
        problem = "--redis and --base-url go with one PORTAL (a fleet file sets base_url)"
    if problem:
        click.echo(f"Error: {problem}", err=True)
        sys.exit(EXIT_USAGE)


def _redis_settings_or_exit(redis_url: str) -> dict[str, str]:
    from crawler.distributed import RedisUnavailable, redis_settings

    try:
        return redis_settings(redis_url)
    except RedisUnavailable as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _execute_crawl(
    portal, data_dir, base_url, max_articles, full, settings, defaults, generic=False, quiet=False
):
    from archive.lock import LockHeld
    from crawler.run import EXIT_LOCKED, run_crawl

    profile = _load_profile_or_exit(portal, base_url, generic, quiet)
    overrides = _run_settings_or_exit(data_dir, defaults, settings, full)
    started = time.monotonic()
    try:
        result = run_crawl(
            profile, data_dir, base_url=base_url, max_articles=max_articles, overrides=overrides
        )
    except LockHeld as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    return profile.name, result, time.monotonic() - started


def _run_settings_or_exit(
    data_dir: Path, defaults: dict[str, str], settings: tuple[str, ...], full: bool
) -> dict[str, str]:
    """The run's setting overrides (defaults, then -s, then --full), once the data directory
    and the installation have passed their checks (one line and exit 2 otherwise)."""
    overrides = {**defaults, **_parse_settings(settings)}
    if full:
        overrides["GOVARCHIVE_FULL"] = "1"
    _check_inputs_or_exit(data_dir, overrides)
    _check_installation_or_exit()
    return overrides


def _check_installation_or_exit() -> None:
    """A module the extraction needs that does not import would fail every page: say so now."""
    from crawler.preflight import BadInput, check_installation

    try:
        check_installation()
    except BadInput as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _summary_line(portal: str, result, elapsed: float) -> str:
    counts = result.counts
    return (
        f"{portal}: crawl {result.crawl_id} {result.status} in {elapsed:.1f}s: "
        f"{counts.get('requests', 0)} requests, {counts.get('articles_new', 0)} new, "
        f"{counts.get('articles_updated', 0)} updated, "
        f"{counts.get('articles_unchanged', 0)} unchanged, "
        f"{counts.get('articles_removed', 0)} removed, {counts.get('errors', 0)} errors, "
        f"{counts.get('broken_links', 0)} broken links; "
        f"{result.article_count} articles archived"
    )


def _report_lines(result) -> list[str]:
    """What stopped the crawl, and profile drift: each one line under the summary."""
    lines = []
    if result.failure:
        lines.append(f"  stopped: {result.failure}")
    if result.drift:
        lines.append(f"  {result.drift}")
    return lines


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--portal",
    help="Use this portal's profile (default: a bundled template recognised from the page when "
    "--url is given, else generic extraction).",
)
@click.option("--url", help="The page's URL (resolves relative links and the canonical URL).")
def extract(file: Path, portal: str | None, url: str | None) -> None:
    """Print the extraction of an HTML FILE as JSON, with the `articles` field names."""
    from crawler.extract import extract_article

    profile = _load_profile_or_exit(portal) if portal else None
    if profile is None and url is not None:
        profile = _profile_recognised_or_none(file, url)
    if url is None:
        url = profile.base_url + "/" if profile else file.resolve().as_uri()
    try:
        article = extract_article(file.read_bytes(), url, profile)
    except Exception as exc:  # extraction never raises on bad input: our code is broken
        from crawler.fatal import describe

        click.echo(f"Error: {file}: extraction failed: {describe(exc)}", err=True)
        sys.exit(1)
    click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))


def _profile_recognised_or_none(file: Path, url: str):
    """The profile of a bundled template the page itself is recognised as, else None."""
    from crawler.extract import decode_html
    from crawler.profiles import recognise_templates
    from crawler.recognise import HomePage, normalise_portal_url, profile_for_home

    html = decode_html(file.read_bytes())
    if not url.startswith(("http://", "https://")) or not recognise_templates(html):
        return None
    return profile_for_home(HomePage(normalise_portal_url(url), url, html))


@cli.command()
@click.argument("url")
@click.option("--base-url", help="Fetch from this mirror or local replica, not the live host.")
@click.option("--generic", is_flag=True, help="Skip template recognition, infer the rules.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the draft profile (default: HOST.toml in the current directory).",
)
def probe(url: str, base_url: str | None, generic: bool, out: Path | None) -> None:
    """Show what a crawl of the portal at URL would decide, and write a draft profile.

    Prints the template recognised (or the article and listing patterns inferred), five
    sample articles with their fields, and writes a profile `govarchive crawl FILE` accepts.
    """
    from crawler.probe import probe as run_probe
    from crawler.probe import report_lines, write_draft
    from crawler.recognise import UnreachablePortal

    try:
        result = run_probe(url, base_url, generic=generic)
    except (ProfileError, UnreachablePortal) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    # Written first: a reader that stops reading the report (`| head`) still gets the file.
    path = write_draft(result.profile, out or Path(f"{result.profile.name}.toml"))
    for line in report_lines(result):
        click.echo(line)
    click.echo(f"\ndraft profile: {path} (crawl it with `govarchive crawl {path}`)")


@cli.command()
@DATA_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per portal.")
def status(data_dir: Path, as_json: bool) -> None:
    """Per portal: the last crawl and its result, articles, new in 24 h and 7 days, errors."""
    from archive.store import Archive, ArchiveError

    db_path = data_dir / "archive.db"
    if not db_path.is_file():
        click.echo(f"Error: {db_path}: no archive here (run `govarchive crawl` first)", err=True)
        sys.exit(EXIT_USAGE)
    try:
        with Archive(db_path, readonly=True) as archive:
            portals = archive.portal_status()
            week = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat(timespec="seconds")
            sections = {row["portal"]: archive.section_changes(row["portal"], week)
                        for row in portals}  # fmt: skip
    except ArchiveError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        for row in portals:
            row = {**row, "sections_new_7d": sections[row["portal"]]["new"],
                   "sections_vanished": sections[row["portal"]]["vanished"]}  # fmt: skip
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    header = ("portal", "last crawl", "result", "articles", "removed", "new 24h", "new 7d",
              "errors 24h", "broken links")  # fmt: skip
    table = [header] + [
        (
            row["portal"],
            f"#{row['last_crawl_id']} {row['last_finished_at'] or row['last_started_at']}",
            row["last_status"] + (f" ({row['last_errors']} errors)" if row["last_errors"] else ""),
            str(row["articles"]),
            str(row["removed"]),
            str(row["new_24h"]),
            str(row["new_7d"]),
            str(row["errors_24h"]),
            str(row["last_broken_links"] or 0),
        )
        for row in portals
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    for row in portals:
        if row["last_failure"]:
            click.echo(f"{row['portal']}: last crawl stopped: {row['last_failure']}")
        if row["last_drift"]:
            click.echo(f"{row['portal']}: {row['last_drift']}")
    _echo_section_changes(sections)


def _echo_section_changes(sections: dict[str, dict[str, list[dict]]]) -> None:
    """New sections (first seen in the last 7 days) and vanished ones, per portal."""
    for portal, changes in sections.items():
        for row in changes["new"]:
            click.echo(f"{portal}: new section {row['url']} ({row['title'] or 'untitled'}), "
                       f"first seen {row['first_seen']}")  # fmt: skip
        for row in changes["vanished"]:
            click.echo(f"{portal}: vanished section {row['url']} since {row['vanished_at']} "
                       f"({row['vanished_reason']})")  # fmt: skip


@cli.command()
def portals() -> None:
    """List the bundled portal profiles."""
    for name in available_profiles():
        try:
            profile = load_profile(name)
        except ProfileError as exc:
            click.echo(f"{name}\t(invalid: {exc.field}: {exc.problem})")
            continue
        click.echo(f"{name}\t{profile.base_url}\t{profile.title}")


@cli.command()
@DATA_OPTION
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; the default keeps the archive on this machine.",
)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option(
    "--replay-url",
    metavar="URL",
    help=(
        "Link each row's WARC record to its replay, e.g. a local pywb: "
        "'http://127.0.0.1:8080/coll/{timestamp}/{url}' (or just the collection URL)."
    ),
)
def serve(data_dir: Path, host: str, port: int, replay_url: str | None) -> None:
    """Open the archive in Datasette, read-only."""
    from crawler.serve import run_datasette

    db_path = data_dir / "archive.db"
    if not db_path.is_file():
        click.echo(f"Error: {db_path}: no archive here (run `govarchive crawl` first)", err=True)
        sys.exit(EXIT_USAGE)
    if replay_url and not replay_url.lower().startswith(("http://", "https://")):
        raise click.BadParameter("expected an http:// or https:// URL", param_hint="--replay-url")
    from crawler.preflight import BadInput, check_database

    try:
        check_database(db_path)
    except BadInput as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    run_datasette(db_path, host=host, port=port, replay_url=replay_url)


@cli.command("export-wacz")
@DATA_OPTION
@click.option("--portal", help="Only WARC files of this portal (named in their warcinfo record).")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
    metavar="DATE",
    help="Only WARC files whose crawl started on or after this date (UTC).",
)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_wacz(data_dir: Path, portal: str | None, since, out: Path) -> None:
    """Package WARC files, their CDXJ index and one page per article as a WACZ file OUT.

    The WACZ opens in ReplayWeb.page and, unpacked, in pywb. Exit status: 0 written,
    2 nothing to export or bad usage.
    """
    from archive.wacz import WaczError
    from archive.wacz import export_wacz as write_wacz

    if not out.name.endswith(".wacz"):
        raise click.BadParameter("a WACZ file name must end in .wacz", param_hint="OUT")
    try:
        result = write_wacz(data_dir, out, portal=portal, since=since)
    except WaczError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for name in result.skipped_open:
        click.echo(f"Warning: left out warc/{name}: still being written (.open)", err=True)
    if result.rebuilt_indexes:
        click.echo(f"Indexed {len(result.rebuilt_indexes)} WARC file(s) that had no CDXJ index")
    click.echo(
        f"{out}: {len(result.warcs)} WARC file(s), {result.index_lines} index lines, "
        f"{result.pages} pages, {result.bytes:,} bytes"
    )


@cli.command("export")
@DATA_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--portal", help="Only this portal's articles.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    metavar="DATE",
    help="Only articles published on or after this date (the portal's time).",
)
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
def export(data_dir: Path, fmt: str, portal: str | None, since, out: Path) -> None:
    """Write the archive's articles to OUT (`-` for stdout) as CSV or JSON lines, oldest first.

    Every column of the articles table; JSON lines add each article's images and attachments.
    """
    from archive.export import export_articles

    db_path = data_dir / "archive.db"
    if not db_path.is_file():
        click.echo(f"Error: {db_path}: no archive here", err=True)
        sys.exit(EXIT_USAGE)
    bound = None
    if since is not None:
        bound = since.date().isoformat() if since.time() == since.min.time() else since.isoformat()
    count = export_articles(db_path, out, fmt, portal=portal, since=bound)
    if str(out) != "-":
        click.echo(f"{out}: {count} article(s) as {fmt}", err=True)


@cli.command()
@DATA_OPTION
def verify(data_dir: Path) -> None:
    """Check every row's WARC pointer and every WARC file of the archive.

    Reads each row's record by its offset (no scan) and compares id, URI, length and payload
    digest; walks every WARC file recomputing gzip checksums and record digests.
    Exit status: 0 clean, 1 any problem, 2 no archive here.
    """
    from archive.verify import verify_archive

    if not data_dir.is_dir():
        click.echo(f"Error: {data_dir}: no such data directory", err=True)
        sys.exit(EXIT_USAGE)
    report = verify_archive(data_dir)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--into",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The data directory to merge into (created if missing).",
)
def merge(sources: tuple[Path, ...], data_dir: Path) -> None:
    """Merge the data directories SOURCES (e.g. of Redis workers) into one archive.

    Articles are deduplicated by canonical URL (the newest capture wins, earlier different ones
    become versions); WARC files and indexes are hard-linked (or copied). Exit status: 0 merged,
    2 bad input, 3 a source or the target is in use.
    """
    from archive.lock import LockHeld
    from archive.merge import merge_archives
    from archive.store import ArchiveError
    from crawler.run import EXIT_LOCKED

    try:
        report = merge_archives(sources, data_dir)
    except LockHeld as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except ArchiveError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for path in report.repaired:
        click.echo(f"closed unfinished WARC {path} at its last complete record")
    click.echo(report.summary())


@cli.command()
@DATA_OPTION
@click.option("--portal", help="Only this portal's WARC files.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only WARC files written since this date (YYYY-MM-DD).",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Extraction processes (default: one per core)."
)
def reextract(data_dir: Path, portal: str | None, since, workers: int | None) -> None:
    """Rebuild article rows from the WARC files alone, with today's extractor.

    No network. Rows that come out the same are left untouched; a changed extraction is kept
    as a new version in article_versions.
    """
    from crawler.reextract import reextract as run_reextract

    if not (data_dir / "warc").is_dir():
        click.echo(f"Error: {data_dir / 'warc'}: no WARC files here", err=True)
        sys.exit(EXIT_USAGE)
    if portal:
        _load_profile_or_exit(portal)
    started = time.monotonic()
    try:
        result = run_reextract(data_dir, portal=portal, since=since, workers=workers)
    except ProfileError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    elapsed = time.monotonic() - started
    counts = result.counts
    click.echo(
        f"reextract: {result.records} article captures in {result.files} WARC files, "
        f"{elapsed:.1f}s ({result.records / max(elapsed, 1e-9):.0f}/s): {counts['new']} new, "
        f"{counts['updated']} changed (kept as versions), {counts['unchanged']} unchanged, "
        f"{len(result.failures)} failures"
    )
    for failure in result.failures[:10]:
        click.echo(f"  failed: {failure}", err=True)
    sys.exit(1 if result.failures else 0)


@cli.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where to write the demo archive.",
)
def demo(data_dir: Path) -> None:
    """Crawl the bundled replica of sotttt.hanoi.gov.vn, served on 127.0.0.1, into SQLite + WARC."""
    from crawler.replica import DEMO_REPLICA, serve_replica
    from crawler.run import run_crawl

    profile = load_profile("sotttt")
    started = time.monotonic()
    with serve_replica(DEMO_REPLICA) as server:
        click.echo(f"Serving the bundled sotttt replica at {server.url}")
        # A local replica needs no politeness delays.
        overrides = {
            "AUTOTHROTTLE_ENABLED": "0",
            "DOWNLOAD_DELAY": "0",
            "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
            "LOG_LEVEL": "WARNING",
        }
        result = run_crawl(profile, data_dir, base_url=server.url, overrides=overrides)
    click.echo(_summary_line(profile.name, result, time.monotonic() - started))
    for line in _report_lines(result):
        click.echo(line)
    if result.counts.get("broken_links"):
        click.echo(
            f"Broken links:   {result.counts['broken_links']} linked pages (attachments, "
            "articles) are not in the bundled replica; each is in `fetches`, none is an error."
        )
    warcs = sorted((data_dir / "warc").glob("*.warc.gz"))
    click.echo(f"SQLite archive: {data_dir / 'archive.db'}")
    click.echo(f"WARC files:     {len(warcs)} in {data_dir / 'warc'}")
    click.echo(f"Explore it:     govarchive serve --data {data_dir}")


def main() -> None:
    cli()
