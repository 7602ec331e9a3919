"""What a crawl counts as a failure, and failures that stop it at once.

- A page the portal links to but does not serve is a *broken link*: counted, not an error.
- A failure that would hit every page (a module that does not import, a full disk) stops the
  crawl with one line and a ``failed`` crawl row, and loses nothing already archived.
- When most article pages no longer fit the profile, the crawl says the profile drifted.
"""

import os
import sqlite3
import subprocess
from pathlib import Path

from crawler.profiles import PORTALS_DIR

from .conftest import BIN, FAST, govarchive, warcio_check

HIZA_PAGE = Path(__file__).parent / "fixtures" / "hiza" / "hiza-article-2024-04-05.html"


def rows(data: Path, sql: str, *params) -> list[dict]:
    with sqlite3.connect(data / "archive.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params)]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "govarchive"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


# -- broken links ------------------------------------------------------------------------------


def test_links_to_pages_the_portal_does_not_serve_are_broken_links_not_errors(crawled):
    """The demo replica lacks many pages its listings link to: the crawl is still `done`."""
    assert crawled.result.returncode == 0, crawled.result.stdout + crawled.result.stderr[-2000:]
    [crawl] = rows(crawled.data, "select * from crawls")
    assert crawl["status"] == "done" and crawl["errors"] == 0
    broken = rows(crawled.data, "select status, error, note from fetches where broken_link = 1")
    assert crawl["broken_links"] == len(broken) >= 100
    assert {b["status"] for b in broken} <= {404, 410}
    assert all(b["error"] is None and b["note"].startswith("broken link: HTTP 4") for b in broken)
    assert f"{len(broken)} broken links" in crawled.result.stdout
    status = govarchive("status", "--data", str(crawled.data))
    header, line = status.stdout.splitlines()[:2]
    assert header.split()[-2:] == ["broken", "links"] and line.split()[-1] == str(len(broken))


def test_a_section_page_that_answers_404_is_still_an_error(replica, tmp_path):
    profile = tmp_path / "vanished.toml"
    text = (PORTALS_DIR / "sotttt.toml").read_text(encoding="utf-8")
    profile.write_text(
        text.replace('"/vi/tin-tuc-su-kien",', '"/vi/tin-tuc-su-kien",\n    "/no-such-section",'),
        encoding="utf-8",
    )
    data = tmp_path / "data"
    result = govarchive(
        "crawl", str(profile), "--data", str(data), "--base-url", replica.url,
        "--max-articles", "5", *FAST,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    [error] = rows(data, "select url, error from fetches where error is not null")
    assert error["url"].endswith("/no-such-section") and error["error"] == "HTTP 404 Not Found"
    assert "HTTP 404 Not Found: https://sotttt.hanoi.gov.vn/no-such-section" in result.stdout


# -- failures that would hit every page --------------------------------------------------------


def shim(tmp_path: Path, source: str) -> dict:
    """An environment where `import trafilatura` finds ``source`` instead of the real thing."""
    package = tmp_path / "shim" / "trafilatura"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source, encoding="utf-8")
    return {"PYTHONPATH": str(tmp_path / "shim")}


MISSING = 'raise ImportError("lxml.html.clean module is now a separate project (simulated)")\n'


def test_a_module_that_does_not_import_stops_the_crawl_before_it_starts(replica, tmp_path):
    data = tmp_path / "data"
    result = run(
        "crawl", "sotttt", "--data", str(data), "--base-url", replica.url, *FAST,
        env=shim(tmp_path, MISSING),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: trafilatura: cannot be imported (ImportError: lxml.html.clean")
    assert "pip install -e ." in line
    assert not (data / "archive.db").exists()


def test_extract_exits_non_zero_when_extraction_fails(tmp_path):
    result = run("extract", str(HIZA_PAGE), env=shim(tmp_path, MISSING))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "extraction failed: ImportError: lxml.html.clean module" in line


def test_a_failure_inside_extraction_stops_the_crawl_with_one_line(replica, tmp_path):
    """The module imports, but fails when a page needs it: the first page stops the crawl."""
    broken_at_use = "def bare_extraction(*args, **kwargs):\n    import lxml_html_clean_gone\n"
    data = tmp_path / "data"
    result = run(
        "crawl", "sotttt", "--data", str(data), "--base-url", replica.url, *FAST,
        "-s", "GOVARCHIVE_GENERIC_EXTRACTION=1",
        env=shim(tmp_path, broken_at_use),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    summary, stopped = result.stdout.splitlines()[:2]
    assert " failed in " in summary
    assert stopped.startswith("  stopped: extraction failed on https://sotttt.hanoi.gov.vn/")
    assert "ModuleNotFoundError: No module named 'lxml_html_clean_gone'" in stopped
    assert "Traceback" not in result.stderr
    [crawl] = rows(data, "select status, failure, exit_code from crawls")
    assert crawl["status"] == "failed" and crawl["exit_code"] == 1
    assert "lxml_html_clean_gone" in crawl["failure"]
    assert rows(data, "select count(*) n from articles") == [{"n": 0}]
    requests = rows(data, "select count(*) n from fetches")[0]["n"]
    assert requests < 100, "the crawl went on after the failure"


def test_a_full_disk_stops_the_crawl_and_the_next_run_completes(replica, tmp_path):
    """A 12 MB filesystem (tmpfs, in a mount namespace of our own) that fills up mid-crawl."""
    out = tmp_path / "out"
    out.mkdir()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    gov = BIN / "govarchive"
    crawl = f"{gov} crawl sotttt --data {mnt}/data --base-url {replica.url} {' '.join(FAST)}"
    crawl += " -s GOVARCHIVE_MIN_FREE_MB=1"
    script = f"""
        mount -t tmpfs -o size=12m tmpfs {mnt} || exit 99
        dd if=/dev/zero of={mnt}/filler bs=1M count=9 status=none
        {crawl} > {out}/first.out 2> {out}/first.err; echo $? > {out}/first.rc
        cp -r {mnt}/data {out}/first
        rm {mnt}/filler
        {crawl} > {out}/second.out 2> {out}/second.err; echo $? > {out}/second.rc
        {gov} verify --data {mnt}/data > {out}/verify.out; echo $? > {out}/verify.rc
        cp -r {mnt}/data {out}/second
    """
    namespace = ["unshare", "--mount"]
    if os.geteuid() != 0:
        namespace = ["unshare", "--user", "--map-root-user", "--mount"]
    done = subprocess.run([*namespace, "bash", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    def read(name: str) -> str:
        return (out / name).read_text()

    assert read("first.rc").strip() == "1"
    summary, stopped = read("first.out").splitlines()
    assert " failed in " in summary
    assert stopped == "  stopped: disk full: free space in the data directory, then run again"
    assert "Traceback" not in read("first.err")
    assert len([line for line in read("first.err").splitlines() if " ERROR: " in line]) == 1
    [crawl] = rows(out / "first", "select status, failure from crawls")
    assert crawl["status"] == "failed" and crawl["failure"].startswith("disk full")
    warcs = sorted((out / "first" / "warc").iterdir())
    assert warcs and all(w.name.endswith(".warc.gz") for w in warcs), "a WARC was left .open"
    for warc in warcs:
        assert warcio_check(warc).returncode == 0
    archived = rows(out / "first", "select count(*) n from articles")[0]["n"]
    assert 0 < archived < 150

    assert read("second.rc").strip() == "0", read("second.out") + read("second.err")
    assert read("verify.rc").strip() == "0", read("verify.out")
    assert "problems:   none" in read("verify.out")
    assert rows(out / "second", "select count(*) n from articles")[0]["n"] >= 150


# -- profile drift -----------------------------------------------------------------------------


def test_a_profile_whose_selectors_match_nothing_reports_drift(replica, tmp_path):
    """As if the portal had changed its template: the crawl works, and says the profile is stale."""
    text = (PORTALS_DIR / "sotttt.toml").read_text(encoding="utf-8")
    # A portal file's own selectors override its template's.
    profile = tmp_path / "sotttt.toml"
    profile.write_text(text + '\n[selectors]\nbody = "div.old-template"\n', encoding="utf-8")
    data = tmp_path / "data"
    result = govarchive(
        "cron", str(profile), "--data", str(data), "--base-url", replica.url,
        "--max-articles", "20", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [crawl] = rows(data, "select status, articles_new, articles_fallback, drift from crawls")
    extracted = crawl["articles_new"]
    assert crawl["status"] == "done" and crawl["articles_fallback"] == extracted >= 10
    drift = (
        f"profile drift: {extracted} of {extracted} article pages did not match the profile's "
        "body selector (extracted generically): the portal may have changed its template"
    )
    assert crawl["drift"] == drift
    # cron prints nothing when all went well; drift is not "all went well".
    assert result.stderr.splitlines()[1:] == [f"  {drift}"]
    status = govarchive("status", "--data", str(data))
    assert f"sotttt: {drift}" in status.stdout.splitlines()


def test_a_crawl_that_fits_its_profile_reports_no_drift(crawled):
    [crawl] = rows(crawled.data, "select drift, articles_fallback, articles_undated from crawls")
    assert crawl["drift"] is None
    assert crawl["articles_fallback"] == 0 and crawl["articles_undated"] <= 3
