"""``/-/govarchive/capture/<database>?url=...``: the archived page, as it was served, defused.

Without a replay tool (pywb, ``govarchive serve --replay-url``), a researcher still needs to see
the page an article row came from. This route reads the WARC record the row points at and
returns its payload with the archived Content-Type, under a Content-Security-Policy that makes
the page a sandbox: no script runs, no form posts, no plugin loads, and nothing is fetched from
anywhere (an archived page's images and styles live on the portal, today's portal, not the
archive; fetching them would show the present, and tell the portal who is reading). The
article page embeds it in an ``<iframe sandbox>`` as well, a second lock on the same door.

Only records a row points at can be read (the article, or ``version=N`` of it): the route takes
an article URL, never a file name or an offset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response

from archive.warc import read_capture

__all__ = ["SANDBOX_POLICY", "capture_view"]

SANDBOX_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_SAFE_HEADERS = {
    "Content-Security-Policy": SANDBOX_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=3600",
}


def _error(status: int, message: str) -> Response:
    return Response.text(message, status=status, headers=_SAFE_HEADERS)


async def capture_view(request: Any, datasette: Any) -> Response:
    database = request.url_vars["database"]
    url = request.args.get("url")
    version = request.args.get("version")
    try:
        db = datasette.get_database(database)
    except KeyError:
        return _error(404, f"no database {database!r}")
    if not url or not db.path:
        return _error(400, "expected ?url=<article URL>")
    if version is not None:
        if not version.isdigit():
            return _error(400, "version: expected a number")
        result = await db.execute(
            "select warc_filename, warc_offset from article_versions"
            " where article_url = ? and version = ?",
            [url, int(version)],
        )
    else:
        result = await db.execute(
            "select warc_filename, warc_offset from articles where url = ?", [url]
        )
    row = result.first()
    if row is None or not row["warc_filename"] or row["warc_offset"] is None:
        return _error(404, "no archived capture for this article")
    data_dir = Path(db.path).resolve().parent
    if not (data_dir / row["warc_filename"]).resolve().is_relative_to(data_dir):
        return _error(404, "the row points outside the archive")
    pointer = {"filename": row["warc_filename"], "offset": row["warc_offset"]}
    try:
        capture = await asyncio.to_thread(read_capture, data_dir, pointer)
    except (OSError, ValueError) as exc:
        return _error(404, f"the WARC record cannot be read: {exc}")
    content_type = "application/octet-stream"
    if capture.http_headers is not None:
        content_type = capture.http_headers.get_header("Content-Type") or content_type
    return Response(capture.payload, status=200, headers=_SAFE_HEADERS, content_type=content_type)
