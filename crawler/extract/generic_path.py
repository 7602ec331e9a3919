"""The generic path: trafilatura, plus cheap template-independent rules for what it gets wrong
on Vietnamese portals (title from the page's own heading, visible date with its time,
breadcrumb, byline as the last line, furniture lines)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lxml import etree

from crawler.dates import normalize_space, parse_published
from crawler.extract.article import Article
from crawler.extract.attachments import _attachments
from crawler.extract.bylines import (
    _looks_like_account,
    body_lines,
    is_account,
    is_declared_author,
)
from crawler.extract.language import _language
from crawler.extract.page import (
    _DATE_LINE,
    _FURNITURE_LINES,
    _HOME_LABELS,
    _RELATED_HEADINGS,
    _VIEW_COUNT_LINE,
    _breadcrumb_category,
    _breadcrumbs,
    _generic_sapo,
    _generic_title,
    _meta,
    _same,
    _visible_date,
)
from crawler.extract.page_metadata import PageMetadata
from crawler.extract.parsing import _common_ancestor, _fold, compiled_xpath, css_to_xpath
from crawler.extract.walker import _assign_captions, _Block, _dedupe_images, _Walker

if TYPE_CHECKING:
    from crawler.extract.core import Extraction


def extract_generic(ex: Extraction, root: etree._Element, article: Article) -> None:
    """Fill ``article`` with trafilatura plus template-independent fixes."""
    document, superseded = _trafilatura(ex, root)
    # trafilatura's metadata, each field read only when our own rules find nothing
    metadata = PageMetadata(root, ex.url)
    skip = ex.skip_set(root)
    # The element printing the title also scopes the search for the visible date.
    article.title, title_el = _generic_title(root, lambda: metadata.title)
    iso, raw = (None, None)
    if title_el is not None:
        scope = title_el.getparent()
        for _ in range(3):  # the date sits next to the title, a few levels up at most
            if scope is None:
                break
            iso, raw = _visible_date(scope, ex.profile)
            if iso:
                break
            scope = scope.getparent()
    source = "page" if iso else None
    if not iso:
        published = _meta(root, "article:published_time", "og:published_time", "pubdate")
        if published:
            iso, _ = parse_published(published, ex.profile)
    if not iso:
        iso = metadata.date  # date only; trafilatura does not read the time
    article.published_at, article.published_raw = iso, raw
    article.date_source = source or ("metadata" if iso else None)

    crumbs = _breadcrumbs(root)
    article.category = _breadcrumb_category(root, crumbs, article.title)
    if not article.category and metadata.categories:
        article.category = normalize_space(metadata.categories[0]) or None

    blocks: list[_Block] = []
    links: list[tuple[str, str]] = []
    if document is not None and document.body is not None:
        walked = _Walker(ex.base, set()).walk(document.body)
        blocks, article.posted_by = _trim_generic(walked.blocks, article, crumbs)
        links = walked.links
        if superseded is not None and superseded.body is not None:
            blocks = _kept_edges(blocks, superseded, article, crumbs)
    lines = body_lines(blocks, article, None, ex.not_authors)
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
        walked = _Walker(ex.base, skip).walk(container)
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
    if article.author is None and article.source is None:
        candidate = normalize_space(metadata.author or "")
        if metadata.author_is_declared:
            accepted = is_declared_author(candidate, ex.not_authors)
        else:  # an element marked as the byline: often the CMS account that posted
            vietnamese = _language(root, article.text, ex.profile) == "vi"
            accepted = not is_account(candidate, ex.not_authors, strict=vietnamese)
        if candidate and accepted:
            article.author = candidate


#: Below this many characters the fast pass found nothing worth keeping: trafilatura's own
#: extraction gets its fallbacks (readability, jusText), which rescue the empty or short texts of
#: pages its rules misread.
FALLBACK_BELOW_CHARS = 250

#: A text run (one text node) this long is prose, a sentence or more, whatever element holds it.
PROSE_RUN_CHARS = 100

#: The fallbacks also run when the page's prose runs add up to more than this many times the
#: fast text: at least as much prose lies outside what the fast pass kept as inside it. The
#: usual case is a body in plain ``<div>``s (pasted from a word processor) under a bold lead in
#: a ``<p>``, of which the fast pass keeps only the lead. Measured by scripts/eval_text_f1.py on
#: the 1,621 article pages of both replicas, against the templates' own extraction: F1 0.971
#: with 16 % of pages rerun, as with the fallbacks on every page (1.6 times the cost); a length
#: threshold alone gave 0.962 at 500 characters (13.5 % rerun), 0.968 at 1,000 (20 %); runs of
#: 150 characters, 0.9706 (14 %).
PROSE_OUTSIDE_RATIO = 2.0

_PROSE_RUNS = (
    f"//body//text()[string-length(.) > {PROSE_RUN_CHARS}]"
    "[not(parent::script or parent::style or parent::noscript or parent::textarea)]"
)


def _missed_prose(root: etree._Element, text: str) -> bool:
    """Whether the page holds much more prose than ``text``, the fast pass's output: a cheap
    count of long text runs (a few tenths of a millisecond a page), so the fallbacks' cost is
    only paid where they can find more."""
    if len(text) < FALLBACK_BELOW_CHARS:
        return True
    prose = sum(len(run.strip()) for run in compiled_xpath(_PROSE_RUNS)(root))
    return prose > PROSE_OUTSIDE_RATIO * len(text)


def _trafilatura(ex: Extraction, root: etree._Element) -> tuple[Any, Any]:
    """trafilatura's own extraction first (``fast``), then with its fallback algorithms only
    where the fast pass missed prose (:func:`_missed_prose`): they cost 1.6 times the fast
    pass on every page, and change the result on few.

    Returns the document to use and the fast pass's document when the rescue replaced it.
    """
    ex.used_trafilatura = True
    document = _bare_extraction(ex, root, fast=True)
    if _missed_prose(root, getattr(document, "text", None) or ""):
        rescued = _bare_extraction(ex, root, fast=False)
        if document is None or rescued is not None:
            return rescued, document
    return document, None


def _kept_edges(
    blocks: list[_Block], superseded: Any, article: Article, crumbs: list[etree._Element]
) -> list[_Block]:
    """``blocks``, the fallbacks' text, with the lines the fast pass kept around the same body.

    jusText and readability find the prose the fast pass missed but drop short lines as
    boilerplate, and a body opens and closes with short lines: the lead above it, the byline
    and the source below it ("Lê Hải", "(Nguồn HNP)"). The fast pass's lines before the first
    line both texts share, and after the last, are put back where they were when the
    fallbacks' text does not hold them; texts that share no line are about different things.
    """
    fast, _ = _trim_generic(_Walker("", set()).walk(superseded.body).blocks, article, crumbs)
    kept = {b.text for b in blocks if b.image is None}
    shared = [index for index, b in enumerate(fast) if b.image is None and b.text in kept]
    if not shared:
        return blocks
    joined = "\n".join(kept)

    def missing(edge: list[_Block]) -> list[_Block]:
        return [b for b in edge if b.image is None and b.text not in joined]

    return missing(fast[: shared[0]]) + blocks + missing(fast[shared[-1] + 1 :])


def _bare_extraction(ex: Extraction, root: etree._Element, fast: bool) -> Any:
    """trafilatura's text extraction alone: the metadata is :class:`PageMetadata`'s job."""
    import trafilatura

    prune = None
    if ex.profile and ex.profile.selectors.remove:
        prune = [css_to_xpath(s) for s in ex.profile.selectors.remove]
    try:
        return trafilatura.bare_extraction(
            root,
            url=ex.url,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            include_images=False,  # with images it wanders into sidebars of banners
            include_links=True,
            include_formatting=True,  # keeps italics, which mark captions
            deduplicate=False,
            favor_precision=True,
            fast=fast,
            prune_xpath=prune,
        )
    except (ImportError, MemoryError):
        raise  # the installation or the machine, not this page
    except Exception:  # noqa: BLE001 - trafilatura failing on a page means "nothing found"
        return None


def _trim_generic(
    blocks: list[_Block], article: Article, breadcrumbs: list[etree._Element]
) -> tuple[list[_Block], str | None]:
    """Drop page furniture that trafilatura keeps: breadcrumb, title, date, related list.

    Also returns the CMS account line found under the body, if any (the generic posted_by).
    """
    crumbs = set()
    for crumb in breadcrumbs:
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


_PROBE_TAGS = frozenset(
    {"p", "div", "td", "li", "span", "strong", "font", "h2", "h3", "blockquote"}
)
_PROBE_XPATH = (
    "//body//*[self::p or self::div or self::td or self::li or self::span or self::strong or "
    "self::font or self::h2 or self::h3 or self::blockquote][contains(normalize-space(.), $probe)]"
)
#: Text nodes holding the probe whole: the usual case, found without reading any element's
#: whole text (which :data:`_PROBE_XPATH` does for every element of the page).
_PROBE_TEXT_XPATH = "//body//text()[contains(normalize-space(.), $probe)]"


def _locate_container(root: etree._Element, lines: list[str]) -> etree._Element | None:
    """The page element holding the extracted text: the common ancestor of the elements that
    print its first and its last long paragraph."""
    long_lines = [line for line in lines if len(line) >= 40]
    anchors = []
    for candidates in (long_lines[:5], long_lines[::-1][:5]):
        for line in candidates:
            anchor = _printing_element(root, line[:30])
            if anchor is not None:
                anchors.append(anchor)
                break
    if not anchors:
        return None
    container = _common_ancestor(anchors)
    if container is not None and len(anchors) == 1 and container.getparent() is not None:
        container = container.getparent()
    return container


def _printing_element(root: etree._Element, probe: str) -> etree._Element | None:
    """The smallest element of :data:`_PROBE_TAGS` whose text holds ``probe`` (the outer one
    of equal texts, as it comes first in the document)."""
    found = []
    for node in compiled_xpath(_PROBE_TEXT_XPATH)(root, probe=probe):
        el = node.getparent()
        if node.is_tail:
            el = el.getparent()
        while el is not None and el.tag not in _PROBE_TAGS:
            el = el.getparent()
        if el is None or el.tag == "body":
            continue
        length = len(el.text_content())
        parent = el.getparent()
        while parent is not None and parent.tag in _PROBE_TAGS:
            if len(parent.text_content()) != length:
                break
            el, parent = parent, parent.getparent()
        found.append((length, el))
    if not found:  # the probe runs across elements ("<b>HÀ NỘI</b> - Sáng ..."): read them all
        found = [
            (len(el.text_content()), el) for el in compiled_xpath(_PROBE_XPATH)(root, probe=probe)
        ]
    return min(found, key=lambda pair: pair[0])[1] if found else None


@lru_cache(maxsize=1)
def _trafilatura_version() -> str:
    try:
        from importlib.metadata import version

        return version("trafilatura")
    except Exception:  # noqa: BLE001
        return "unknown"
