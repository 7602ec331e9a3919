"""``govarchive serve``: Datasette over an archive, read-only."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from archive.metadata import datasette_metadata


def run_datasette(db_path: Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve ``db_path`` with Datasette until interrupted.

    The database is opened immutable: Datasette never writes to it, and it is served from a
    read-only connection even while a crawl may later append to the same file.
    """
    from datasette.cli import cli as datasette_cli

    with tempfile.TemporaryDirectory(prefix="govarchive-serve-") as tmp:
        metadata_path = Path(tmp) / "metadata.json"
        metadata_path.write_text(json.dumps(datasette_metadata(), ensure_ascii=False))
        datasette_cli.main(
            [
                "serve",
                "--immutable", str(db_path),
                "--metadata", str(metadata_path),
                "--host", host,
                "--port", str(port),
            ],
            prog_name="govarchive serve",
        )
