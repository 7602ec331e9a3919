"""Values on their way into the archive: checked against the schema's fields and types, and
normalised so that what SQLite hands back compares equal to what a crawl hands in.

:class:`ArchiveError` is the error a caller can fix; the helpers here are shared by the modules
that write rows (archive.articles, archive.crawls, archive.sections).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any


class ArchiveError(Exception):
    """A problem the user can fix (wrong file, wrong field); the message says which."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _text(value: Any, field: str) -> str | None:
    # Normalise on the way in so that a re-crawl compares equal to what SQLite hands back
    # (an int article_id would otherwise come back as '123' and look "updated" every time).
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ArchiveError(f"field {field!r}: expected text, got {type(value).__name__} {value!r}")


def _integer(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArchiveError(f"field {field!r}: expected an integer, got {value!r}")
    return value


def _coerce(row: Mapping[str, Any], columns: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {
        name: (_integer if sql_type == "INTEGER" else _text)(row.get(name), name)
        for name, sql_type in columns
    }


def _check_fields(row: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = set(row) - set(allowed)
    if unknown:
        raise ArchiveError(
            f"{what}: unknown field(s) {sorted(unknown)}; known fields are {sorted(allowed)}"
        )


def _json_list(values: Iterable[Any]) -> str:
    # Passing a list as one JSON parameter sidesteps SQLite's 999-variable limit.
    return json.dumps(list(values), ensure_ascii=False)


def _dumps(value: Any) -> str:
    # default=str: crawler settings hold classes and paths that JSON cannot encode natively.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
