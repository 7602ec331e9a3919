"""archive.warc: records written by WarcWriter are valid WARC and can be reopened by pointer."""

import gzip
import subprocess
import sys
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.warc import HttpExchange, WarcWriter, read_record, record_payload, sha1_digest


def exchange(url: str, body: bytes, headers=None) -> HttpExchange:
    return HttpExchange(
        url=url,
        method="GET",
        request_headers=[("Host", "example.gov.vn"), ("Accept-Encoding", "gzip")],
        status=200,
        reason="OK",
        response_headers=headers or [("Content-Type", "text/html; charset=utf-8")],
        body=body,
    )


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    """Run warcio's own validator (the console script installed beside this Python)."""
    warcio = Path(sys.executable).parent / "warcio"
    return subprocess.run([str(warcio), "check", "-v", str(path)], capture_output=True, text=True)


def test_each_file_starts_with_warcinfo_and_holds_request_and_response(tmp_path):
    with WarcWriter(
        tmp_path / "warc", "sotttt", data_dir=tmp_path, warcinfo={"portal": "sotttt"}
    ) as w:
        pointer = w.write_exchange(exchange("https://example.gov.vn/a", b"<p>Xin chao</p>"))
    [path] = (tmp_path / "warc").glob("*.warc.gz")
    assert path.name.startswith("sotttt-") and path.name.endswith("-00000.warc.gz")
    assert pointer.filename == f"warc/{path.name}"

    with open(path, "rb") as fh:
        records = list(
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(fh)
        )
    assert records == [
        ("warcinfo", None),
        ("response", "https://example.gov.vn/a"),
        ("request", "https://example.gov.vn/a"),
    ]
    result = warcio_check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pointer_reopens_the_exact_record_without_scanning(tmp_path):
    with WarcWriter(tmp_path / "warc", "p", data_dir=tmp_path) as w:
        first = w.write_exchange(exchange("https://example.gov.vn/1", b"one"))
        second = w.write_exchange(exchange("https://example.gov.vn/2", b"two"))
    record = read_record(tmp_path, second)
    assert record.rec_headers.get_header("WARC-Record-ID") == second.record_id
    assert record.rec_headers.get_header("WARC-Target-URI") == "https://example.gov.vn/2"
    assert record_payload(record) == b"two"
    assert (
        read_record(tmp_path, first.to_dict()).rec_headers.get_header("WARC-Target-URI")
        == "https://example.gov.vn/1"
    )


def test_compressed_body_is_stored_as_received(tmp_path):
    html = "<h1>Hội nghị</h1>".encode()
    wire = gzip.compress(html)
    headers = [
        ("Content-Type", "text/html"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", str(len(wire))),
    ]
    with WarcWriter(tmp_path / "warc", "p", data_dir=tmp_path) as w:
        pointer = w.write_exchange(exchange("https://example.gov.vn/gz", wire, headers))
    assert pointer.payload_digest == sha1_digest(wire)
    record = read_record(tmp_path, pointer)
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert record_payload(record) == html  # readers still get the decoded page


def test_open_suffix_until_closed_and_rotation_by_size(tmp_path):
    writer = WarcWriter(tmp_path / "warc", "p", data_dir=tmp_path, max_file_size=1)
    writer.write_exchange(exchange("https://example.gov.vn/1", b"x" * 100))
    assert [p.name.endswith(".warc.gz.open") for p in (tmp_path / "warc").iterdir()] == [True]
    writer.write_exchange(exchange("https://example.gov.vn/2", b"y" * 100))
    writer.close()
    names = sorted(p.name for p in (tmp_path / "warc").iterdir())
    assert len(names) == 2 and all(n.endswith(".warc.gz") for n in names)
    assert all(warcio_check(tmp_path / "warc" / n).returncode == 0 for n in names)
