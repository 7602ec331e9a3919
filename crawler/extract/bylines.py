"""Bylines, sources and CMS accounts: who wrote an article, where it was taken from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.dates import normalize_space
from crawler.extract.article import Article
from crawler.extract.parsing import _fold
from crawler.extract.walker import _assign_captions, _Block, _caption_like

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


def is_account(name: str | None, not_authors: tuple[str, ...] = (), strict: bool = True) -> bool:
    """A CMS account or role rather than a person ("admin admin", "Pho Ban bien tap").

    ``strict=False`` for names outside Vietnamese: one word, or words longer than a syllable
    ("Christopher"), can be a name there.
    """
    if not name:
        return True
    tokens = normalize_space(name).split(" ")
    if any(t.isupper() and len(t) > 1 for t in tokens):  # "BBT", "Phòng QLBCXB": offices
        return True
    return not is_person_name(name, not_authors, strict=strict)


#: Account names a CMS declares as the author, spaces and case aside ("Ad Min").
_ACCOUNT_NAMES = frozenset(
    {"admin", "administrator", "webmaster", "quantri", "quantrivien", "bientap", "editor", "root"}
)


def is_declared_author(name: str | None, not_authors: tuple[str, ...] = ()) -> bool:
    """Whether the author a page declares (meta tags, JSON-LD) names who wrote it: a person, or
    a desk or team ("Communications team", "Press office"), anything but a CMS account or role.
    A declaration is deliberate, so it is not held to the person-name test bylines are."""
    name = normalize_space(name or "")
    if not name or len(name) > 80 or _looks_like_account(name):
        return False
    folded = _fold(name)
    compact = folded.replace(" ", "")
    blocked = {_fold(a).replace(" ", "") for a in not_authors}
    return compact not in blocked and compact not in _ACCOUNT_NAMES and not _ROLE.search(folded)


def _looks_like_account(text: str) -> bool:
    """ "admin admin", "Pho Ban bien tap": CMS account lines, recognisable without a profile."""
    if len(text) > 40:
        return False
    tokens = text.split(" ")
    folded = _fold(text)
    if len(tokens) >= 2 and len({t.casefold() for t in tokens}) == 1:
        return True
    return bool(_ROLE.search(folded)) and not any(ch in text for ch in ".,;:!?")


def body_lines(
    blocks: list[_Block],
    article: Article,
    byline_text: str | None,
    not_authors: tuple[str, ...],
) -> list[str]:
    """Body paragraphs without the byline; sets author/source from it (or posted_by)."""
    byline = parse_byline(byline_text, not_authors) if byline_text else None
    if byline is None:
        byline = trailing_byline(blocks, not_authors)
    _assign_captions(blocks)
    if byline is not None:
        article.author, article.source = byline.author, byline.source
    elif article.posted_by and not is_account(article.posted_by, not_authors):
        article.author = article.posted_by
    return [b.text for b in blocks if b.image is None]


def trailing_byline(blocks: list[_Block], not_authors: tuple[str, ...]) -> Byline | None:
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
        line = parse_byline(block.text, not_authors)
        if line is None or (line.author and found.author) or (line.source and found.source):
            break
        found.author = found.author or line.author
        found.source = found.source or line.source
        taken.append(index)
        index -= 1
    for position in taken:
        del blocks[position]
    return found if taken else None
