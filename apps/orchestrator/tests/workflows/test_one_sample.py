"""One sample warehouse behind both the in-app sample (``data_source: "sample"``) and
``phi-agent demo-data``: the report of the demo's last day gives the same figures from the
demo's SQLite database (the report's queries run on it, as phi-agent runs them), from its
CSV exports (as the file tool reads them: every value text) and from the in-app sample."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from phi_orchestrator.workflows.daily_warehouse_report.analysis import analyse
from phi_orchestrator.workflows.daily_warehouse_report.contract import (
    db_payload,
    file_payload,
    tables_from_result,
)
from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables

DAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``phi-agent demo-data`` with its defaults (four weeks), ending on the report's day."""
    directory = tmp_path_factory.mktemp("demo")
    phi_agent = Path(sys.executable).with_name("phi-agent")
    subprocess.run(
        [str(phi_agent), "demo-data", str(directory), "--end-date", DAY.isoformat()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return directory


def _as_stored(metrics: Any) -> Any:
    # As the task's output holds them: JSON.
    return json.loads(json.dumps(metrics))


def _from_sqlite(path: Path) -> dict[str, Any]:
    con = sqlite3.connect(path)
    try:
        results = {}
        for q in db_payload(DAY)["queries"]:
            cursor = con.execute(q["sql"], q["params"])
            rows = [list(r) for r in cursor.fetchall()]
            results[q["name"]] = {
                "columns": [d[0] for d in cursor.description],
                "rows": rows,
                "row_count": len(rows),
                "truncated": False,
            }
    finally:
        con.close()
    return {"results": results}


def _from_exports(directory: Path) -> dict[str, Any]:
    results = {}
    for f in file_payload(DAY)["files"]:
        with (directory / f["path"]).open(encoding="utf-8", newline="") as handle:
            columns, *rows = list(csv.reader(handle))
        results[f["name"]] = {"columns": columns, "rows": rows, "truncated": False}
    return {"results": results}


def test_the_demo_database_gives_the_in_app_samples_figures(demo: Path) -> None:
    in_app = _as_stored(analyse(sample_tables(DAY), DAY))
    from_demo = _as_stored(
        analyse(tables_from_result(_from_sqlite(demo / "warehouse.sqlite")), DAY)
    )
    assert from_demo == in_app
    # The planted anomalies are there (not two empty reports that agree).
    assert in_app["idle_docks"]["idle_count"] >= 1 and in_app["late_orders"]["late"] > 20


def test_the_demo_exports_give_the_in_app_samples_figures(demo: Path) -> None:
    in_app = _as_stored(analyse(sample_tables(DAY), DAY))
    from_files = _as_stored(analyse(tables_from_result(_from_exports(demo / "exports")), DAY))
    assert from_files == in_app
