"""The built-in sample warehouse (``phi_agent_config.warehouse_sample``), for runs with
``data_source: "sample"``.

It is what ``phi-agent demo-data`` writes, read the way a local agent reads it: the generated
rows go into an in-memory SQLite database built like the demo's ``warehouse.sqlite``, and the
report's own queries (:func:`contract.db_payload`) choose the rows. So the in-app sample and a
report over the demo data cannot differ in the rows, their cut or their order.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from functools import lru_cache
from typing import Any

from phi_agent_config.warehouse_sample import fill_sqlite, generate
from phi_orchestrator.workflows.daily_warehouse_report.contract import (
    db_payload,
    tables_from_result,
)
from phi_orchestrator.workflows.daily_warehouse_report.trends import TREND_DAYS


def sample_result(day: date) -> dict[str, Any]:
    """The ``db`` tool result a local agent would send for the report of ``day`` over the
    demo database whose last day is ``day`` (its anomalies are planted on it)."""
    # Four weeks ending on the day: the 28 days of the trends (demo-data's default too).
    sample = generate(day, weeks=TREND_DAYS // 7)
    con = sqlite3.connect(":memory:")
    try:
        fill_sqlite(sample, con)
        results = {}
        for query in db_payload(day)["queries"]:
            cursor = con.execute(query["sql"], query["params"])
            rows = [list(row) for row in cursor.fetchall()]
            results[query["name"]] = {
                "columns": [d[0] for d in cursor.description],
                "rows": rows,
                "row_count": len(rows),
                "truncated": False,
            }
    finally:
        con.close()
    return {"results": results}


@lru_cache(maxsize=4)
def sample_tables(day: date) -> dict[str, list[dict[str, Any]]]:
    """The sample's rows for the report of ``day``. Cached: callers must not change them."""
    return tables_from_result(sample_result(day))
