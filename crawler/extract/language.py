"""The article's language: Vietnamese letters in the text, else the page's, else the profile's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from crawler.profiles import Profile

#: Letters only Vietnamese writes: not the à, é, ô, ñ... that French, Spanish, Portuguese or
#: Italian text is full of (counting those read every French page as Vietnamese).
_VIETNAMESE_LETTERS = frozenset("ăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def _language(root: etree._Element, text: str, profile: Profile | None) -> str | None:
    """Vietnamese letters in the text decide; else the page's declared lang, else the profile.

    Liferay prints ``lang="en-US"`` on the English UI of Vietnamese articles, so the declared
    language alone is wrong for part of a portal.
    """
    sample = text[:3000].casefold()
    letters = sum(map(str.isalpha, sample))
    if letters and sum(map(sample.count, _VIETNAMESE_LETTERS)) / letters > 0.03:
        return "vi"
    declared = (root.get("lang") or root.get("xml:lang") or "").split("-")[0].strip().lower()
    if text and declared:
        return declared
    return profile.language if profile else (declared or None)
