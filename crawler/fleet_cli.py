"""``govarchive crawl --fleet`` and ``cron --fleet``: the command-line side of crawler/fleet.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from crawler.exit_codes import EXIT_LOCKED, EXIT_USAGE
from crawler.run import LOG_FILE


def crawl_fleet(
    fleet_file: Path,
    data_dir: Path,
    max_articles: int | None,
    full: bool,
    settings: tuple[str, ...],
    defaults: dict[str, str],
    *,
    quiet: bool,
) -> int:
    """Run a fleet and report it; returns the exit status (the worst of the portals').

    ``crawl`` prints one line per portal and the fleet's summary line; ``cron`` (``quiet``)
    prints only the summary line, and only when some portal did not end clean.
    """
    from archive.lock import LockHeld
    from crawler.cli import _report_lines, _run_settings_or_exit, _summary_line
    from crawler.fleet import FleetError, fleet_exit_code, fleet_summary, load_fleet, run_fleet

    try:
        entries = load_fleet(fleet_file)
    except FleetError as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_USAGE
    overrides = _run_settings_or_exit(data_dir, defaults, settings, full)
    started = time.monotonic()
    try:
        outcomes = run_fleet(entries, data_dir, max_articles=max_articles, overrides=overrides)
    except LockHeld as exc:
        click.echo(f"Error: {exc}", err=True)
        return EXIT_LOCKED
    elapsed = time.monotonic() - started
    status = fleet_exit_code(outcomes)
    summary = fleet_summary(outcomes, elapsed)
    if quiet:
        # Profile drift does not fail a crawl, but the archivist must hear of it.
        if status != 0 or any(outcome.result.drift for outcome in outcomes):
            click.echo(f"{summary} (log: {data_dir / LOG_FILE})", err=True)
            for outcome in outcomes:
                if outcome.error:
                    click.echo(f"  {outcome.name}: {outcome.error}", err=True)
                for line in _report_lines(outcome.result):
                    click.echo(f"  {outcome.name}:{line}", err=True)
        return status
    from crawler.preflight import failure_lines

    for outcome in outcomes:
        if outcome.error:
            click.echo(f"{outcome.name}: failed: {outcome.error}")
            continue
        duration = outcome.duration_s or elapsed
        click.echo(_summary_line(outcome.name, outcome.result, duration))
        for line in _report_lines(outcome.result) + failure_lines(
            data_dir / "archive.db", outcome.result.crawl_id
        ):
            click.echo(f"  {line}")
    click.echo(summary)
    sys.stdout.flush()
    return status
