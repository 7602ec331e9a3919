"""``govarchive serve``: Datasette over an archive, read-only."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from archive.datasette_plugin import with_replay_url
from archive.metadata import datasette_metadata, datasette_settings


def run_datasette(
    db_path: Path, *, host: str = "127.0.0.1", port: int = 8001, replay_url: str | None = None
) -> None:
    """Serve ``db_path`` with Datasette until interrupted.

    ``replay_url`` (e.g. ``http://127.0.0.1:8080/coll/{timestamp}/{url}``, a local pywb) turns
    each row's WARC record id into a link to the replay of its capture.

    A finished archive is opened immutable: Datasette never writes to it and can cache what it
    knows of it. While a crawl is writing (its write-ahead log exists), an immutable open would
    ignore the log and show stale or missing rows, so then the file is opened read-only instead.
    """
    from datasette.cli import cli as datasette_cli

    being_written = db_path.with_name(db_path.name + "-wal").exists()
    open_as = ["--immutable", str(db_path)] if not being_written else [str(db_path)]

    with tempfile.TemporaryDirectory(prefix="govarchive-serve-") as tmp:
        metadata_path = Path(tmp) / "metadata.json"
        metadata = with_replay_url(datasette_metadata(), replay_url)
        metadata_path.write_text(json.dumps(metadata, ensure_ascii=False))
        datasette_cli.main(
            [
                "serve",
                *open_as,
                "--metadata",
                str(metadata_path),
                "--host",
                host,
                "--port",
                str(port),
                *(
                    arg
                    for name, value in datasette_settings().items()
                    for arg in ("--setting", name, _setting_value(value))
                ),
            ],
            prog_name="govarchive serve",
        )


def _setting_value(value: object) -> str:
    """A Datasette setting as its command line spells it (booleans are on/off)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
