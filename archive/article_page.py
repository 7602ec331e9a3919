"""What the article page shows beside the row: dates, paragraphs, citation, versions, capture.

The page itself is the Datasette template ``row-archive-articles.html``; this module gathers what
the row alone does not hold (images, attachments, versions) and shapes the fields a reader needs.
Everything returned here is plain text: the template escapes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "article_extras",
    "capture_path",
    "citation",
    "diff_lines",
    "local_date",
    "paragraphs",
]


def local_date(moment: str | None) -> str | None:
    """``2024-04-05T06:16:00+07:00`` → ``5 April 2024, 06:16 (UTC+07:00)``: the portal's time."""
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return moment
    text = f"{parsed.day} {parsed:%B %Y}"
    if len(moment) > 10:  # a time was given, not just a date
        text += f", {parsed:%H:%M}"
    offset = parsed.strftime("%z")
    if offset:
        text += f" (UTC{offset[:3]}:{offset[3:]})"
    return text


def paragraphs(text: str | None, sapo: str | None = None) -> list[str]:
    """The body, one paragraph per line; the sapo, shown on its own above, is not repeated."""
    lines = [line.strip() for line in (text or "").split("\n") if line.strip()]
    if sapo and lines and lines[0] == sapo.strip():
        lines = lines[1:]
    return lines


def citation(row: Any) -> str:
    """A reference a researcher can paste: what, who, when published, where archived."""
    parts = []
    if row["author"]:
        parts.append(f"{row['author']}.")
    parts.append(f"“{row['title'] or row['url']}”.")
    parts.append(f"{row['portal']}" + (f", {row['published_at'][:10]}." if row["published_at"]
                                       else "."))  # fmt: skip
    parts.append(f"{row['url']}.")
    archived = f"Archived {(row['crawled_at'] or '')[:10]} by govarchive"
    if row["warc_record_id"]:
        archived += f", WARC record {row['warc_record_id']}"
        if row["warc_filename"]:
            archived += f" in {row['warc_filename']}"
        if row["warc_payload_digest"]:
            archived += f", payload {row['warc_payload_digest']}"
    parts.append(archived + ".")
    return " ".join(parts)


def diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """A stored unified diff as ``(kind, paragraph)``: kind is ``del``, ``ins``, ``same`` or
    ``gap`` (paragraphs left out between changes). File headers are dropped."""
    lines = []
    for line in (diff or "").split("\n"):
        if line.startswith(("--- ", "+++ ")) or not line:
            continue
        if line.startswith("@@") or line == "…":
            lines.append(("gap", "…"))
        elif line[0] == "-":
            lines.append(("del", line[1:]))
        elif line[0] == "+":
            lines.append(("ins", line[1:]))
        else:
            lines.append(("same", line[1:]))
    return lines


def capture_path(database: str, url: str, version: int | None = None) -> str:
    """Our route serving the archived payload of an article (or one of its versions)."""
    query = {"url": url, **({"version": version} if version is not None else {})}
    return f"/-/govarchive/capture/{database}?{urlencode(query)}"


async def article_extras(db: Any, url: str) -> dict[str, Any]:
    """Images, attachments and versions of the article at ``url`` (one query each)."""
    images = await db.execute(
        "select position, url, caption, alt from images where article_url = ? order by position",
        [url],
    )
    attachments = await db.execute(
        "select position, url, title from attachments where article_url = ? order by position",
        [url],
    )
    versions = await db.execute(
        "select version, observed_at, reason, silent_edit, title, published_at, text_hash, diff,"
        " warc_filename, warc_offset, warc_record_id from article_versions"
        " where article_url = ? order by version desc",
        [url],
    )
    return {
        "images": [dict(row) for row in images.rows],
        "attachments": [dict(row) for row in attachments.rows],
        "versions": [{**dict(row), "diff_lines": diff_lines(row["diff"])} for row in versions.rows],
    }
