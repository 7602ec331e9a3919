"""Body walker: an element tree becomes paragraphs (blocks), images and links; captions.

A caption is the short italic or centred paragraph right after an image, so images and their
captions come out of the same walk as the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from crawler.dates import normalize_space
from crawler.extract.article import Image
from crawler.extract.parsing import _attr_url, _text_of

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


def _first_line(el: etree._Element | None, base_url: str) -> str | None:
    """The first paragraph of ``el``: a one-line field even when broken HTML nests the rest of
    the page inside it."""
    if el is None:
        return None
    blocks = _Walker(base_url, set()).walk(el).text_blocks
    return blocks[0].text if blocks else None


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
