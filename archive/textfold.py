"""Accent folding for Vietnamese search.

FTS5's ``unicode61 remove_diacritics 2`` tokenizer strips stacked Vietnamese marks but never maps
đ → d, so "dang uy" would not find "Đảng ủy". We therefore index and query *folded* text: the
same function runs when articles are written (articles.py), when a search arrives (the Datasette
plugin) and in SQL (``fold()`` registered on connections), so both sides always agree.
"""

from __future__ import annotations

import re
import sys
import unicodedata

__all__ = ["fold", "fold_sql"]

# The eight marks Vietnamese stacks on its letters once NFD has split them off: grave, acute,
# tilde, hook above, dot below (tones); circumflex, breve, horn (vowel quality).
_VIETNAMESE_MARKS = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0302", "\u0306", "\u031b")


def _slow_path_pattern() -> re.Pattern[str]:
    """Match what the str.replace fast path cannot handle: other scripts' marks, or any astral
    character (a few astral marks exist). Astral code points go in as one range: listing the
    ~100 astral mark ranges makes re test each of them per character, ~50x slower on 5 KB."""
    marks = "".join(
        chr(cp)
        for cp in range(0x10000)
        if unicodedata.combining(chr(cp)) and not 0xD800 <= cp < 0xE000
    )
    return re.compile(f"[{re.escape(marks)}\U00010000-{chr(sys.maxunicode)}]")


_SLOW_PATH = _slow_path_pattern()


def _drop_all_marks(decomposed: str) -> str:
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Fold accents so that text typed without them (or with đ typed as d) still matches.

    Same result as NFD → drop every combining mark → đ/Đ → d/D → NFC, but the Vietnamese marks
    are removed with str.replace: ~130 µs for a 5 KB Vietnamese body, where a per-character
    str.translate table costs ~200 µs (CPython looks each character up in a dict). Case is
    preserved: FTS5 ignores case anyway, and a folded query stays readable when Datasette
    shows it back in the search box.
    """
    if text.isascii():
        return text
    folded = unicodedata.normalize("NFD", text)
    for mark in _VIETNAMESE_MARKS:
        folded = folded.replace(mark, "")
    if _SLOW_PATH.search(folded):
        folded = _drop_all_marks(folded)
    folded = folded.replace("đ", "d").replace("Đ", "D")
    if folded.isascii():
        return folded
    return unicodedata.normalize("NFC", folded)


def fold_sql(value: object) -> object:
    """``fold()`` as an SQL function: NULL and numbers pass through instead of raising."""
    return fold(value) if isinstance(value, str) else value
