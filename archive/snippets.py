"""Search snippets: the words a search matched, highlighted in the article's own (accented) text.

The full-text index holds folded text (archive.textfold), so FTS5's ``snippet()`` would show
"Hoi nghi Ban Chap hanh" where the article says "Hội nghị Ban Chấp hành". Instead the matched
terms are found in the folded text, and the same positions are cut from the original: folding a
precomposed (NFC) Vietnamese text changes no lengths, so positions carry over as they are; for
anything else a per-character map is built (slower, rare). A term matches a whole word, as the
``unicode61`` tokenizer matches tokens; a raw-mode ``term*`` matches a word prefix.

Snippets are computed for the page of results being shown (20 articles), never for every match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from markupsafe import Markup, escape

from archive.textfold import fold

__all__ = ["highlight", "query_terms", "snippet"]

_TERM = re.compile(r"(\w+)(\*?)")
#: Characters of a text searched first for the snippet's match.
HEAD = 3000
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


def query_terms(query: str) -> list[tuple[str, bool]]:
    """``(folded lower-case term, is_prefix)`` for each word a search looks for."""
    terms = []
    for match in _TERM.finditer(fold(query or "")):
        word, star = match.groups()
        if word in _OPERATORS:  # FTS5 operators are upper-case; "and" is a word
            continue
        term = (word.lower(), bool(star))
        if term not in terms:
            terms.append(term)
    return terms


def _pattern(terms: Iterable[tuple[str, bool]]) -> re.Pattern[str] | None:
    alternatives = [re.escape(word) + (r"\w*" if prefix else r"(?!\w)") for word, prefix in terms]
    if not alternatives:
        return None
    # Longest first, so "nghi" does not shadow "nghiep*" at the same position.
    alternatives.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")", re.IGNORECASE)


def _aligned(text: str) -> tuple[str, str, list[int] | None]:
    """``(text, folded, positions)``: positions[i] is where folded[i] comes from in text;
    None when folding kept every position (the common case)."""
    text = unicodedata.normalize("NFC", text)
    folded = fold(text)
    if len(folded) == len(text):
        return text, folded, None
    pieces, positions = [], []
    for index, char in enumerate(text):
        folded_char = _fold_char(char)
        pieces.append(folded_char)
        positions.extend([index] * len(folded_char))
    return text, "".join(pieces), positions


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    return fold(char)


def _spans(text: str, query: str) -> tuple[str, list[tuple[int, int]]]:
    pattern = _pattern(query_terms(query))
    if pattern is None or not text:
        return text or "", []
    text, folded, positions = _aligned(text)
    spans = []
    for match in pattern.finditer(folded):
        start, end = match.span()
        if positions is not None:
            start, end = positions[start], positions[end - 1] + 1
        spans.append((start, end))
    return text, spans


def _marked(text: str, spans: list[tuple[int, int]], start: int, end: int) -> Markup:
    out, cursor = [], start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        out.append(escape(text[cursor:span_start]))
        out.append(Markup("<mark>{}</mark>").format(text[span_start:span_end]))
        cursor = span_end
    out.append(escape(text[cursor:end]))
    return Markup("").join(out)


def highlight(text: str | None, query: str) -> Markup:
    """The whole of ``text`` (a title), HTML-escaped, matched words in ``<mark>``."""
    text, spans = _spans(text or "", query)
    return _marked(text, spans, 0, len(text))


def snippet(text: str | None, query: str, width: int = 240) -> Markup:
    """About ``width`` characters of ``text`` around its first match, words highlighted.

    Starts and ends at word boundaries and says so with "…" where the text goes on. Without a
    match (the search matched the title only) it is the start of the text.
    """
    text = (text or "").replace("\n", " ¶ ")
    # Most first matches are near the start: fold a head of the text first, the rest only if
    # the head holds none (cut at a space, so no word is cut into a false match).
    more = False
    if len(text) > HEAD:
        cut = text.rfind(" ", 0, HEAD)
        head, head_spans = _spans(text[: cut if cut > 0 else HEAD], query)
        if head_spans:
            text, spans, more = head, head_spans, True
        else:
            text, spans = _spans(text, query)
    else:
        text, spans = _spans(text, query)
    if not text:
        return Markup("")
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 3)
    if start:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", max(start, spans[0][1] if spans else start), end)
        end = space if space > start else end
    body = _marked(text, spans, start, end)
    tail = "…" if more or end < len(text) else ""
    return Markup("{}{}{}").format("…" if start else "", body, tail)
