"""Bytes to text: BOM, ``<meta charset>``, UTF-8, legacy Vietnamese charsets; binary sniffing."""

from __future__ import annotations

import codecs
import re
import unicodedata

from crawler.extract.parsing import _CONTROL_CHARS

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([a-z0-9_.:-]{1,40})", re.I)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([a-z0-9_.:-]{1,40})", re.I)
_BINARY_MAGIC = (
    b"%PDF",
    b"PK\x03\x04",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\xd0\xcf\x11\xe0",
    b"Rar!",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"OggS",
    b"ID3",
)


def decode_html(data: bytes) -> str:
    """Bytes to text the way browsers mostly do: BOM, then ``<meta charset>``, then UTF-8, and
    the result in Unicode NFC.

    A page that declares a legacy charset but is valid UTF-8 is read as UTF-8: Vietnamese text
    in a wrong declaration is far more common than legacy text that happens to be valid UTF-8.
    A page that is not UTF-8 (a stray bad byte aside) is read in the declared charset, unless
    that is a Western one (or UTF-8 itself) and windows-1258 reads as Vietnamese: legacy
    Vietnamese pages are windows-1258 whatever their header or ``<meta>`` says. windows-1258
    writes tone marks as combining characters, so NFC makes it the same text as UTF-8.
    Undecodable bytes become U+FFFD rather than an error. The HTTP header is not consulted:
    the bytes alone decide, so a WARC payload re-extracts to the same text.
    """
    return to_nfc(_decode_bytes(data))


def to_nfc(text: str) -> str:
    """``unicodedata.normalize("NFC", text)``, a line at a time, skipping ASCII lines.

    A line break never composes with its neighbours, so the result is the same; most lines of
    a page are markup and script, and this halves the cost on a whole page.
    """
    nfc = unicodedata.normalize
    return "\n".join([line if line.isascii() else nfc("NFC", line) for line in text.split("\n")])


def _decode_bytes(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    head = data[:4096]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    declared = _codec_name(match.group(1).decode("ascii")) if match else None
    if declared and declared.startswith(("utf-16", "utf-32")):
        return data.decode(declared, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    as_utf8 = data.decode("utf-8", errors="replace")
    bad = as_utf8.count("\ufffd")
    # Legacy text read as UTF-8 is nearly all broken sequences; UTF-8 with a stray byte is not.
    if sum(ord(c) > 127 for c in as_utf8) - bad >= 2 * bad:
        return as_utf8
    if declared and declared not in _WESTERN_CODECS:
        return data.decode(declared, errors="replace")
    vietnamese = data.decode("cp1258", errors="replace")
    if _reads_as_vietnamese(unicodedata.normalize("NFC", vietnamese)):
        return vietnamese
    return data.decode(declared or "cp1252", errors="replace")


# Charsets a legacy Vietnamese page is mislabelled with (or UTF-8, when it is not UTF-8).
_WESTERN_CODECS = frozenset({"cp1252", "iso8859-15", "utf-8", None})


def _reads_as_vietnamese(text: str) -> bool:
    """Whether NFC text is Vietnamese: toned letters (U+1EA0-U+1EF9: ạ, ố, ữ...) make a fifth
    of its non-ASCII letters and đ occurs. Western text read as windows-1258 fails both (an
    Italian ò becomes ọ, but đ comes only from ð)."""
    letters = [c for c in text if ord(c) > 127 and c.isalpha()]
    toned = sum(1 for c in letters if "\u1ea0" <= c <= "\u1ef9")
    return bool(letters) and toned >= 0.2 * len(letters) and ("đ" in text or "Đ" in text)


def _codec_name(label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    # WHATWG: these labels mean windows-1252 on the web.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def _looks_binary(data: bytes | str) -> bool:
    if isinstance(data, bytes):
        if data.startswith(_BINARY_MAGIC):
            return True
        sample = data[:2048]
        if any(sample.startswith(bom) for bom, _ in _BOMS):
            return False
        return b"\x00" in sample
    sample = data[:2048]
    if not sample:
        return False
    odd = len(_CONTROL_CHARS.findall(sample)) + sample.count("\ufffd")
    return odd / len(sample) > 0.1
