"""CDXJ indexes and WACZ export: what replay tools need to find a capture, and a package of it.

Each closed WARC file gets ``DATA/indexes/NAME.cdxj``; ``govarchive export-wacz`` merges those
into one WACZ with the WARCs and a page per article. The WACZ is checked here member by member
(layout, ZIP modes, digests, index ↔ records, pages ↔ rows); test_replay.py runs the `wacz`
validator and pywb on it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.cdxj import cdxj_path, merge_cdxj
from archive.wacz import WaczError, export_wacz
from archive.warc import (
    HttpExchange,
    WarcWriter,
    iter_records,
    read_record,
    repair_open_files,
)
from tests.conftest import Crawl, govarchive

CDXJ_LINE = re.compile(r"^(?P<key>\S+) (?P<timestamp>\d{14}) (?P<json>\{.*\})$")


def exchange(url: str, body: bytes, status: int = 200) -> HttpExchange:
    return HttpExchange(
        url=url,
        method="GET",
        request_headers=[("Accept-Encoding", "gzip")],
        status=status,
        reason="OK" if status == 200 else "Not Found",
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        body=body,
        fetched_at=datetime(2024, 4, 5, 6, 16, tzinfo=UTC),
    )


def parse(line: str) -> tuple[str, str, dict]:
    match = CDXJ_LINE.match(line)
    assert match, f"not a CDXJ line: {line!r}"
    return match["key"], match["timestamp"], json.loads(match["json"])


def write_portal(data: Path, portal: str, started: datetime, pages: dict[str, bytes]) -> Path:
    """A closed WARC file of ``portal`` whose crawl started at ``started``."""
    writer = WarcWriter(data / "warc", portal, data_dir=data, warcinfo={"portal": portal})
    writer.started = started
    with writer:
        for url, body in pages.items():
            writer.write_exchange(exchange(url, body))
    [path] = writer.files_written
    return path


def test_closing_a_warc_file_writes_its_cdxj_index_with_responses_and_revisits(tmp_path):
    writer = WarcWriter(tmp_path / "warc", "sotttt", data_dir=tmp_path)
    page = exchange("https://sotttt.hanoi.gov.vn/vi/tin-tuc/-/view_content/1-a.html", b"<h1>A</h1>")
    first = writer.write_exchange(page)
    again = exchange("https://sotttt.hanoi.gov.vn/pctn/-/view_content/1-a.html", b"<h1>A</h1>")
    revisit = writer.write_exchange(again, revisit_of=first)
    [open_file] = (tmp_path / "warc").iterdir()
    assert not (tmp_path / "indexes").exists()  # no index for a file still being written

    writer.close()
    [warc] = writer.files_written
    index = tmp_path / "indexes" / warc.name.replace(".warc.gz", ".cdxj")
    assert cdxj_path(warc) == index and index.is_file()

    lines = index.read_text().splitlines()
    assert lines == sorted(lines)
    entries = {data["offset"]: (key, ts, data) for key, ts, data in map(parse, lines)}
    # Responses and revisits are indexed; requests and warcinfo are not.
    assert set(entries) == {str(first.offset), str(revisit.offset)}

    key, timestamp, response = entries[str(first.offset)]
    assert key == "vn,gov,hanoi,sotttt)/vi/tin-tuc/-/view_content/1-a.html"
    assert timestamp == "20240405061600"
    assert response == {
        "url": "https://sotttt.hanoi.gov.vn/vi/tin-tuc/-/view_content/1-a.html",
        "mime": "text/html",
        "status": "200",
        "digest": first.payload_digest,
        "length": str(first.length),
        "offset": str(first.offset),
        "filename": warc.name,
    }
    _, _, revisited = entries[str(revisit.offset)]
    assert revisited["mime"] == "warc/revisit"
    assert revisited["digest"] == first.payload_digest  # points a replayer at the payload


def test_a_failed_index_write_never_fails_the_crawl(tmp_path, caplog):
    (tmp_path / "indexes").write_text("not a directory")  # the index cannot be written
    writer = WarcWriter(tmp_path / "warc", "sotttt", data_dir=tmp_path)
    writer.write_exchange(exchange("https://sotttt.hanoi.gov.vn/a", b"a"))
    writer.close()
    [warc] = writer.files_written
    assert warc.is_file() and warc.name.endswith(".warc.gz")  # closed and renamed all the same
    assert "could not write its CDXJ index" in caplog.text


def test_a_file_closed_by_crash_repair_is_indexed_too(tmp_path):
    crashed = WarcWriter(tmp_path / "warc", "sotttt", data_dir=tmp_path)
    pointer = crashed.write_exchange(exchange("https://sotttt.hanoi.gov.vn/a", b"a"))
    crashed.flush()  # the process dies here: the file keeps its .open name, unindexed

    [repaired] = repair_open_files(tmp_path / "warc")
    [line] = cdxj_path(repaired).read_text().splitlines()
    assert parse(line)[2]["offset"] == str(pointer.offset)


def test_a_crawl_indexes_every_response_and_revisit_of_its_warc_files(crawled: Crawl):
    warcs = sorted((crawled.data / "warc").glob("*.warc.gz"))
    assert warcs
    for warc in warcs:
        index = crawled.data / "indexes" / warc.name.replace(".warc.gz", ".cdxj")
        indexed = {int(data["offset"]) for _, _, data in map(parse, index.read_text().splitlines())}
        records = {offset for offset, _ in iter_records(warc, types={"response", "revisit"})}
        assert indexed == records

    with sqlite3.connect(crawled.data / "archive.db") as db:
        pointers = db.execute("SELECT warc_filename, warc_offset FROM articles").fetchall()
    merged = [parse(line) for line in merge_cdxj(sorted((crawled.data / "indexes").iterdir()))]
    located = {(f"warc/{data['filename']}", int(data["offset"])) for _, _, data in merged}
    assert set(pointers) <= located  # every article's capture can be found by URL


@pytest.fixture(scope="module")
def package(crawled: Crawl, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "sotttt.wacz"
    result = govarchive("export-wacz", "--data", str(crawled.data), str(out))
    assert result.returncode == 0, result.stderr
    assert re.search(r"1 WARC file\(s\), \d+ index lines, \d+ pages", result.stdout)
    return out


def test_the_wacz_holds_the_warcs_byte_for_byte_and_stored_not_deflated(
    package: Path, crawled: Crawl
):
    warcs = sorted((crawled.data / "warc").glob("*.warc.gz"))
    with zipfile.ZipFile(package) as wacz:
        names = wacz.namelist()
        assert sorted(names) == sorted(
            [f"archive/{w.name}" for w in warcs]
            + [
                "indexes/index.cdxj",
                "pages/pages.jsonl",
                "datapackage.json",
                "datapackage-digest.json",
            ]
        )
        for warc in warcs:
            member = wacz.getinfo(f"archive/{warc.name}")
            assert member.compress_type == zipfile.ZIP_STORED  # CDXJ offsets stay valid
            assert wacz.read(member) == warc.read_bytes()


def test_datapackage_lists_every_file_with_its_sha256_and_is_sealed(package: Path):
    with zipfile.ZipFile(package) as wacz:
        datapackage_bytes = wacz.read("datapackage.json")
        datapackage = json.loads(datapackage_bytes)
        seal = json.loads(wacz.read("datapackage-digest.json"))
        assert datapackage["profile"] == "data-package"
        assert datapackage["wacz_version"] == "1.1.1"
        assert datapackage["software"].startswith("govarchive")
        listed = {resource["path"]: resource for resource in datapackage["resources"]}
        assert set(listed) == set(wacz.namelist()) - {"datapackage.json", "datapackage-digest.json"}
        for path, resource in listed.items():
            data = wacz.read(path)
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
    assert seal == {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(datapackage_bytes).hexdigest(),
    }


def test_the_index_is_sorted_and_each_line_opens_its_record(package: Path, crawled: Crawl):
    with zipfile.ZipFile(package) as wacz:
        lines = wacz.read("indexes/index.cdxj").decode("utf-8").splitlines()
    assert lines == sorted(lines) and len(lines) > 100
    for _key, timestamp, data in map(parse, lines[:: max(1, len(lines) // 40)]):
        record = read_record(
            crawled.data, {"filename": f"warc/{data['filename']}", "offset": int(data["offset"])}
        )
        assert record.rec_headers.get_header("WARC-Target-URI") == data["url"]
        date = record.rec_headers.get_header("WARC-Date")
        assert re.sub(r"\D", "", date)[:14] == timestamp


def test_pages_are_the_archived_articles_at_their_capture(package: Path, crawled: Crawl):
    with zipfile.ZipFile(package) as wacz:
        header, *pages = map(json.loads, wacz.read("pages/pages.jsonl").decode().splitlines())
    assert header == {"format": "json-pages-1.0", "id": "pages", "title": "Archived articles"}
    with sqlite3.connect(crawled.data / "archive.db") as db:
        articles = {
            record_id: (title, fetched_url, crawled_at)
            for record_id, title, fetched_url, crawled_at in db.execute(
                "SELECT warc_record_id, title, fetched_url, crawled_at FROM articles"
            )
        }
    assert len(pages) == len(articles)
    for page in pages:
        title, fetched_url, crawled_at = articles[f"<urn:uuid:{page['id']}>"]
        assert page["title"] == title
        assert page["url"] == fetched_url  # the URL the record was captured at
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", page["ts"])
        assert page["ts"][:19] == datetime.fromisoformat(crawled_at).astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )


def test_export_filters_warc_files_by_portal_and_by_date(tmp_path: Path):
    data = tmp_path / "data"
    old = write_portal(
        data, "sotttt", datetime(2023, 1, 2, tzinfo=UTC), {"https://sotttt.hanoi.gov.vn/a": b"a"}
    )
    new = write_portal(
        data, "sotttt", datetime(2024, 6, 1, tzinfo=UTC), {"https://sotttt.hanoi.gov.vn/b": b"b"}
    )
    other = write_portal(
        data, "hiza", datetime(2024, 6, 1, tzinfo=UTC), {"https://hiza.hanoi.gov.vn/c": b"c"}
    )

    def exported(**filters) -> set[str]:
        result = export_wacz(data, tmp_path / "out.wacz", **filters)
        with zipfile.ZipFile(result.path) as wacz:
            archived = {n.removeprefix("archive/") for n in wacz.namelist() if "archive/" in n}
            index = wacz.read("indexes/index.cdxj").decode().splitlines()
        urls = {parse(line)[2]["url"] for line in index}
        assert archived == set(result.warcs)
        assert len(urls) == len(archived)  # the index covers exactly the packaged files
        return archived

    assert exported() == {old.name, new.name, other.name}
    assert exported(portal="sotttt") == {old.name, new.name}
    assert exported(since=datetime(2024, 1, 1)) == {new.name, other.name}
    assert exported(portal="hiza", since=datetime(2024, 1, 1)) == {other.name}
    with pytest.raises(WaczError, match="no closed WARC file to export matching portal 'x'"):
        export_wacz(data, tmp_path / "none.wacz", portal="x")
    assert not (tmp_path / "none.wacz").exists()


def test_export_leaves_out_open_files_and_indexes_files_that_have_no_index(tmp_path: Path):
    data = tmp_path / "data"
    closed = write_portal(
        data, "sotttt", datetime(2024, 6, 1, tzinfo=UTC), {"https://sotttt.hanoi.gov.vn/a": b"a"}
    )
    cdxj_path(closed).unlink()  # e.g. crawled before indexes were written
    unfinished = WarcWriter(data / "warc", "sotttt", data_dir=data)
    unfinished.write_exchange(exchange("https://sotttt.hanoi.gov.vn/b", b"b"))
    unfinished.flush()

    result = govarchive("export-wacz", "--data", str(data), str(tmp_path / "out.wacz"))
    assert result.returncode == 0, result.stderr
    assert "left out warc/" in result.stderr and ".open" in result.stderr
    assert "Indexed 1 WARC file(s) that had no CDXJ index" in result.stdout
    with zipfile.ZipFile(tmp_path / "out.wacz") as wacz:
        assert [n for n in wacz.namelist() if n.startswith("archive/")] == [
            f"archive/{closed.name}"
        ]
        [line] = wacz.read("indexes/index.cdxj").decode().splitlines()
    assert parse(line)[2]["url"] == "https://sotttt.hanoi.gov.vn/a"
    unfinished.close()


def test_export_wacz_usage_errors_exit_2(tmp_path: Path):
    empty = govarchive("export-wacz", "--data", str(tmp_path), str(tmp_path / "out.wacz"))
    assert empty.returncode == 2
    assert "no closed WARC file to export" in empty.stderr
    wrong_name = govarchive("export-wacz", "--data", str(tmp_path), str(tmp_path / "out.zip"))
    assert wrong_name.returncode == 2 and "must end in .wacz" in wrong_name.stderr
