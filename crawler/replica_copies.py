"""Copies of a replica portal under other host names, each with its own profile.

A fleet test or benchmark needs several distinct portals; the bundled demo replica is one. A
copy with every occurrence of the portal's host name rewritten (in bytes, so any ASCII-based
page encoding survives) and a profile naming that host is a portal of its own: its rows, WARC
records and politeness slot never meet the original's.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from crawler.profiles import load_profile, profile_path

__all__ = ["renamed_portal"]


def renamed_portal(
    replica: Path, profile_name: str, new_name: str, new_host: str, dest: Path
) -> tuple[Path, Path]:
    """Copy ``replica`` to ``dest/new_name`` with its host renamed, and write its profile.

    Returns (the replica copy, the profile file). The profile is the bundled ``profile_name``
    with its name and base URL changed.
    """
    profile = load_profile(profile_name)
    old_host = profile.host.encode()
    copy = dest / new_name
    if copy.exists():
        shutil.rmtree(copy)
    for source in sorted(replica.rglob("*")):
        target = copy / source.relative_to(replica)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes().replace(old_host, new_host.encode()))
    text = profile_path(profile_name).read_text(encoding="utf-8")
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{new_name}"', text, count=1)
    text = text.replace(profile.host, new_host)
    profile_file = dest / f"{new_name}.toml"
    profile_file.write_text(text, encoding="utf-8")
    load_profile(profile_file)  # fails here, naming the field, if the rewrite broke it
    return copy, profile_file
