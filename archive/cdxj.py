"""CDXJ indexes: one per closed WARC file, in the form pywb and ReplayWeb.page read.

A replay tool looks a URL up in a sorted index instead of scanning WARC files. Each line is

    SURT-key 14-digit-timestamp {"url", "mime", "status", "digest", "length", "offset", "filename"}

sorted as plain text, so indexes merge with a line-by-line merge (see :func:`merge_cdxj`).
``revisit`` records are indexed too, with mime ``warc/revisit``, so a replay tool can follow them
to the record that holds the payload.

Layout: ``DATA/indexes/NAME.cdxj`` for ``DATA/warc/NAME.warc.gz``, written when the WARC file is
closed (``WarcWriter.close()``). ``filename`` in each line is the WARC's bare file name, which is
how a pywb collection (``archive/`` + ``indexes/``) and a WACZ (``archive/``) resolve it. The
index is derived data: when it is missing, :func:`write_cdxj` rebuilds it from the WARC alone.

Lines are produced by the ``cdxj-indexer`` package (Webrecorder's indexer, the one pywb's and
py-wacz's indexing is built on), so the keys and fields are exactly what those tools expect.
"""

from __future__ import annotations

import heapq
import io
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

__all__ = ["INDEX_DIR", "cdxj_path", "index_lines", "merge_cdxj", "write_cdxj"]

#: Directory, beside ``warc/`` in a data directory, that holds the per-WARC indexes.
INDEX_DIR = "indexes"

_WARC_SUFFIXES = (".warc.gz", ".warc")


def _warc_stem(warc_path: Path) -> str:
    name = warc_path.name
    for suffix in _WARC_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    raise ValueError(f"{warc_path}: not a closed WARC file (expected a .warc.gz or .warc name)")


def cdxj_path(warc_path: Path | str, index_dir: Path | str | None = None) -> Path:
    """Where the index of ``warc_path`` lives: ``INDEX_DIR/NAME.cdxj`` beside the WARC directory.

    ``index_dir`` defaults to ``indexes/`` next to the WARC's directory (``DATA/warc/x.warc.gz``
    is indexed in ``DATA/indexes/x.cdxj``).
    """
    warc_path = Path(warc_path)
    directory = Path(index_dir) if index_dir is not None else warc_path.parent.parent / INDEX_DIR
    return directory / f"{_warc_stem(warc_path)}.cdxj"


def _index_into(warc_path: Path | str, out: TextIO) -> None:
    from cdxj_indexer.main import CDXJIndexer

    CDXJIndexer(out, [str(warc_path)], sort=True).process_all()


def index_lines(warc_path: Path | str) -> list[str]:
    """The sorted CDXJ lines (with their newlines) of one WARC file, computed from its records."""
    out = io.StringIO()
    _index_into(warc_path, out)
    return out.getvalue().splitlines(keepends=True)


def write_cdxj(warc_path: Path | str, index_dir: Path | str | None = None) -> Path:
    """Index one closed WARC file and return the index's path (see :func:`cdxj_path`).

    Written to a temporary name and renamed, so a reader never sees a partial index, and
    rewritten whole when called again (the index only ever reflects the file as it is now).
    """
    warc_path = Path(warc_path)
    target = cdxj_path(warc_path, index_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as out:
            _index_into(warc_path, out)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def merge_cdxj(sources: Iterable[Path | str | Iterable[str]]) -> Iterator[str]:
    """Merge sorted CDXJ indexes (paths or iterables of lines) into one sorted stream of lines.

    Inputs are each sorted already (as :func:`write_cdxj` writes them), so this streams in
    constant memory however large the archive; duplicate lines are dropped.
    """
    with ExitStack() as stack:
        streams: list[Iterable[str]] = []
        for source in sources:
            if isinstance(source, str | Path):
                streams.append(stack.enter_context(open(source, encoding="utf-8")))
            else:
                streams.append(source)
        previous = None
        for line in heapq.merge(*streams):
            if not line.endswith("\n"):
                line += "\n"
            if line != previous and line.strip():
                yield line
            previous = line
