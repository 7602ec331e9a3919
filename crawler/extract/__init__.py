"""Article extraction: HTML bytes in, one :class:`Article` out.

One module per job:

* :mod:`~crawler.extract.core`: the single entry point, :func:`extract_article`, and the
  choice between the two paths; settling the page's date against the listing's;
* :mod:`~crawler.extract.decoding`: bytes to text (charsets, BOMs, binary sniffing);
* :mod:`~crawler.extract.parsing`: lxml parsing and the small tree helpers;
* :mod:`~crawler.extract.profile_path`: fields from the profile's (template's) selectors;
* :mod:`~crawler.extract.generic_path`: trafilatura plus template-independent fixes;
* :mod:`~crawler.extract.page`: page-level fields (canonical URL, title, visible date,
  breadcrumb, sapo);
* :mod:`~crawler.extract.walker`: body paragraphs, images and their captions;
* :mod:`~crawler.extract.attachments`: linked documents;
* :mod:`~crawler.extract.bylines`: bylines, sources, CMS accounts and person names;
* :mod:`~crawler.extract.language`: the article's language;
* :mod:`~crawler.extract.article`: the result types.
"""

from crawler.extract.article import (
    EXTRACTOR_NAME,
    EXTRACTOR_VERSION,
    FELL_BACK_TO_GENERIC,
    Article,
    Attachment,
    Image,
    not_an_article,
)
from crawler.extract.bylines import Byline, is_account, is_person_name, parse_byline
from crawler.extract.core import apply_listing_date, extract_article
from crawler.extract.decoding import decode_html
from crawler.extract.parsing import css_to_xpath

__all__ = [
    "EXTRACTOR_NAME",
    "EXTRACTOR_VERSION",
    "FELL_BACK_TO_GENERIC",
    "Article",
    "Attachment",
    "Byline",
    "Image",
    "apply_listing_date",
    "css_to_xpath",
    "decode_html",
    "extract_article",
    "is_account",
    "is_person_name",
    "not_an_article",
    "parse_byline",
]
