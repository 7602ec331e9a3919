"""The ``govarchive`` command line: thin click commands over the crawler and the archive."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from crawler.cli_archive import ARCHIVE_COMMANDS
from crawler.cli_common import DATA_OPTION, load_profile_or_exit
from crawler.exit_codes import EXIT_USAGE
from crawler.profiles import ProfileError, available_profiles, load_profile


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
    from crawler.exit_codes import EXIT_LOCKED
    from crawler.run import run_crawl

    profile = load_profile_or_exit(portal, base_url, generic, quiet)
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
    help="Use this portal's profile (default with --url: a bundled template recognised from "
    "the page, else generic extraction in the language and time zone of the page and its host).",
)
@click.option("--url", help="The page's URL (resolves relative links and the canonical URL).")
def extract(file: Path, portal: str | None, url: str | None) -> None:
    """Print the extraction of an HTML FILE as JSON, with the `articles` field names."""
    from crawler.extract import extract_article

    profile = load_profile_or_exit(portal) if portal else None
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
    """The profile a crawl of ``url`` would build from this page: a bundled template it is
    recognised as, else the generic rules with the language, time zone and date order the page
    and its host tell (not Vietnamese defaults). None without an http(s) URL."""
    from crawler.extract import decode_html
    from crawler.recognise import HomePage, looks_like_url, normalise_portal_url, profile_for_home

    if not looks_like_url(url):
        return None
    html = decode_html(file.read_bytes())
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


for _command in ARCHIVE_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli()
