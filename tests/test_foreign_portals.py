"""The URL form on CMSs and languages the Vietnamese replicas do not cover.

Portals written as WordPress, Drupal and Joomla write their pages (tests/fixtures/foreign/
make_portals.py: an English council on WordPress, a French ministry on Drupal, a Spanish
ministry on Joomla whose URLs are all ``index.php`` and a query), crawled over
HTTP on 127.0.0.1 exactly as a user would (``govarchive crawl https://host --base-url ...``,
no profile) and scored against their ground truth: coverage, titles and dates.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from pathlib import Path

import pytest

from crawler.extract.language import _language
from crawler.generic import article_pattern
from crawler.recognise import profile_for_url
from crawler.replica import serve_replica
from tests.conftest import FAST, govarchive
from tests.fixtures.foreign.make_portals import PORTALS, build, build_wordpress

ROOT = Path(__file__).resolve().parent.parent


def _scorer():
    spec = importlib.util.spec_from_file_location("eval_truth", ROOT / "scripts/eval_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


score = _scorer()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    out = tmp_path_factory.mktemp("foreign")
    folders = build(out)
    # The same council with "/%category%/%postname%/" permalinks: /news/slug/ beside
    # /press-releases/slug/, which the home page shows fewer of than the feed does.
    folders["wordpress-category"] = out / "wordpress-category"
    build_wordpress(folders["wordpress-category"], "/%category%/%postname%/")
    servers = {name: serve_replica(folder) for name, folder in folders.items()}
    try:
        hosts = {name: url for name, (url, _) in PORTALS.items()}
        hosts["wordpress-category"] = hosts["wordpress-council"]
        yield {name: (hosts[name], folders[name], servers[name]) for name in folders}
    finally:
        for server in servers.values():
            server.shutdown()


def crawl(replicas, name: str, data: Path, *extra: str, typed: str | None = None):
    portal, folder, server = replicas[name]
    portal = typed or portal
    result = govarchive("crawl", portal, "--data", str(data), "--base-url", server.url, *FAST,
                        *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "generic rules" in result.stderr
    return score(data / "archive.db", folder / "ground_truth.jsonl"), result


def sections(data: Path) -> set[str]:
    with sqlite3.connect(data / "archive.db") as db:
        return {row[0] for row in db.execute("select url from sections")}


def test_wordpress_council_in_english(replicas, tmp_path):
    figures, _ = crawl(replicas, "wordpress-council", tmp_path)
    assert figures["coverage"] >= 90 and figures["titles"] >= 95 and figures["dates"] >= 95, figures
    host = "https://www.example-council.gov.uk"
    with sqlite3.connect(tmp_path / "archive.db") as db:
        portals = {r[0] for r in db.execute("select portal from articles")}
        languages = {r[0] for r in db.execute("select language from articles")}
        # <time datetime="2024-06-05T00:30:00+01:00">: the offset is the page's, not a guess.
        sources = {r[0] for r in db.execute("select date_source from articles")}
        # The author Yoast declares: a team, not a person's name, and still the byline.
        authors = {r[0] for r in db.execute("select author from articles")}
    assert portals == {"www.example-council.gov.uk"} and languages == {"en"}
    assert sources == {"page"}
    assert authors == {"Communications team"}
    found = sections(tmp_path)
    # Category archives, their /page/N/ pages as the same section; pages that only carry the
    # sidebar's "Recent Posts" are not sections.
    assert f"{host}/category/news/" in found and f"{host}/category/news" not in found
    assert not {f"{host}/contact-us/", f"{host}/privacy-policy/"} & found


def test_wordpress_council_without_sitemaps_typed_without_www(replicas, tmp_path):
    """Listings alone (category archives through their numbered pagers), and the host typed
    without the www. that every link of the site carries: the site's own host is used."""
    figures, _ = crawl(replicas, "wordpress-council", tmp_path, "-s", "GOVARCHIVE_SITEMAPS=0",
                       typed="https://example-council.gov.uk")  # fmt: skip
    assert figures["coverage"] >= 90 and figures["titles"] >= 95 and figures["dates"] >= 95, figures
    with sqlite3.connect(tmp_path / "archive.db") as db:
        assert {r[0] for r in db.execute("select portal from articles")} == {
            "www.example-council.gov.uk"
        }


def test_wordpress_with_category_permalinks(replicas, tmp_path):
    figures, _ = crawl(replicas, "wordpress-category", tmp_path)
    assert figures["coverage"] >= 90 and figures["titles"] >= 95 and figures["dates"] >= 95, figures
    assert figures["rows"] == figures["articles"]  # its pages (contact, about) are no articles


def test_drupal_ministry_in_french(replicas, tmp_path):
    figures, _ = crawl(replicas, "drupal-ministere", tmp_path)
    assert figures["coverage"] >= 90 and figures["titles"] >= 95 and figures["dates"] >= 95, figures
    with sqlite3.connect(tmp_path / "archive.db") as db:
        rows = dict(db.execute("select url, published_raw from articles"))
        languages = {r[0] for r in db.execute("select language from articles")}
    assert languages == {"fr"}
    # Press releases at /node/N beside news at Pathauto aliases; "1er avril 2024" read.
    assert any("/node/" in url for url in rows) and "1er avril 2024" in rows.values()
    host = "https://www.ministere-exemple.gouv.fr"
    assert {f"{host}/actualites", f"{host}/communiques-de-presse"} <= sections(tmp_path)


def test_joomla_ministry_whose_urls_are_a_script_and_its_query(replicas, tmp_path):
    """Articles are ``index.php?option=com_content&view=article&id=158:slug&...``, categories
    the same script with ``view=category``, paged with ``&limitstart=6``."""
    figures, _ = crawl(replicas, "joomla-ministerio", tmp_path)
    assert figures["coverage"] >= 90 and figures["titles"] >= 95 and figures["dates"] >= 95, figures
    with sqlite3.connect(tmp_path / "archive.db") as db:
        rows = db.execute(
            "select category, author, language from articles where category is not null"
        ).fetchall()
    # The breadcrumb's section (not "Inicio", not the title it ends with); the author
    # declared in schema.org microdata, a press office.
    assert {row[0] for row in rows} == {"Noticias", "Notas de prensa"}
    assert {row[1:] for row in rows} == {("Gabinete de Comunicación", "es")}
    # Each category is one section, under its own query: its pages (&limitstart=6) are its
    # own, not one "/index.php" section for the whole site.
    host = "https://www.ministerio-ejemplo.gob.es"
    blogs = {url for url in sections(tmp_path) if "view=category" in url}
    assert blogs == {
        f"{host}/index.php?Itemid=102&id=8&layout=blog&option=com_content&view=category",
        f"{host}/index.php?Itemid=103&id=9&layout=blog&option=com_content&view=category",
    }


def test_items_named_in_the_query():
    """A script that names its item in the query: the number that differs link to link, under
    the parameters every item link carries; the script's other views and its pagers are not
    articles."""
    joomla = [
        f"https://x.gob.es/index.php?option=com_content&view=article&id={n}:titulo-{n}&catid=8&Itemid=102"
        for n in (158, 161, 164, 170)
    ] + [
        "https://x.gob.es/index.php?option=com_content&view=category&layout=blog&id=8&Itemid=102",
        "https://x.gob.es/index.php?option=com_content&view=category&layout=blog&id=9&Itemid=103",
    ]
    pattern = re.compile(article_pattern(joomla, dated=set(joomla)))
    assert pattern.search(joomla[0]).group("id") == "158"
    # The parameters in any order (rows store them sorted), another menu item's Itemid.
    assert pattern.search(
        "https://x.gob.es/index.php?Itemid=101&catid=9&id=171:otro&option=com_content&view=article"
    )
    assert not pattern.search(joomla[-1])
    assert not pattern.search(joomla[0] + "&limitstart=1")  # a page of a long article
    aspnet = [f"https://so.gov.vn/tin-tuc/chi-tiet.aspx?ItemID={n}" for n in (4121, 4130, 4133)]
    aspnet += [f"https://so.gov.vn/tin-tuc.aspx?CatID={n}" for n in (5, 6, 7, 8)]
    pattern = re.compile(article_pattern(aspnet))
    assert [bool(pattern.search(link)) for link in aspnet] == [True] * 3 + [False] * 4


def test_the_section_of_a_query_pager_is_its_script_and_query():
    from crawler.discovery import section_url

    joomla = profile_for_tables("https://x.gob.es")
    assert section_url("https://x.gob.es/index.php?view=category&id=8&limitstart=12", joomla) == (
        "https://x.gob.es/index.php?id=8&view=category"
    )
    assert section_url("https://x.gob.es/news.aspx?CatID=5&page=3", joomla) == (
        "https://x.gob.es/news.aspx?CatID=5"
    )
    # A path that names the section itself keeps only its path (Liferay's portlet pager).
    liferay = "https://x.gob.es/tin-tuc?p_p_id=101&p_p_lifecycle=0&_101_cur=3"
    assert section_url(liferay, joomla) == "https://x.gob.es/tin-tuc"
    assert section_url("https://x.gob.es/?p_p_id=101&_101_cur=2", joomla) == "https://x.gob.es/"


def profile_for_tables(base: str):
    """The generic rules a crawl of ``base`` would use (no home page needed for these)."""
    from crawler.generic import infer_profile_tables
    from crawler.profiles import profile_from_tables

    tables = {"portal": {"name": "x", "base_url": base}}
    tables = infer_profile_tables(base + "/", "<html></html>", tables)
    return profile_from_tables(tables, base)


def test_probe_on_a_drupal_portal(replicas, tmp_path):
    portal, _, server = replicas["drupal-ministere"]
    draft = tmp_path / "draft.toml"
    result = govarchive("probe", portal, "--base-url", server.url, "--out", str(draft))
    assert result.returncode == 0, result.stderr
    assert "language:  fr" in result.stdout and "Europe/Paris" in result.stdout
    assert result.stdout.count("\nsample ") == 5
    assert re.search(r"published_at: 2024-\d\d-\d\d", result.stdout)
    profile = profile_for_url(portal, server.url)
    assert profile.article_id(f"{portal}/node/142") == "142"
    assert profile.article_id(f"{portal}/actualites/agenda-du-ministre") == "agenda-du-ministre"


def test_article_shapes_of_other_cmss():
    wordpress = [
        "https://example.org/2024/03/05/council-approves-new-budget-for-2024-25/",
        "https://example.org/2024/03/01/road-closures/",
        "https://example.org/2024/02/27/library-opening-hours-extended-over-the-summer/",
        "https://example.org/2024/02/20/new-recycling-centre-opens-in-the-town-centre/",
        "https://example.org/2024/03/",
        "https://example.org/category/news/page/2/",
        "https://example.org/about-the-council-and-its-services/",
    ]
    matcher = re.compile(article_pattern(wordpress))
    assert [bool(matcher.search(link)) for link in wordpress] == [True] * 4 + [False] * 3
    # A year ending a slug is no id; /node/N ids have any number of digits; two shapes on
    # one home page (news aliases, press releases without one) are both articles when dated.
    drupal = [
        "https://example.fr/actualites/plan-eau-53-mesures-pour-une-gestion-sobre",
        "https://example.fr/actualites/nature-en-ville-les-laureats-du-concours-2024",
        "https://example.fr/actualites/qualite-de-l-air-les-episodes-de-pollution",
        "https://example.fr/node/142",
        "https://example.fr/node/57",
        "https://example.fr/node/139",
    ]
    pattern = re.compile(article_pattern(drupal, dated=set(drupal)))
    assert all(pattern.search(link) for link in drupal)
    assert pattern.search(drupal[1]).group("id").endswith("concours-2024")
    assert not pattern.search("https://example.fr/actualites")


def test_french_accents_are_not_vietnamese():
    from lxml import html

    french = "Le ministre a rappelé l'engagement du Gouvernement à Lyon, où la rénovation…"
    root = html.fromstring(f'<html lang="fr"><body><p>{french}</p></body></html>')
    assert _language(root, french, None) == "fr"
    vietnamese = "Sở Thông tin và Truyền thông Hà Nội tổ chức hội nghị triển khai nhiệm vụ"
    root = html.fromstring(f'<html lang="en"><body><p>{vietnamese}</p></body></html>')
    assert _language(root, vietnamese, None) == "vi"


@pytest.mark.parametrize(
    ("language", "zone", "shown", "expected"),
    [
        ("fr", "Europe/Paris", "Publié le 05/03/2024 à 10h30", "2024-03-05T10:30:00+01:00"),
        ("fr", "Europe/Paris", "Mis à jour le 1er avril 2024", "2024-04-01"),
        ("es", "Europe/Madrid", "Publicado el 5 de marzo de 2024", "2024-03-05"),
        ("de", "Europe/Berlin", "Veröffentlicht am 05.03.2024", "2024-03-05"),
        ("id", "Asia/Jakarta", "Diterbitkan: 5 Maret 2024", "2024-03-05"),
        ("nl", "Europe/Amsterdam", "Nieuwsbericht | 05-03-2024", "2024-03-05"),
        ("en", "Europe/London", "5 March 2024 — Press release", "2024-03-05"),
        # Codes dateparser knows under another name, or not at all: English dates still read.
        ("no", "Europe/Oslo", "Publisert 5. mars 2024", "2024-03-05"),
        ("x-unknown", "UTC", "Posted on March 5, 2024", "2024-03-05"),
    ],
)
def test_dates_behind_labels_in_other_languages(language, zone, shown, expected):
    """A date read in the portal's language; without a printed time it is the day alone."""
    from crawler.dates import parse_published
    from crawler.profiles import profile_from_tables

    tables = {
        "portal": {"name": "x", "base_url": "https://x", "language": language, "timezone": zone},
        "links": {"article": "/a/", "listing": "/l/"},
    }
    assert parse_published(shown, profile_from_tables(tables, "https://x"))[0] == expected


def test_us_english_reads_the_month_first():
    from crawler.recognise import date_order, guessed_timezone

    assert date_order('<html lang="en-US">', "www.example.org", "en") == "MDY"
    assert date_order('<html lang="en">', "www.city.gov", "en") == "MDY"
    assert date_order('<html lang="en-GB">', "www.example-council.gov.uk", "en") is None
    assert guessed_timezone("www.city.gov") == "America/New_York"
    assert guessed_timezone("www.kemenkeu.go.id") == "Asia/Jakarta"


def test_furniture_is_sidebars_menus_and_footers_not_the_page_wrapper():
    from parsel import Selector

    from crawler.discovery import FURNITURE

    page = (
        '<body class="home has-sidebar"><div class="site has-sidebar">'
        '<main><a href="/a">a</a></main><div class="col sidebar-first"><a href="/b">b</a></div>'
        '<div class="elementor-widget elementor-widget-posts"><a href="/c">c</a></div>'
        '<aside><a href="/d">d</a></aside><nav><a href="/e">e</a></nav>'
        '<section class="widget widget_recent_entries"><a href="/f">f</a></section>'
        '<div class="region region--sidebar-second"><a href="/g">g</a></div></div></body>'
    )
    hrefs = Selector(page).xpath(f"//body//a[@href][not({FURNITURE})]/@href").getall()
    assert hrefs == ["/a", "/c"]


@pytest.mark.parametrize(
    ("declared", "accepted"),
    [
        ("Communications team", True),
        ("Christopher Wainwright", True),
        ("Bùi Thị Quỳnh", True),
        ("Admin Admin", False),  # an account: the same word twice
        ("Ad Min", False),
        ("Pho Ban bien tap", False),  # a role
        ("webmaster", False),
    ],
)
def test_an_author_the_page_declares_is_kept_unless_it_is_an_account(declared, accepted):
    from crawler.extract.bylines import is_declared_author

    assert is_declared_author(declared) is accepted


def test_extract_with_a_url_reads_the_page_in_its_own_language_and_time_zone(replicas):
    """``govarchive extract FILE --url URL`` on a page of no bundled template: English, the
    time printed with its offset kept in London time, not Vietnamese defaults."""
    import json

    host, folder, _ = replicas["wordpress-council"]
    path = "/2024/06/14/council-signs-the-armed-forces-covenant/"
    page = folder / "pages" / "2024" / "06" / "14" / "council-signs-the-armed-forces-covenant.html"
    result = govarchive("extract", str(page), "--url", host + path)
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == "Council signs the Armed Forces Covenant"
    assert article["published_at"] == "2024-06-14T11:00:00+01:00"
    assert article["language"] == "en" and article["author"] == "Communications team"
