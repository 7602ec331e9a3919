"""Forcing the generic extraction path on a portal that has selectors (for benchmarks).

``GOVARCHIVE_GENERIC_EXTRACTION`` (a Scrapy setting, or the environment variable of that name
for ``govarchive reextract``) ignores the profile's CSS selectors, so that ``scripts/bench`` can
measure the generic trafilatura path on a portal whose rows normally come from its template.
Kept apart from :mod:`crawler.extraction_pool` so that re-extraction workers, which need these
and not the pool, never import Scrapy.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from crawler.profiles import Profile, Selectors

#: Environment variable with the same meaning as the ``GOVARCHIVE_GENERIC_EXTRACTION`` setting.
GENERIC_ENV = "GOVARCHIVE_GENERIC_EXTRACTION"


def generic_profile(profile: Profile) -> Profile:
    """``profile`` without its CSS selectors: extraction takes the generic trafilatura path.

    Links, dates and byline rules stay. The config hash changes, so rows extracted this way say
    so in their ``extractor`` column and never pass for profile extractions.
    """
    return replace(profile, selectors=Selectors(), config_hash=f"{profile.config_hash}+generic")


def generic_requested(setting: Any = None) -> bool:
    """Whether generic extraction was asked for, by setting value or by environment variable."""
    return any(
        str(value).strip().lower() in ("1", "true", "yes", "on")
        for value in (setting, os.environ.get(GENERIC_ENV))
    )
