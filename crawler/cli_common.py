"""What the ``govarchive`` commands share: the ``--data`` option, ``--since``, loading a portal."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crawler.exit_codes import EXIT_USAGE
from crawler.profiles import ProfileError, load_profile

DATA_OPTION = click.option(
    "--data",
    "data_dir",
    # Not file_okay=False: a file here gets the commands' own one-line error, not click's usage.
    type=click.Path(path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Data directory: archive.db and warc/ live here.",
)


def since_option(help: str):
    """``--since DATE``: the commands that take it differ in what the date bounds."""
    formats = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
    return click.option("--since", type=click.DateTime(formats), metavar="DATE", help=help)


def load_profile_or_exit(
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
