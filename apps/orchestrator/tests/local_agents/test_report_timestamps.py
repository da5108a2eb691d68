"""The daily report on the timestamp forms warehouses really store (issue 18, item 4), through
the whole workflow: the task's own queries run on a real SQLite database holding the sample
warehouse written in the form under test, and the scripted local agent hands back what they
return, as phi-agent would. Every accepted form gives the figures of the sample itself; a
value the report cannot read fails the task naming where it is."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from orch_factories import ScriptedLocalAgent, create_key, make_tenant, run_task, wait_task

from phi_orchestrator.workflows.daily_warehouse_report.analysis import analyse
from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables

DAY = "2026-11-24"
TIME_COLUMNS = {
    "picks": ("started_at", "completed_at"),
    "orders": ("created_at", "due_at"),
    "shipments": ("loading_started_at", "departed_at"),
}


def _sqlite_result(
    payload: dict[str, Any], write: Callable[[datetime], str], spoil: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load the sample (timestamps written by ``write``) into SQLite, run the call's queries."""
    db = sqlite3.connect(":memory:")
    for table, rows in sample_tables(date.fromisoformat(DAY)).items():
        columns = list(rows[0])
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        for row in rows:
            values = dict(row)
            for column in TIME_COLUMNS.get(table, ()):
                if values[column]:
                    values[column] = write(datetime.fromisoformat(values[column]))
            db.execute(
                f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})",
                [values[c] for c in columns],
            )
    if spoil:
        db.execute(f"UPDATE {spoil['table']} SET {spoil['column']} = ?", (spoil["value"],))
    results = {}
    for q in payload["queries"]:
        cur = db.execute(q["sql"], q["params"])
        rows = [list(r) for r in cur.fetchall()]
        results[q["name"]] = {
            "columns": [d[0] for d in cur.description],
            "rows": rows,
            "row_count": len(rows),
            "truncated": False,
        }
    return {"results": results}


def _run(
    api: httpx.Client,
    orchestrator: Any,
    database_url: str,
    write: Callable[[datetime], str],
    time_zone: str = "UTC",
    spoil: dict[str, Any] | None = None,
) -> dict[str, Any]:
    tenant = make_tenant(database_url, time_zone=time_zone)
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    try:
        assert agent.heartbeat().status_code == 200
        task_id = run_task(
            api, tenant, "DAILY_WAREHOUSE_REPORT", {"data_source": "local_agent", "day": DAY}
        )
        call = agent.claim()
        result = _sqlite_result(call["payload"], write, spoil)
        assert agent.callback(call, result).json() == {"status": "accepted"}
        return wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})
    finally:
        agent.close()


def _sample_metrics() -> Any:
    return json.loads(
        json.dumps(analyse(sample_tables(date.fromisoformat(DAY)), date(2026, 11, 24)))
    )


def _berlin_in_utc(local: datetime) -> str:
    utc = local.replace(tzinfo=ZoneInfo("Europe/Berlin")).astimezone(ZoneInfo("UTC"))
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


FORMS: dict[str, tuple[Callable[[datetime], str], str]] = {
    # SQLite's own form and many a WMS's: a space between date and time.
    "space": (lambda t: t.strftime("%Y-%m-%d %H:%M:%S"), "UTC"),
    "space_fraction": (lambda t: t.strftime("%Y-%m-%d %H:%M:%S.000"), "UTC"),
    "t_fraction_offset": (lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000000+01:00"), "Europe/Berlin"),
    # Stored in UTC, read in the org's time zone: the day runs from Berlin's midnight.
    "utc_z": (_berlin_in_utc, "Europe/Berlin"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_iso_form_gives_the_sample_figures(
    api: httpx.Client, orchestrator: Any, database_url: str, worker: Any, form: str
) -> None:
    write, zone = FORMS[form]
    task = _run(api, orchestrator, database_url, write, zone)
    assert task["status"] == "SUCCESS", task["error"]
    assert task["output"]["metrics"] == _sample_metrics()


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("orders", "due_at", "24/11/2026 10:00"),
        ("picks", "completed_at", "2026-11-24 noon"),
        ("shipments", "departed_at", "20261124T101500"),
        # Sorts after every ISO bound: the day's query reads no pick at all, and only the
        # column's highest value (asked for alongside) shows the form.
        ("picks", "completed_at", "24/11/2026 10:00"),
    ],
)
def test_an_unreadable_timestamp_fails_the_task_naming_it(
    api: httpx.Client,
    orchestrator: Any,
    database_url: str,
    worker: Any,
    table: str,
    column: str,
    value: str,
) -> None:
    spoil = {"table": table, "column": column, "value": value}
    task = _run(api, orchestrator, database_url, lambda t: t.isoformat(sep=" "), spoil=spoil)
    assert task["status"] == "FAILED", task["output"] and task["output"]["summary_text"]
    assert f"{table}.{column}" in task["error"] and value in task["error"]


@pytest.mark.parametrize("odd", ["\x00", "\ud800"], ids=["nul_only", "nul_and_surrogate"])
def test_unencodable_characters_are_replaced_and_counted_never_refused(
    api: httpx.Client, orchestrator: Any, database_url: str, worker: Any, odd: str
) -> None:
    # A NUL (PostgreSQL stores none) and a lone surrogate (no UTF-8 for it) in the customer's
    # data: the result is delivered, the characters replaced by U+FFFD and counted.
    tenant = make_tenant(database_url)
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    try:
        assert agent.heartbeat().status_code == 200
        task_id = run_task(
            api, tenant, "DAILY_WAREHOUSE_REPORT", {"data_source": "local_agent", "day": DAY}
        )
        call = agent.claim()
        result = _sqlite_result(call["payload"], lambda t: t.isoformat())
        zones = result["results"]["zones"]
        zones["rows"][0][zones["columns"].index("name")] = "Ambient\x00 A"
        orders = result["results"]["orders"]
        orders["rows"][0][orders["columns"].index("customer")] = f"ACME {odd}"
        body = {
            "tool_call_id": call["tool_call_id"],
            "task_id": call["task_id"],
            "attempt": call["attempt"],
            "tool": call["tool"],
            "result": result,
            "error": None,
        }
        # ensure_ascii: the surrogate travels as the escape "\ud800", as Python's json sends it.
        r = agent.http.post(
            "/tool-callbacks",
            content=json.dumps(body, ensure_ascii=True),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "accepted"}
        task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})
    finally:
        agent.close()
    assert task["status"] == "SUCCESS", task["error"]
    assert "Ambient\ufffd A" in task["output"]["full_report_md"]
    completed = [e for e in task["events"] if e["event_type"] == "tool_call_completed"]
    assert completed[0]["payload"]["replaced_characters"] == 2
