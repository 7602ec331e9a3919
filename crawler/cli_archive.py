"""``govarchive`` commands over an archive already written: status, serve, export, export-wacz,
verify, merge and reextract. Thin: each opens the archive, calls one function of ``archive``
or ``crawler``, and says what happened in a line."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from crawler.cli_common import DATA_OPTION, load_profile_or_exit, since_option
from crawler.exit_codes import EXIT_USAGE
from crawler.profiles import ProfileError


@click.command()
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


@click.command()
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


@click.command("export-wacz")
@DATA_OPTION
@click.option("--portal", help="Only WARC files of this portal (named in their warcinfo record).")
@since_option("Only WARC files whose crawl started on or after this date (UTC).")
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


@click.command("export")
@DATA_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--portal", help="Only this portal's articles.")
@since_option("Only articles published on or after this date (the portal's time).")
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


@click.command()
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


@click.command()
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
    from crawler.exit_codes import EXIT_LOCKED

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


@click.command()
@DATA_OPTION
@click.option("--portal", help="Only this portal's WARC files.")
@since_option("Only WARC files written since this date (YYYY-MM-DD).")
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
        load_profile_or_exit(portal)
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


ARCHIVE_COMMANDS = (status, serve, export_wacz, export, verify, merge, reextract)
