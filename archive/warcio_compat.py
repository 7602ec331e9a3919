"""Let warcio decode ``Content-Encoding: br`` with Google's ``brotli`` package.

warcio's brotli support was written for ``brotlipy`` (it sets ``unused_data`` on the
decompressor, webrecorder/warcio#73), but Scrapy requires Google's ``brotli``, whose C
decompressor takes no new attributes: every read of a brotli-encoded record then raises.
Registering a small adapter keeps warcio's own reader (and so our verify, reextract and
``read_record``) working in the crawler's environment without installing brotlipy, which would
shadow ``brotli`` and break Scrapy's decoding.
"""

from __future__ import annotations

from warcio.bufferedreaders import BufferedReader


class BrotliDecompressor:
    """The zlib-style interface warcio's BufferedReader expects, over ``brotli.Decompressor``."""

    def __init__(self) -> None:
        import brotli

        self._decompressor = brotli.Decompressor()
        self.unused_data: bytes | None = None

    def decompress(self, data: bytes) -> bytes:
        if hasattr(self._decompressor, "process"):
            return self._decompressor.process(data)
        return self._decompressor.decompress(data)


def install() -> None:
    try:
        import brotli

        brotli.Decompressor().unused_data = None  # brotlipy: warcio's own code works
    except ImportError:
        return
    except AttributeError:
        BufferedReader.DECOMPRESSORS["br"] = BrotliDecompressor
