"""Replay links: the address of a capture in a replay tool such as pywb, built from the
``replay_url`` template the plugin is configured with (``govarchive serve --replay-url``).

Only http(s) templates give links: anything else (``javascript:``…) would run in a
researcher's browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

#: The plugin's name in Datasette's configuration, where ``replay_url`` is kept.
PLUGIN_NAME = "govarchive"

# Characters left as they are in the archived URL: what a URL may carry in a path or query.
# Anything else (spaces, quotes, "<", "#", non-ASCII) is percent-encoded.
_URL_SAFE = "/:?&=%+,;@!$'()*~[]-._"


def _timestamp(moment: str) -> str | None:
    """``2024-04-05T06:16:00+07:00`` → ``20240404231600`` (UTC, as replay tools index it)."""
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def replay_link(template: str, url: str, captured_at: str) -> str | None:
    """The replay address of the capture of ``url`` at ``captured_at`` (ISO 8601).

    ``template`` holds ``{timestamp}`` and ``{url}``, or is a collection base to which
    ``/{timestamp}/{url}`` is appended. Only http(s) templates give a link: anything else
    (``javascript:``…) would be a script in a researcher's browser. None when no link can
    be made.
    """
    if not template.lower().startswith(("http://", "https://")):
        return None
    timestamp = _timestamp(captured_at)
    if not timestamp or not url:
        return None
    if "{url}" not in template:
        template = template.rstrip("/") + "/{timestamp}/{url}"
    quoted = quote(url, safe=_URL_SAFE)
    # Plain replacement, not str.format: a template is configuration, not code.
    return template.replace("{timestamp}", timestamp).replace("{url}", quoted)


def with_replay_url(metadata: dict[str, Any], replay_url: str | None) -> dict[str, Any]:
    """``metadata`` plus the plugin configuration that turns record ids into replay links.

    Raises ValueError for a replay URL that is not http(s), so a typo is reported when the
    server starts rather than silently giving no links.
    """
    if not replay_url:
        return metadata
    if not replay_url.lower().startswith(("http://", "https://")):
        raise ValueError(f"replay URL {replay_url!r}: expected an http:// or https:// address")
    plugins = dict(metadata.get("plugins") or {})
    plugins[PLUGIN_NAME] = {**plugins.get(PLUGIN_NAME, {}), "replay_url": replay_url}
    return {**metadata, "plugins": plugins}


def _replay_template(datasette: Any, database: str) -> str | None:
    config = datasette.plugin_config(PLUGIN_NAME, database=database, table="articles") or {}
    template = config.get("replay_url")
    return template if isinstance(template, str) and template else None
