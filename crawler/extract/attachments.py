"""Attachments: links to documents (PDF, Word, Excel, archives, Liferay documents)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from crawler.dates import normalize_space
from crawler.extract.article import Attachment
from crawler.extract.parsing import _fold

_DOC_EXTENSIONS = frozenset(
    "pdf doc docx xls xlsx ppt pptx rar zip 7z odt ods odp rtf csv txt xml".split()
)
_IMAGE_EXTENSIONS = frozenset("jpg jpeg png gif bmp webp svg tif tiff ico".split())
# Link texts that say nothing about the document ("Xem chi tiết tại đây"): use the file name.
_GENERIC_LINK_TEXT = frozenset(
    {
        "tai day",
        "day",
        "tai ve",
        "tai xuong",
        "xem",
        "xem tai day",
        "xem chi tiet",
        "download",
        "here",
        "click here",
        "file dinh kem",
        "tep dinh kem",
        "van ban",
        "link",
    }
)


def _extension(path: str) -> str:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def _attachment_from_link(href: str, text: str) -> Attachment | None:
    """A link to a document: by extension, or any Liferay ``/documents/`` link not an image."""
    parts = urlsplit(href)
    if parts.scheme not in ("http", "https", "ftp"):
        return None
    path = parts.path
    segments = [s for s in path.split("/") if s]
    extensions = {_extension(s) for s in segments[-2:]}
    if extensions & _DOC_EXTENSIONS:
        pass
    elif "/documents/" in path and not extensions & _IMAGE_EXTENSIONS:
        pass
    else:
        return None
    title = text
    if not title or len(title) < 4 or _fold(title).strip(" .:/") in _GENERIC_LINK_TEXT:
        title = _filename(segments) or title or None
    return Attachment(url=href, title=title or None)


def _filename(segments: list[str]) -> str | None:
    for segment in reversed(segments):
        if "." in segment and _extension(segment) in _DOC_EXTENSIONS | {"pdf"}:
            return normalize_space(unquote(segment.replace("+", " ")))
    return None


def _attachments(links: list[tuple[str, str]]) -> list[Attachment]:
    found: dict[str, Attachment] = {}
    for href, text in links:
        attachment = _attachment_from_link(href, text)
        if attachment is None:
            continue
        known = found.get(attachment.url)
        if known is None:
            found[attachment.url] = attachment
        elif attachment.title and (not known.title or len(attachment.title) > len(known.title)):
            known.title = attachment.title
    return list(found.values())
