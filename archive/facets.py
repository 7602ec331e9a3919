"""A facet by year: how many of the rows shown were published each year.

Datasette's own date facet counts days, far too many buckets for an archive spanning a decade.
Years come from the ISO 8601 text as stored (the portal's local time), so an article published
on 1 January 00:30 in Hanoi counts in the year Hanoi saw. Selecting a year filters with
``published_at__startswith=YYYY``.

Registered by archive.datasette_plugin (``register_facet_classes``); configured per table in
archive.metadata as ``{"year": "published_at"}`` or per request as ``?_facet_year=published_at``.
"""

from __future__ import annotations

from typing import Any

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

__all__ = ["YearFacet"]


class YearFacet(Facet):
    type = "year"

    async def suggest(self) -> list[dict[str, Any]]:
        return []  # configured where it makes sense, never guessed

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results, timed_out = [], []
        args = dict(self.get_querystring_pairs())
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            sql = (
                f"select substr({escape_sqlite(column)}, 1, 4) as value, count(*) as count"
                f" from ({self.sql}) where {escape_sqlite(column)} glob '[0-9][0-9][0-9][0-9]*'"
                " group by value order by value desc"
            )
            try:
                rows = await self.ds.execute(
                    self.database, sql, self.params, truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )  # fmt: skip
            except QueryInterrupted:
                timed_out.append(column)
                continue
            key = f"{column}__startswith"
            values = []
            for row in rows.rows:
                selected = args.get(key) == row["value"]
                path = (
                    path_with_removed_args(self.request, {key: row["value"]})
                    if selected
                    else path_with_added_args(self.request, {key: row["value"]})
                )
                values.append(
                    {
                        "value": row["value"],
                        "label": row["value"],
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(self.request, path),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": path_with_removed_args(self.request, {"_facet_year": column}),
                    "truncated": False,
                }
            )
        return results, timed_out
