"""Article extraction: HTML bytes in, one :class:`Article` out.

This is a pure function of ``(html, url, profile)``: no Scrapy, no I/O, no clock. The crawl, the
``govarchive extract FILE`` command, re-extraction from WARC records and a process pool all call
:func:`extract_article`, so one fix here fixes them all and a row can always be re-derived from
the bytes it points at.

Two paths, chosen per page:

* **Profile path.** When the profile's ``body`` selector matches, the fields come from the
  template itself (title, date, sapo, body, CMS account, breadcrumb) and the text is built from
  the selected elements. trafilatura is not run at all: on these templates it drops the sapo,
  keeps the "Các tin khác" list, picks the portlet heading as the title and never finds the
  byline, and it would cost ~20-30 ms of CPU per page for nothing.
* **Generic path.** No profile, or a profile whose body selector does not match (a redesigned
  portal): trafilatura extracts text and metadata, and cheap template-independent rules fix what
  it gets wrong on Vietnamese portals (title from the page's own heading, visible date with its
  time, breadcrumb, byline as the last line).

Either way the HTML is parsed once with lxml; trafilatura works on a copy of that tree.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
from lxml import etree

from crawler.dates import normalize_space, parse_published
from crawler.urls import canonical_url

if TYPE_CHECKING:
    from crawler.profiles import Profile

EXTRACTOR_NAME = "govarchive-extract"
#: Bump when a change alters extracted fields, so rows can be re-extracted selectively.
#: 2: text in Unicode NFC, legacy Vietnamese charsets detected, canonical URLs normalised.
EXTRACTOR_VERSION = 2
#: Added to the extractor stamp when a profile's body selector matched nothing and the page was
#: extracted generically; a crawl where most pages do reports profile drift.
FELL_BACK_TO_GENERIC = "fallback/generic"


@dataclass
class Image:
    """An image of the article body (or its lead image), with the caption printed under it."""

    url: str
    caption: str | None = None
    alt: str | None = None


@dataclass
class Attachment:
    """A document linked from the article (PDF, Word, Excel, archives, Liferay documents)."""

    url: str
    title: str | None = None


@dataclass
class Article:
    """Everything extracted from one article page; field names are a public contract.

    ``url`` is the page's canonical URL (one row per article, whichever path it was fetched
    through). ``published_at`` is ISO 8601 with the portal's offset; when only a date without
    a time is known (trafilatura's metadata) it is a bare ``YYYY-MM-DD``. ``author`` is the
    byline, ``posted_by`` the CMS account printed by the template, ``source`` the outlet an
    article was taken from ("(Theo HNP)" -> "HNP"). ``text`` is the sapo followed by the body,
    one paragraph per line, without byline and page furniture.
    """

    url: str
    title: str | None = None
    published_at: str | None = None
    published_raw: str | None = None
    author: str | None = None
    posted_by: str | None = None
    source: str | None = None
    category: str | None = None
    text: str = ""
    language: str | None = None
    images: list[Image] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    article_id: str | None = None
    sapo: str | None = None
    extractor: str = f"{EXTRACTOR_NAME}/{EXTRACTOR_VERSION}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (nested images and attachments become dicts)."""
        return asdict(self)


def extract_article(html: bytes | str, url: str, profile: Profile | None = None) -> Article:
    """Extract one article page; never raises on bad input.

    ``url`` is the URL the bytes were fetched from: it resolves relative links and is the
    fallback when the page names no canonical URL. Broken HTML, an empty body or binary data
    give an :class:`Article` with whatever could be found (at worst only ``url``, empty text).

    An exception therefore means our code or its installation is broken (a missing module, a
    bug), which no page can cause alone: it propagates, and a crawl stops on it
    (crawler/fatal.py) instead of storing a row of nulls for every page.
    """
    if isinstance(html, (bytearray, memoryview)):
        html = bytes(html)
    return _Extraction(html, url, profile).run()


# --------------------------------------------------------------------------------------------
# Decoding and parsing


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
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    return unicodedata.normalize("NFC", _decode_bytes(data))


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


_PARSERS = threading.local()


def _parse(text: str) -> lxml.html.HtmlElement | None:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:  # lxml parsers must not be shared between threads
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
        _PARSERS.parser = parser
    text = _CONTROL_CHARS.sub("", _XML_DECLARATION.sub("", text, count=1))
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.LxmlError, ValueError):
        return None
    return root if isinstance(root.tag, str) else None


# --------------------------------------------------------------------------------------------
# Small helpers


@lru_cache(maxsize=512)
def css_to_xpath(selector: str) -> str:
    """CSS -> XPath once per selector string (the translation costs more than the query)."""
    from cssselect import HTMLTranslator

    return HTMLTranslator().css_to_xpath(selector)


def _select(root: etree._Element, selector: str | None) -> list[etree._Element]:
    if not selector:
        return []
    try:
        found = root.xpath(css_to_xpath(selector))
    except Exception:  # noqa: BLE001 - an unusable selector means "no match", not a crash
        return []
    return [el for el in found if isinstance(el, etree._Element) and isinstance(el.tag, str)]


def _text_of(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return normalize_space(" ".join(el.itertext()))


def _fold(text: str) -> str:
    """Casefolded, without diacritics (đ -> d): "Phó Ban biên tập" == "pho ban bien tap"."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return normalize_space(text.casefold())


def _is_within(el: etree._Element, ancestor: etree._Element) -> bool:
    return el is ancestor or any(a is ancestor for a in el.iterancestors())


def _first_line(el: etree._Element | None, base_url: str) -> str | None:
    """The first paragraph of ``el``: a one-line field even when broken HTML nests the rest of
    the page inside it."""
    if el is None:
        return None
    blocks = _Walker(base_url, set()).walk(el).text_blocks
    return blocks[0].text if blocks else None


def _common_ancestor(elements: list[etree._Element]) -> etree._Element | None:
    elements = [el for el in elements if el is not None]
    if not elements:
        return None
    chain = [elements[0], *elements[0].iterancestors()]
    for el in elements[1:]:
        ancestors = {id(a) for a in (el, *el.iterancestors())}
        chain = [a for a in chain if id(a) in ancestors]
    return chain[0] if chain else None


def _attr_url(value: str | None, base: str) -> str | None:
    if not value:
        return None
    value = value.strip()
    if not value or value.startswith(("#", "data:", "javascript:", "mailto:", "about:", "tel:")):
        return None
    try:
        return urljoin(base, value)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Body walker: element tree -> paragraphs, images and links


_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd table thead tbody tfoot tr td th caption "
    "blockquote pre section article header footer aside nav figure figcaption address center "
    "main details summary fieldset legend form "
    # trafilatura's XML vocabulary
    "head list item quote row cell code".split()
)
_HEADING_TAGS = frozenset("h1 h2 h3 h4 h5 h6 head".split())
_BREAK_TAGS = frozenset(("br", "lb", "hr"))
_IGNORED_TAGS = frozenset(
    "script style noscript template iframe object embed svg button select option textarea "
    "input map audio video canvas".split()
)
_ITALIC_TAGS = frozenset(("em", "i", "cite"))
_IMAGE_ATTRS = {"img": ("src", "data-src", "data-original", "data-lazy-src"), "graphic": ("src",)}
_LINK_ATTRS = {"a": "href", "ref": "target"}
_ALIGN_STYLE = re.compile(r"text-align\s*:\s*([a-z]+)", re.I)
_ITALIC_STYLE = re.compile(r"font-style\s*:\s*italic", re.I)


@dataclass(slots=True)
class _Block:
    text: str = ""
    align: str | None = None
    italic: bool = False
    heading: bool = False
    image: Image | None = None


def _align(el: etree._Element) -> str | None:
    value = el.get("align")
    if not value:
        style = el.get("style")
        match = _ALIGN_STYLE.search(style) if style else None
        value = match.group(1) if match else None
    return value.lower() if value else None


def _is_italic(el: etree._Element) -> bool:
    tag = el.tag
    if tag in _ITALIC_TAGS:
        return True
    if tag == "hi":
        return "#i" in (el.get("rend") or "")
    style = el.get("style")
    return bool(style and _ITALIC_STYLE.search(style))


def _is_tiny(img: etree._Element, url: str) -> bool:
    for name in ("width", "height"):
        value = (img.get(name) or "").strip().removesuffix("px")
        if value.isdigit() and int(value) <= 16:
            return True
    return "spacer" in url.rsplit("/", 1)[-1].lower()


class _Walker:
    """Walks a subtree once, turning it into paragraphs (blocks), images and links.

    Paragraph boundaries follow block elements and ``<br>``; each block remembers its alignment
    and whether all of its text is italic, which is how this template marks captions and
    bylines. An image is a block of its own, so a caption is simply the block after it.
    """

    def __init__(
        self, base_url: str, skip: set[etree._Element], stop: etree._Element | None = None
    ):
        self.base_url = base_url
        self.skip = skip
        self.stop = stop
        self.blocks: list[_Block] = []
        self.links: list[tuple[str, str]] = []

    def walk(self, root: etree._Element) -> _Walker:
        chunks: list[tuple[str, bool]] = []
        aligns: list[str | None] = [_align(root)]
        headings = [root.tag in _HEADING_TAGS]
        italic = 0
        skipped: set[etree._Element] = set()
        walker = etree.iterwalk(root, events=("start", "end"))
        for event, el in walker:
            tag = el.tag
            if event == "start":
                if el is self.stop:
                    break
                if not isinstance(tag, str) or tag in _IGNORED_TAGS or el in self.skip:
                    walker.skip_subtree()
                    skipped.add(el)
                    continue
                if tag in _BLOCK_TAGS or tag in _BREAK_TAGS:
                    self._flush(chunks, aligns[-1], headings[-1])
                if tag in _BLOCK_TAGS and el is not root:
                    aligns.append(_align(el) or aligns[-1])
                    headings.append(tag in _HEADING_TAGS or headings[-1])
                if tag in _IMAGE_ATTRS:
                    self._image(el, chunks, aligns[-1])
                elif tag in _LINK_ATTRS:
                    href = _attr_url(el.get(_LINK_ATTRS[tag]), self.base_url)
                    if href:
                        self.links.append((href, _text_of(el)))
                if _is_italic(el):
                    italic += 1
                if el.text:
                    chunks.append((el.text, italic > 0))
            else:
                if el in skipped:
                    skipped.discard(el)
                else:
                    if _is_italic(el):
                        italic -= 1
                    if tag in _BLOCK_TAGS:
                        self._flush(chunks, aligns[-1], headings[-1])
                        if el is not root:
                            aligns.pop()
                            headings.pop()
                if el is not root and el.tail:
                    chunks.append((el.tail, italic > 0))
        self._flush(chunks, aligns[-1], headings[-1])
        return self

    def _flush(self, chunks: list[tuple[str, bool]], align: str | None, heading: bool) -> None:
        if not chunks:
            return
        text = normalize_space("".join(c for c, _ in chunks))
        if text:
            italic = all(it for c, it in chunks if c.strip() and c.strip() != "\xa0")
            self.blocks.append(_Block(text=text, align=align, italic=italic, heading=heading))
        chunks.clear()

    def _image(self, el: etree._Element, chunks: list[tuple[str, bool]], align: str | None):
        url = None
        for name in _IMAGE_ATTRS[el.tag]:
            url = _attr_url(el.get(name), self.base_url)
            if url:
                break
        if not url or _is_tiny(el, url):
            return
        self._flush(chunks, align, False)
        alt = normalize_space(el.get("alt") or el.get("title") or "") or None
        self.blocks.append(_Block(align=align, image=Image(url=url, alt=alt)))

    @property
    def text_blocks(self) -> list[_Block]:
        return [b for b in self.blocks if b.image is None]


def _assign_captions(blocks: list[_Block]) -> None:
    """A caption is the short italic or centred paragraph(s) right after an image."""
    for index, block in enumerate(blocks):
        if block.image is None or block.image.caption:
            continue
        parts: list[str] = []
        for following in blocks[index + 1 : index + 4]:
            if following.image is not None or not _caption_like(following):
                break
            parts.append(following.text)
        if parts:
            block.image.caption = " ".join(parts)


def _caption_like(block: _Block) -> bool:
    if len(block.text) > 300 or block.align == "right":
        return False
    return block.italic or block.align == "center"


# --------------------------------------------------------------------------------------------
# Attachments


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


# --------------------------------------------------------------------------------------------
# Bylines, sources and CMS accounts


_BYLINE_LABEL = re.compile(
    r"^\(?\s*(?:bài\s*(?:và|,|&|-)?\s*ảnh|bài\s*viết|bài|tin\s*(?:và|,|&|-)?\s*ảnh|tin|"
    r"tác\s*giả|người\s*viết|nhóm\s*phóng\s*viên|phóng\s*viên|pv|thực\s*hiện|by)"
    r"\s*:\s*(?P<names>[^:]+?)\s*\)?\s*\.?$",
    re.IGNORECASE,
)
_SOURCE_LINE = re.compile(
    r"^\(?\s*(?:theo|nguồn\s*tin|nguồn|source)\s*:?\s+(?P<source>[^()]+?)\s*\)?\s*[./]*$",
    re.IGNORECASE,
)
_NAME_SUFFIX = re.compile(
    r"\s*[(\[]\s*(?:tổng\s*hợp|th|st|sưu\s*tầm|lược\s*dịch|dịch|tổng\s*hợp\s*)\s*[)\]]\s*$"
    r"|\s+-\s*tổng\s*hợp\s*$",
    re.IGNORECASE,
)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\s[-–]\s|\svà\s)\s*", re.IGNORECASE)
# Words that make a source line a reference to a legal text, not an outlet ("Theo Kế hoạch...").
_NOT_SOURCE_WORDS = re.compile(
    r"^(?:ke hoach|quyet dinh|thong tu|nghi dinh|nghi quyet|quy dinh|cong van|chi thi|luat|"
    r"dieu|khoan|bao cao|thong bao|huong dan)\b"
)
_ROLE = re.compile(
    r"\b(?:admin|administrator|quan tri|bien tap|bbt|btv|webmaster|editor|cong thong tin|ubnd|"
    r"uy ban|so thong tin|thong tin va truyen thong|trung tam|van phong|cong ty)\b"
    r"|^(?:so|ban|phong ban|nhom quan tri)\b"
)
_NOT_NAMES = frozenset({"ha noi", "viet nam", "thu do", "tran trong", "tp ha noi"})


def _name_tokens_ok(tokens: list[str], strict: bool) -> bool:
    for token in tokens:
        if not token.isalpha():
            return False
        if token.isupper():
            continue  # "ĐỨC THIỆN", "Nhóm PV"
        if not (token[0].isupper() and token[1:].islower()):
            return False
        if strict and len(token) > 8:  # a Vietnamese syllable has at most 7 letters
            return False
    return True


def is_person_name(text: str, not_authors: tuple[str, ...] = (), strict: bool = True) -> bool:
    """Whether ``text`` reads as a person's name rather than an account, a role or a sentence.

    Vietnamese names are 2-5 capitalised syllables ("Phạm Linh", "Vũ Thị Hồng Hạnh"); CMS
    accounts ("admin admin", "Ad Min", "Pho Ban bien tap") and offices ("Sở Thông tin và
    Truyền thông") are not. ``strict=False`` accepts a single word, for names after a label
    such as "Bài và ảnh:".
    """
    text = normalize_space(text)
    if not text or len(text) > 40:
        return False
    tokens = text.split(" ")
    if not text.isupper() and any(t.isupper() and len(t) > 2 for t in tokens):
        return False  # "Phòng QLBCXB": an office abbreviation, not a name
    low = 1 if not strict else 2
    if not low <= len(tokens) <= 5 or not _name_tokens_ok(tokens, strict):
        return False
    folded = _fold(text)
    compact = folded.replace(" ", "")
    blocked = {_fold(a).replace(" ", "") for a in not_authors}
    if compact in blocked or folded in _NOT_NAMES or _ROLE.search(folded):
        return False
    return len({t.casefold() for t in tokens}) > 1 or len(tokens) == 1  # "admin admin"


@dataclass(slots=True)
class Byline:
    """What a byline line says: who wrote the article, or which outlet it was taken from."""

    author: str | None = None
    source: str | None = None


def parse_byline(line: str, not_authors: tuple[str, ...] = ()) -> Byline | None:
    """Read a byline line ("Phạm Linh", "Bài và ảnh: Phạm Linh", "(Theo HNP)"), or None.

    Only short, name-like lines qualify, so the last sentence of an article is never taken
    for a byline.
    """
    line = normalize_space(line)
    if not line or len(line) > 120 or line.endswith(("./.", "!", "?", ";", ":")):
        return None
    match = _BYLINE_LABEL.match(line)
    if match:
        names = _split_names(match.group("names"), not_authors, strict=False)
        return Byline(author=names) if names else None
    match = _SOURCE_LINE.match(line)
    if match:
        source = _clean_source(match.group("source"))
        return Byline(source=source) if source else None
    names = _split_names(line, not_authors, strict=True)
    return Byline(author=names) if names else None


def _split_names(text: str, not_authors: tuple[str, ...], strict: bool) -> str | None:
    text = _NAME_SUFFIX.sub("", normalize_space(text)).strip(" .")
    parts = [p for p in _NAME_SPLIT.split(text) if p]
    if not parts or len(parts) > 4:
        return None
    names = []
    for part in parts:
        if not is_person_name(part, not_authors, strict=strict):
            return None
        names.append(_titlecase(part) if part.isupper() else part)
    return ", ".join(names)


def _titlecase(name: str) -> str:
    """ "ĐỨC THIỆN" -> "Đức Thiện" (str.title() would also capitalise after apostrophes)."""
    return " ".join(t[0] + t[1:].lower() for t in name.split(" "))


_DOMAIN = re.compile(r"^(?:https?://)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)/?$", re.IGNORECASE)


def _clean_source(text: str) -> str | None:
    text = normalize_space(text).strip(" :")
    domain = _DOMAIN.match(text)
    if domain:  # "Theo https://mic.gov.vn/" -> "mic.gov.vn"
        return domain.group(1).lower()
    text = text.strip(" ./")
    if not text or len(text) > 100 or len(text.split(" ")) > 12:
        return None
    if not text[0].isupper() and not text[0].isdigit():
        return None
    if any(ch.isdigit() for ch in text) or any(ch in text for ch in ",;!?"):
        return None
    if _NOT_SOURCE_WORDS.match(_fold(text)):
        return None
    return text


def is_account(name: str | None, not_authors: tuple[str, ...] = ()) -> bool:
    """A CMS account or role rather than a person ("admin admin", "Pho Ban bien tap")."""
    if not name:
        return True
    tokens = normalize_space(name).split(" ")
    if any(t.isupper() and len(t) > 1 for t in tokens):  # "BBT", "Phòng QLBCXB": offices
        return True
    return not is_person_name(name, not_authors, strict=True)


# --------------------------------------------------------------------------------------------
# Page-level fields


_HOME_LABELS = frozenset({"trang chủ", "trang chu", "home", "trang nhất", "homepage"})
_RELATED_HEADINGS = frozenset(
    {
        "các tin khác",
        "tin khác",
        "tin liên quan",
        "bài viết liên quan",
        "tin cùng chuyên mục",
        "các tin đã đưa",
        "tin đã đưa",
        "other news",
        "related news",
        "related articles",
        "xem thêm",
    }
)
_FURNITURE_LINES = frozenset(
    {"in bài viết", "gửi mail", "gửi email", "chia sẻ", "in", "print", "email", "về đầu trang"}
)
_DATE_LINE = re.compile(
    r"^(?:ngày đăng|publish date|cập nhật|ngày cập nhật|đăng lúc)?\s*:?\s*"
    r"(?:thứ [^,]+,\s*)?\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?:\s*\|?\s*\d{1,2}:\d{2}(?:\s*[ap]m)?)?"
    r"(?:\s*\|\s*(?:view count|lượt xem)\s*:?\s*\d*)?$",
    re.IGNORECASE,
)
_VIEW_COUNT_LINE = re.compile(
    r"^(?:\|\s*)?(?:view count|lượt xem|số lượt xem)\s*:?\s*[\d.,]*$", re.IGNORECASE
)
_TITLE_SEPARATORS = (" - ", " | ", " – ", " — ", " :: ", " « ", " » ")
_DATE_HINT_XPATH = (
    "descendant-or-self::*[self::time or contains(translate(@class,"
    "'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz'),'date') or "
    "contains(translate(@class,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz'),'time')"
    " or contains(translate(@class,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz'),"
    "'ngay')]"
)
_BREADCRUMB_XPATH = (
    "//*[contains(translate(@class,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz'),"
    "'breadcrumb') or contains(translate(@id,'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"
    "'abcdefghijklmnopqrstuvwxyz'),'breadcrumb') or contains(@class,'chuyenmuc')]"
)
_SAPO_XPATH = (
    "//*[self::p or self::div or self::h2 or self::span][contains(concat(' ',normalize-space("
    "@class),' '),' sapo ') or contains(concat(' ',normalize-space(@class),' '),' lead ') or "
    "contains(concat(' ',normalize-space(@class),' '),' summary ') or contains(concat(' ',"
    "normalize-space(@class),' '),' chapeau ')]"
)
_TITLE_CANDIDATES_XPATH = (
    "//body//*[self::h1 or self::h2 or self::h3 or self::h4 or self::div or self::p or "
    "self::span or self::strong or self::td or self::a][string-length(normalize-space(.)) >= 8 "
    "and string-length(normalize-space(.)) <= $limit]"
)
_VIETNAMESE_LETTERS = frozenset(
    "ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
)


def _canonical(root: etree._Element, url: str, profile: Profile | None = None) -> str:
    """The page's canonical URL (session ids dropped, query sorted), else its own URL.

    With a profile, a canonical link naming another article (or no article: a template that
    points every page at the homepage, a copy pointing at the outlet it came from) is ignored,
    so one page can never overwrite another article's row.
    """
    for link in root.iterfind(".//link[@rel]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            href = _attr_url(link.get("href"), url)
            if href and urlsplit(href).scheme in ("http", "https"):
                fetched_id = profile.article_id(url) if profile else None
                if fetched_id is None or profile.article_id(href) == fetched_id:
                    return canonical_url(href)
                break
    return canonical_url(url)


def _base_url(root: etree._Element, url: str) -> str:
    base = root.find(".//base[@href]")
    return (_attr_url(base.get("href"), url) or url) if base is not None else url


def _page_title(root: etree._Element) -> str:
    el = root.find(".//title")
    return _text_of(el) if el is not None else ""


def _meta(root: etree._Element, *names: str) -> str | None:
    for el in root.iterfind(".//meta"):
        key = (el.get("property") or el.get("name") or "").lower()
        if key in names:
            value = normalize_space(el.get("content") or "")
            if value:
                return value
    return None


def _generic_title(
    root: etree._Element, fallback: str | None
) -> tuple[str | None, etree._Element | None]:
    """The visible heading that the ``<title>`` starts with, else og:title/trafilatura/<title>.

    Portal pages put "Article title - Section - Site" in ``<title>`` and print the article title
    in some element; h1 is often a portlet caption ("Tin tức nổi bật"), so matching the two is
    more reliable than any tag name. Returns the title and the element printing it, if found.
    """
    page_title = _page_title(root)
    if page_title:
        best, best_el = "", None
        # string-length counts raw characters; _text_of may shorten them (NBSP runs, NFC).
        for el in root.xpath(_TITLE_CANDIDATES_XPATH, limit=2 * len(page_title)):
            text = _text_of(el)
            if len(text) > len(best) and page_title.startswith(text):
                rest = page_title[len(text) :]
                if not rest or rest.startswith(_TITLE_SEPARATORS):
                    best, best_el = text, el
        if best:
            return best, best_el
    for candidate in (_meta(root, "og:title", "twitter:title"), fallback):
        if candidate:
            return candidate, None
    if page_title:
        for separator in _TITLE_SEPARATORS:
            if separator in page_title:
                return page_title.split(separator)[0].strip(), None
    return page_title or None, None


def _visible_date(scope: etree._Element, profile: Profile | None) -> tuple[str | None, str | None]:
    """First date-like element in ``scope`` (class mentions date/time, or <time>) that parses."""
    for el in scope.xpath(_DATE_HINT_XPATH)[:30]:
        if el.tag == "time" and el.get("datetime"):
            iso, _ = parse_published(el.get("datetime") or "", profile)
            if iso:
                return iso, _text_of(el) or el.get("datetime")
        text = _text_of(el)
        if not text or len(text) > 120 or not any(ch.isdigit() for ch in text):
            continue
        iso, raw = parse_published(text, profile)
        if iso:
            return iso, raw
    return None, None


def _breadcrumb_category(root: etree._Element) -> str | None:
    for crumb in root.xpath(_BREADCRUMB_XPATH)[:3]:
        items = [normalize_space(t) for t in crumb.itertext()]
        items = [
            t for t in items if t and t.casefold() not in _HOME_LABELS and t not in (">", "»", "/")
        ]
        if items:
            return items[-1].strip(" >»/")
    return None


def _generic_sapo(root: etree._Element, skip: set[etree._Element]) -> str | None:
    for el in root.xpath(_SAPO_XPATH)[:5]:
        if el in skip:
            continue
        text = _text_of(el)
        if len(text) >= 20:
            return text
    return None


def _language(root: etree._Element, text: str, profile: Profile | None) -> str | None:
    """Vietnamese letters in the text decide; else the page's declared lang, else the profile.

    Liferay prints ``lang="en-US"`` on the English UI of Vietnamese articles, so the declared
    language alone is wrong for part of a portal.
    """
    sample = text[:3000].casefold()
    letters = sum(ch.isalpha() for ch in sample)
    if letters and sum(ch in _VIETNAMESE_LETTERS for ch in sample) / letters > 0.03:
        return "vi"
    declared = (root.get("lang") or root.get("xml:lang") or "").split("-")[0].strip().lower()
    if text and declared:
        return declared
    return profile.language if profile else (declared or None)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _fold(a).strip(" .:") == _fold(b).strip(" .:")


# --------------------------------------------------------------------------------------------
# The extraction itself


class _Extraction:
    """One page's extraction; an object only to share the parsed state between the steps."""

    def __init__(self, html: bytes | str, url: str, profile: Profile | None):
        self.html = html
        self.url = url
        self.profile = profile
        self.not_authors = profile.not_authors if profile else ()
        self.used_trafilatura = False
        self.fell_back = False

    def run(self) -> Article:
        article = Article(url=self.url, language=self.profile.language if self.profile else None)
        html = self.html
        if html is None or _looks_binary(html):
            return self._finish(article)
        if isinstance(html, (bytes, bytearray)):
            text = decode_html(html)
        else:
            text = unicodedata.normalize("NFC", str(html))
        if _looks_binary(text):
            return self._finish(article)
        root = _parse(text)
        if root is None:
            return self._finish(article)
        article.url = _canonical(root, self.url, self.profile)
        self.base = _base_url(root, self.url)
        selectors = self.profile.selectors if self.profile else None
        body_el = self._first(root, selectors.body if selectors else None)
        if body_el is not None:
            self._profile_path(root, body_el, article)
        else:
            self.fell_back = True
            self._generic_path(root, article)
        article.language = _language(root, article.text, self.profile)
        return self._finish(article)

    def _finish(self, article: Article) -> Article:
        if self.profile is not None:
            article.article_id = self.profile.article_id(article.url) or self.profile.article_id(
                self.url
            )
        parts = [f"{EXTRACTOR_NAME}/{EXTRACTOR_VERSION}"]
        if self.used_trafilatura:
            parts.append(f"trafilatura/{_trafilatura_version()}")
        if self.profile is not None:
            parts.append(f"profile/{self.profile.name}")
            if self.profile.selectors.body and self.fell_back:
                parts.append(FELL_BACK_TO_GENERIC)
        article.extractor = " ".join(parts)
        return article

    @staticmethod
    def _first(root: etree._Element, selector: str | None) -> etree._Element | None:
        found = _select(root, selector)
        return found[0] if found else None

    def _skip_set(self, root: etree._Element, *extra: etree._Element | None) -> set:
        skip: set[etree._Element] = {el for el in extra if el is not None}
        if self.profile:
            for selector in self.profile.selectors.remove:
                skip.update(_select(root, selector))
        return skip

    # -- profile path ------------------------------------------------------------------------

    def _profile_path(self, root: etree._Element, body_el: etree._Element, article: Article):
        selectors = self.profile.selectors
        title_el = self._first(root, selectors.title)
        date_el = self._first(root, selectors.date)
        sapo_el = self._first(root, selectors.sapo)
        byline_el = self._first(root, selectors.byline)
        posted_el = self._first(root, selectors.posted_by)
        category_els = _select(root, selectors.category)
        skip = self._skip_set(root, title_el, date_el, byline_el, posted_el, *category_els)

        article.title = _text_of(title_el) or _generic_title(root, None)[0]
        if date_el is not None:
            article.published_at, article.published_raw = parse_published(
                _text_of(date_el), self.profile
            )
        if article.published_at is None:
            scope = _common_ancestor([title_el, body_el]) if title_el is not None else None
            iso, raw = _visible_date(scope if scope is not None else body_el, self.profile)
            if iso:
                article.published_at, article.published_raw = iso, raw
        categories = [t for t in map(_text_of, category_els) if t]
        categories = [t for t in categories if t.casefold() not in _HOME_LABELS]
        article.category = categories[-1] if categories else _breadcrumb_category(root)
        article.posted_by = _first_line(posted_el, self.base)

        lead_images: list[_Block] = []
        links: list[tuple[str, str]] = []
        sapo = None
        if sapo_el is not None and not _is_within(sapo_el, body_el):
            sapo = _text_of(sapo_el) or None
            wrapper = sapo_el.getparent()
            if wrapper is None or _is_within(body_el, wrapper):
                wrapper = sapo_el
            head = _Walker(self.base, skip).walk(wrapper)
            lead_images = [b for b in head.blocks if b.image is not None]
            links.extend(head.links)
        # The template prints the CMS account right after the body. When the body's HTML is
        # unclosed (a CMS cut the article mid-tag), the rest of the page nests inside it, so the
        # body ends at that account line whatever the tree says.
        stop = posted_el if posted_el is not None and _is_within(posted_el, body_el) else None
        body = _Walker(self.base, skip, stop).walk(body_el)
        links.extend(body.links)

        if _same(sapo, article.title):
            sapo = None  # the editor repeated the title in the lead field: not a lead
        article.sapo = sapo
        byline_text = _text_of(byline_el) if byline_el is not None else None
        lines = self._body_lines(body.blocks, article, byline_text)
        if sapo and not (lines and _fold(lines[0]).startswith(_fold(sapo))):
            lines.insert(0, sapo)
        article.text = "\n".join(lines)
        article.images = _dedupe_images(lead_images + body.blocks)
        article.attachments = _attachments(links)

    # -- generic path ------------------------------------------------------------------------

    def _generic_path(self, root: etree._Element, article: Article) -> None:
        document = self._trafilatura(root)
        skip = self._skip_set(root)
        traf_title = getattr(document, "title", None) if document is not None else None
        # The element printing the title also scopes the search for the visible date.
        article.title, title_el = _generic_title(root, traf_title)
        iso, raw = (None, None)
        if title_el is not None:
            scope = title_el.getparent()
            for _ in range(3):  # the date sits next to the title, a few levels up at most
                if scope is None:
                    break
                iso, raw = _visible_date(scope, self.profile)
                if iso:
                    break
                scope = scope.getparent()
        if not iso:
            published = _meta(root, "article:published_time", "og:published_time", "pubdate")
            if published:
                iso, _ = parse_published(published, self.profile)
        if not iso and document is not None and document.date:
            iso = document.date  # date only; trafilatura does not read the time
        article.published_at, article.published_raw = iso, raw

        article.category = _breadcrumb_category(root)
        if not article.category and document is not None and document.categories:
            article.category = normalize_space(document.categories[0]) or None

        blocks: list[_Block] = []
        links: list[tuple[str, str]] = []
        if document is not None and document.body is not None:
            walked = _Walker(self.base, set()).walk(document.body)
            blocks, article.posted_by = _trim_generic(walked.blocks, article, root)
            links = walked.links
        lines = self._body_lines(blocks, article, None)
        sapo = _generic_sapo(root, skip)
        if _same(sapo, article.title):
            sapo = None
        if sapo and not any(_fold(sapo)[:60] in _fold(line) for line in lines[:3]):
            lines.insert(0, sapo)
        article.sapo = sapo
        article.text = "\n".join(lines)

        # Images and attachments come from the page's own element holding the extracted text,
        # found by locating the first and last long paragraphs: trafilatura's own image output
        # drifts into sidebars of banner images on these templates.
        container = _locate_container(root, lines)
        if container is not None:
            walked = _Walker(self.base, skip).walk(container)
            blocks = walked.blocks
            for index, block in enumerate(blocks):  # broken HTML: the page follows the body
                folded = block.text.casefold().strip(" :")
                if folded in _RELATED_HEADINGS or folded in _FURNITURE_LINES:
                    blocks = blocks[:index]
                    break
            _assign_captions(blocks)
            article.images = _dedupe_images(blocks)
            article.attachments = _attachments(walked.links)
        else:
            article.attachments = _attachments(links)
        if article.author is None and article.source is None and document is not None:
            candidate = normalize_space(document.author or "")
            if candidate and not is_account(candidate, self.not_authors):
                article.author = candidate

    def _trafilatura(self, root: etree._Element) -> Any:
        self.used_trafilatura = True
        import trafilatura

        prune = None
        if self.profile and self.profile.selectors.remove:
            prune = [css_to_xpath(s) for s in self.profile.selectors.remove]
        try:
            return trafilatura.bare_extraction(
                root,
                url=self.url,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                include_images=False,  # with images it wanders into sidebars of banners
                include_links=True,
                include_formatting=True,  # keeps italics, which mark captions
                deduplicate=False,
                favor_precision=True,
                prune_xpath=prune,
            )
        except (ImportError, MemoryError):
            raise  # the installation or the machine, not this page
        except Exception:  # noqa: BLE001 - trafilatura failing on a page means "nothing found"
            return None

    # -- shared ------------------------------------------------------------------------------

    def _body_lines(
        self,
        blocks: list[_Block],
        article: Article,
        byline_text: str | None,
    ) -> list[str]:
        """Body paragraphs without the byline; sets author/source from it (or posted_by)."""
        byline = parse_byline(byline_text, self.not_authors) if byline_text else None
        if byline is None:
            byline = self._trailing_byline(blocks)
        _assign_captions(blocks)
        if byline is not None:
            article.author, article.source = byline.author, byline.source
        elif article.posted_by and not is_account(article.posted_by, self.not_authors):
            article.author = article.posted_by
        return [b.text for b in blocks if b.image is None]

    def _trailing_byline(self, blocks: list[_Block]) -> Byline | None:
        """The byline is the last body line, possibly with a source line next to it.

        "Lê Hải" + "(Nguồn HNP)" and "(Theo ...)" + "Thu Hiền" both occur: up to two adjacent
        trailing lines are taken when one names an author and the other a source. The lines
        taken are removed from ``blocks``.
        """
        found = Byline()
        taken: list[int] = []
        index = len(blocks) - 1
        while index >= 0 and len(taken) < 2:
            block = blocks[index]
            if block.image is not None:
                break
            if index > 0 and blocks[index - 1].image is not None and _caption_like(block):
                break  # a caption under the last image, not a byline
            line = parse_byline(block.text, self.not_authors)
            if line is None or (line.author and found.author) or (line.source and found.source):
                break
            found.author = found.author or line.author
            found.source = found.source or line.source
            taken.append(index)
            index -= 1
        for position in taken:
            del blocks[position]
        return found if taken else None


def _trim_generic(
    blocks: list[_Block], article: Article, root: etree._Element
) -> tuple[list[_Block], str | None]:
    """Drop page furniture that trafilatura keeps: breadcrumb, title, date, related list.

    Also returns the CMS account line found under the body, if any (the generic posted_by).
    """
    crumbs = set()
    for crumb in root.xpath(_BREADCRUMB_XPATH)[:3]:
        crumbs.update(normalize_space(t).casefold() for t in crumb.itertext())
    crumbs.discard("")
    out: list[_Block] = []
    leading = True
    for block in blocks:
        if block.image is not None:
            out.append(block)
            continue
        line = block.text
        folded = line.casefold()
        if folded.strip(" :") in _RELATED_HEADINGS:
            break
        if folded in _FURNITURE_LINES or _VIEW_COUNT_LINE.match(line) or _DATE_LINE.match(line):
            continue
        if leading and _same(line, article.title):
            continue  # the title printed again (or as the lead) above the body
        if leading and len(line) < 80:
            if (
                folded in _HOME_LABELS
                or folded in crumbs
                or _same(line, article.category)
                or block.heading
            ):
                continue
        leading = False
        out.append(block)
    posted_by = None
    if out and out[-1].image is None and _looks_like_account(out[-1].text):
        posted_by = out.pop().text  # the CMS account the template prints under the body
    return out, posted_by


def _looks_like_account(text: str) -> bool:
    """ "admin admin", "Pho Ban bien tap": CMS account lines, recognisable without a profile."""
    if len(text) > 40:
        return False
    tokens = text.split(" ")
    folded = _fold(text)
    if len(tokens) >= 2 and len({t.casefold() for t in tokens}) == 1:
        return True
    return bool(_ROLE.search(folded)) and not any(ch in text for ch in ".,;:!?")


_PROBE_XPATH = (
    "//body//*[self::p or self::div or self::td or self::li or self::span or self::strong or "
    "self::font or self::h2 or self::h3 or self::blockquote][contains(normalize-space(.), $probe)]"
)


def _locate_container(root: etree._Element, lines: list[str]) -> etree._Element | None:
    """The page element holding the extracted text: the common ancestor of the elements that
    print its first and its last long paragraph."""
    long_lines = [line for line in lines if len(line) >= 40]
    anchors = []
    for candidates in (long_lines[:5], long_lines[::-1][:5]):
        for line in candidates:
            found = root.xpath(_PROBE_XPATH, probe=line[:30])
            if found:
                anchors.append(min(found, key=lambda el: len(el.text_content())))
                break
    if not anchors:
        return None
    container = _common_ancestor(anchors)
    if container is not None and len(anchors) == 1 and container.getparent() is not None:
        container = container.getparent()
    return container


def _dedupe_images(blocks: list[_Block]) -> list[Image]:
    images: dict[str, Image] = {}
    for block in blocks:
        image = block.image
        if image is None:
            continue
        known = images.get(image.url)
        if known is None:
            images[image.url] = Image(url=image.url, caption=image.caption, alt=image.alt)
        else:
            known.caption = known.caption or image.caption
            known.alt = known.alt or image.alt
    return list(images.values())


@lru_cache(maxsize=1)
def _trafilatura_version() -> str:
    try:
        from importlib.metadata import version

        return version("trafilatura")
    except Exception:  # noqa: BLE001
        return "unknown"
