"""Bad local input: one line naming the file and what is wrong, exit status 2, archive untouched.

Each case starts from a copy of a real archive (the `crawled` fixture), breaks one thing, runs
`govarchive crawl` as a user would, and compares every file of the data directory, byte for
byte, before and after. The crawl must refuse before Scrapy starts: nothing is fetched, no log
is written, no lock or repair touches the archive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import BIN, govarchive

PROFILE = Path(__file__).resolve().parent.parent / "crawler" / "portals" / "sotttt.toml"
TEMPLATE = Path(__file__).resolve().parent.parent / "crawler" / "templates" / "liferay-cttdt.toml"
NOWHERE = "http://127.0.0.1:9"  # nothing is fetched anyway: the crawl must refuse first


def snapshot(data: Path) -> dict[str, str]:
    """Every file under ``data`` with the SHA-256 of its bytes."""
    return {
        str(path.relative_to(data)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def archive(crawled, tmp_path) -> Path:
    """A private copy of a crawled archive."""
    data = tmp_path / "data"
    shutil.copytree(crawled.data, data)
    return data


def refuses(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Assert a one-line error with exit status 2 that says all of ``expected``."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for words in expected:
        assert words in lines[0]
    return lines[0]


def crawl(data: Path, *extra: str, portal: str = "sotttt") -> subprocess.CompletedProcess:
    return govarchive("crawl", portal, "--data", str(data), "--base-url", NOWHERE, *extra)


# -- the archive itself ------------------------------------------------------------------------


def test_a_file_that_is_not_a_sqlite_database(archive):
    (archive / "archive.db").write_bytes(b"these are not the rows you are looking for\n" * 100)
    before = snapshot(archive)
    refuses(crawl(archive), f"{archive / 'archive.db'}: not a SQLite database")
    assert snapshot(archive) == before


def test_a_truncated_database(archive):
    db = archive / "archive.db"
    with open(db, "r+b") as handle:
        handle.truncate(db.stat().st_size // 3)
    before = snapshot(archive)
    refuses(crawl(archive), f"{db}: damaged SQLite database")
    assert snapshot(archive) == before


def test_a_sqlite_database_that_is_not_an_archive(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "archive.db")
    db.execute("create table articles (id integer primary key, body text)")
    db.close()
    before = snapshot(data)
    refuses(crawl(data), f"{data / 'archive.db'}: has an 'articles' table that is not")
    assert snapshot(data) == before


def test_an_archive_written_by_a_newer_govarchive(archive):
    db = sqlite3.connect(archive / "archive.db")
    db.execute("pragma user_version = 99")
    db.close()
    before = snapshot(archive)
    refuses(crawl(archive), "archive.db: schema version 99", "upgrade govarchive")
    assert snapshot(archive) == before


def test_a_truncated_warc_file(archive):
    [warc] = sorted((archive / "warc").glob("*.warc.gz"))
    with open(warc, "r+b") as handle:
        handle.truncate(warc.stat().st_size - 5000)  # the last records are cut off
    before = snapshot(archive)
    refuses(crawl(archive), f"{warc}: truncated", "govarchive verify")
    assert snapshot(archive) == before


def test_a_warc_file_damaged_after_its_last_indexed_record(archive):
    [warc] = sorted((archive / "warc").glob("*.warc.gz"))
    with open(warc, "ab") as handle:
        handle.write(b"\x1f\x8b\x08\x00 half a gzip member")
    before = snapshot(archive)
    refuses(crawl(archive), f"{warc}: truncated or damaged after byte")
    assert snapshot(archive) == before


# -- the data directory ------------------------------------------------------------------------


def test_a_data_directory_that_is_a_file(tmp_path):
    data = tmp_path / "data"
    data.write_text("not a directory")
    refuses(crawl(data), f"{data}: not a directory")
    assert data.read_text() == "not a directory"


def test_a_data_directory_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    refuses(crawl(blocker / "data"), f"{blocker / 'data'}: cannot create the data directory")


def test_a_full_disk(archive):
    before = snapshot(archive)
    line = refuses(crawl(archive, "-s", "GOVARCHIVE_MIN_FREE_MB=1000000000"), f"{archive}: only")
    assert "MB free" in line and "GOVARCHIVE_MIN_FREE_MB" in line
    assert snapshot(archive) == before


def test_an_unwritable_data_directory(crawled):
    # Root writes anywhere, so as root the crawl runs without capabilities: still the owner of
    # the checkout (a private temp dir in CI), but bound by the directory's permission bits.
    home = Path(tempfile.mkdtemp(prefix="govarchive-readonly-"))
    data = home / "data"
    shutil.copytree(crawled.data, data)
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    data.chmod(0o555)
    (data / "warc").chmod(0o555)
    command = [str(BIN / "govarchive"), "crawl", "sotttt", "--data", str(data)]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", *command]
    try:
        before = snapshot(data)
        result = subprocess.run(
            [*command, "--base-url", NOWHERE],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": str(home)},
        )
        refuses(result, f"{data}: not writable: permission denied")
        assert snapshot(data) == before
    finally:
        for path in [data, data / "warc"]:
            path.chmod(0o755)
        shutil.rmtree(home)


# -- the profile -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (('base_url = "https://sotttt.hanoi.gov.vn"', 'base_url = "https://'), "toml",
         "not valid TOML"),
        (('start_paths = [', 'start_paths = "/vi" \nx = ['), "portal.start_paths",
         "must be a list of strings"),
        (('name = "sotttt"', 'name = "../../etc/sotttt"'), "portal.name",
         "must be letters, digits"),
        (('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi"'), "portal.timezone",
         "unknown time zone"),
        (('template = "liferay-cttdt"', 'template = "liferay-nosuch"'), "portal.template",
         "no such template 'liferay-nosuch'"),
        # Fields of the template, overridden in the portal file: the portal file is named.
        (("[portal]", "[links]\nlisting = '([?&]p_p_id'\n\n[portal]"), "links.listing",
         "invalid regular expression"),
        (("[portal]", '[selectors]\ntitle = "div[["\n\n[portal]'), "selectors.title",
         "invalid CSS selector"),
        (("[portal]", "[incremental]\nstop_after_known = -1\n\n[portal]"),
         "incremental.stop_after_known", "must be a positive integer"),
    ],
)  # fmt: skip
def test_a_malformed_profile_names_its_file_and_field(archive, tmp_path, change, field, problem):
    text = PROFILE.read_text(encoding="utf-8")
    old, new = change
    assert old in text
    profile = tmp_path / "broken.toml"
    profile.write_text(text.replace(old, new, 1), encoding="utf-8")
    before = snapshot(archive)
    refuses(crawl(archive, portal=str(profile)), f"{profile}: {field}: {problem}")
    assert snapshot(archive) == before


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("listing = '[?&]p_p_id", "listing = '([?&]p_p_id"), "links.listing",
         "invalid regular expression"),
        (('title = "div.asset-full-content-title"', 'title = "div[["'), "selectors.title",
         "invalid CSS selector"),
        (('order = "DMY"', 'order = "DMD"'), "dates.order", "must be a permutation of DMY"),
    ],
)  # fmt: skip
def test_a_malformed_template_names_the_template_file(archive, tmp_path, change, field, problem):
    """A portal file naming a template by path: errors in the template name the template."""
    template_text = TEMPLATE.read_text(encoding="utf-8")
    old, new = change
    assert old in template_text
    template = tmp_path / "broken-template.toml"
    template.write_text(template_text.replace(old, new, 1), encoding="utf-8")
    profile = tmp_path / "portal.toml"
    profile.write_text(
        PROFILE.read_text(encoding="utf-8").replace(
            'template = "liferay-cttdt"', 'template = "broken-template.toml"'
        ),
        encoding="utf-8",
    )
    before = snapshot(archive)
    refuses(crawl(archive, portal=str(profile)), f"{template}: {field}: {problem}")
    assert snapshot(archive) == before


def test_an_unknown_portal(archive):
    before = snapshot(archive)
    refuses(crawl(archive, portal="nosuchportal"), "nosuchportal.toml: portal: no such profile")
    assert snapshot(archive) == before


# -- serving -----------------------------------------------------------------------------------


def test_serving_a_damaged_database_is_refused_in_one_line(archive):
    (archive / "archive.db").write_bytes(b"\0" * 4096)
    before = snapshot(archive)
    result = govarchive("serve", "--data", str(archive), "--port", "9")
    refuses(result, f"{archive / 'archive.db'}: ")
    assert snapshot(archive) == before


def test_write_check_leftovers_of_a_killed_crawl_do_not_block_the_next(tmp_path):
    """A crawl killed while it checked that --data is writable leaves its small test file; the
    next crawl's check still passes, and removes leftovers older than an hour."""
    from crawler.preflight import check_data_dir

    data = tmp_path / "data"
    data.mkdir()
    fresh = data / f".govarchive-write-test-{os.getpid()}"  # a name an earlier scheme reused
    stale = data / ".govarchive-write-test-12345"
    for leftover in (fresh, stale):
        leftover.write_bytes(b"\0" * 16)
    two_hours_ago = os.stat(stale).st_mtime - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    check_data_dir(data, min_free_mb=0)

    assert fresh.exists() and not stale.exists()
    assert sorted(p.name for p in data.iterdir()) == [fresh.name]
