"""The WARC holds what the server sent: compressed bodies stay compressed, digests match.

A small server on 127.0.0.1 answers with gzip, brotli and chunked responses; after a real crawl
each response record's payload is byte-for-byte what went over the wire (less the chunk framing,
which Twisted removes before any middleware sees the body).
"""

import gzip
import http.server
import subprocess
import threading

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc import read_record, record_payload, sha1_digest

from .conftest import FAST, govarchive, reference_warcio, warcio_check

ARTICLE = """<html><head><title>{title}</title>
<link rel="canonical" href="/article/{id}-{name}.html"></head>
<body><h1>{title}</h1><p>Ngày đăng 05/04/2024 | 6:16 AM</p>
<p>Hội nghị tổng kết công tác năm 2023 của Đảng ủy khối {name}, với nhiều nội dung quan trọng
được các đại biểu thảo luận sôi nổi trong suốt buổi làm việc.</p></body></html>"""


def page(article_id: int, name: str) -> bytes:
    title = f"Bài viết {name}"
    return ARTICLE.format(title=title, id=article_id, name=name).encode()


PAGES = {
    "/article/1-gzip.html": ("gzip", page(1, "gzip")),
    "/article/2-brotli.html": ("br", page(2, "brotli")),
    "/article/3-chunked.html": ("chunked-gzip", page(3, "chunked")),
    "/article/4-plain.html": ("identity", page(4, "plain")),
}
LISTING = "<html><body>" + "".join(f'<a href="{p}">x</a>' for p in PAGES) + "</body></html>"


class WireHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sent: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/news":
            self._send(LISTING.encode(), [])
        elif self.path in PAGES:
            encoding, html = PAGES[self.path]
            if encoding == "gzip":
                self._send(gzip.compress(html), [("Content-Encoding", "gzip")])
            elif encoding == "br":
                self._send(brotli.compress(html), [("Content-Encoding", "br")])
            elif encoding == "chunked-gzip":
                self._send_chunked(gzip.compress(html))
            else:
                self._send(html, [])
        else:
            self._send(b"not found", [], status=404)

    def _send(self, body: bytes, headers, status=200):
        self.sent[self.path] = body
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_chunked(self, body: bytes):
        self.sent[self.path] = body
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(body), 100):
            chunk = body[start : start + 100]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


PROFILE = """
[portal]
name = "wire"
base_url = "https://wire.example.gov.vn"
start_paths = ["/news"]
[links]
article = '/article/(?P<id>\\d+)-[a-z]+\\.html'
listing = '/news\\?page=\\d+'
[dates]
pattern = '(\\d{1,2}/\\d{1,2}/\\d{4})\\s*\\|\\s*(\\d{1,2}:\\d{2}\\s*[AP]M)'
formats = ["%d/%m/%Y %I:%M %p"]
"""


@pytest.fixture(scope="module")
def wire_crawl(tmp_path_factory):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WireHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("wire")
    profile = tmp / "wire.toml"
    profile.write_text(PROFILE)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    result = govarchive(
        "crawl", str(profile), "--data", str(tmp / "data"), "--base-url", url, *FAST
    )
    server.shutdown()
    assert result.returncode in (0, 1), result.stderr[-3000:]
    records = {}
    [warc] = (tmp / "data" / "warc").glob("*.warc.gz")
    with open(warc, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                uri = record.rec_headers.get_header("WARC-Target-URI")
                records[uri.removeprefix("https://wire.example.gov.vn")] = (
                    record.rec_headers,
                    record.http_headers,
                    record.raw_stream.read(),
                )
    return warc, records


@pytest.mark.parametrize("path", list(PAGES))
def test_response_record_holds_the_exact_bytes_sent(wire_crawl, path):
    _, records = wire_crawl
    warc_headers, http_headers, payload = records[path]
    sent = WireHandler.sent[path]
    assert payload == sent
    assert warc_headers.get_header("WARC-Payload-Digest") == sha1_digest(sent)
    encoding = PAGES[path][0]
    if encoding != "identity":
        assert http_headers.get_header("Content-Encoding") == encoding.removeprefix("chunked-")
    # The framing is gone from the bytes, so the record must not claim it.
    assert http_headers.get_header("Transfer-Encoding") is None
    assert warc_headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_warcio_check_and_extract_payload(wire_crawl):
    warc, records = wire_crawl
    assert warcio_check(warc).returncode == 0
    offsets = {}
    with open(warc, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            if record.rec_type == "response":
                uri = record.rec_headers.get_header("WARC-Target-URI")
                offsets[uri.removeprefix("https://wire.example.gov.vn")] = (
                    iterator.get_record_offset()
                )
    for path, (_, html) in PAGES.items():
        extracted = subprocess.run(
            [str(reference_warcio()), "extract", "--payload", str(warc), str(offsets[path])],
            capture_output=True,
            check=True,
        ).stdout
        # warcio undoes the content encoding, giving back the page the server compressed.
        assert extracted == html


def test_request_record_and_warcinfo(wire_crawl):
    warc, _ = wire_crawl
    with open(warc, "rb") as fh:
        records = []
        for record in ArchiveIterator(fh):
            records.append(record)
            if record.rec_type == "warcinfo":
                fields = record.raw_stream.read().decode()
    info = records[0]
    assert info.rec_type == "warcinfo"
    for field in ("software-versions: ", "portal: wire", "crawl-id: 1", "robots: obey"):
        assert field in fields
    responses = {
        r.rec_headers.get_header("WARC-Record-ID"): r
        for r in records[1:]
        if r.rec_type == "response"
    }
    requests = [r for r in records if r.rec_type == "request"]
    assert requests and len(requests) == len(responses) + sum(
        r.rec_type == "revisit" for r in records
    )
    for request in requests:
        assert request.rec_headers.get_header("WARC-Warcinfo-ID") == info.rec_headers.get_header(
            "WARC-Record-ID"
        )
        assert request.http_headers.protocol == "GET"
        assert request.http_headers.statusline.endswith(" HTTP/1.1")
        assert request.http_headers.get_header("Host").startswith("127.0.0.1:")
        assert "govarchive" in request.http_headers.get_header("User-Agent")
    article_requests = [
        r for r in requests if "/article/" in r.rec_headers.get_header("WARC-Target-URI")
    ]
    assert {r.rec_headers.get_header("WARC-Concurrent-To") for r in article_requests} <= set(
        responses
    )


def test_archive_reads_every_encoding_back_in_the_crawler_environment(wire_crawl):
    warc, _ = wire_crawl
    data_dir = warc.parent.parent
    with open(warc, "rb") as fh:
        iterator = ArchiveIterator(fh)
        pointers = {}
        for record in iterator:
            if record.rec_type == "response":
                uri = record.rec_headers.get_header("WARC-Target-URI")
                pointers[uri] = {
                    "filename": f"warc/{warc.name}",
                    "offset": iterator.get_record_offset(),
                }
    for path, (_, html) in PAGES.items():
        record = read_record(data_dir, pointers["https://wire.example.gov.vn" + path])
        assert record_payload(record) == html
