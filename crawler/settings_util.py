"""Small helpers shared by the Scrapy components and the CLI."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from scrapy.settings import BaseSettings


def data_dir_from_settings(settings: BaseSettings) -> Path:
    """The archive's data directory (``GOVARCHIVE_DATA_DIR``), created if missing."""
    path = Path(settings.get("GOVARCHIVE_DATA_DIR") or "data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def software_versions() -> dict[str, str]:
    """Versions recorded with every crawl and WARC file, so a capture can be reproduced."""
    versions = {}
    for name in ("govarchive", "scrapy", "trafilatura", "warcio", "dateparser", "sqlite-utils"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions
