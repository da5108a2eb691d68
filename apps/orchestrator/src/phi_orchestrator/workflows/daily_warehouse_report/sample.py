"""The built-in sample warehouse (``phi_agent_config.warehouse_sample``), for runs with
``data_source: "sample"``: the same rows the local agent's demo data holds, cut to what the
report of the day reads (picks of the day and the 7 days before it, orders due and departures
of the last 28 days). Four weeks, as ``phi-agent demo-data`` writes by default, so the two give
the same figures for the same day."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from phi_agent_config.warehouse_sample import generate
from phi_orchestrator.workflows.daily_warehouse_report.analysis import HISTORY_DAYS
from phi_orchestrator.workflows.daily_warehouse_report.trends import TREND_DAYS

TABLES = ("zones", "pickers", "docks", "picks", "orders", "shipments")


@lru_cache(maxsize=4)
def _sample(day: date) -> Any:
    # Four weeks ending on the day: the 28 days of the trends (demo-data's default too).
    return generate(day, weeks=TREND_DAYS // 7)


@lru_cache(maxsize=4)
def sample_tables(day: date) -> dict[str, list[dict[str, Any]]]:
    """The sample's rows for the report of ``day`` (its anomalies are planted on ``day``).
    Cached: callers must not change them."""
    sample = _sample(day)
    # The exact bounds (the contract's queries read a day more on each side, for offsets).
    p = {
        "history_start": (day - timedelta(days=HISTORY_DAYS)).isoformat(),
        "trend_start": (day - timedelta(days=TREND_DAYS - 1)).isoformat(),
        "day_start": day.isoformat(),
        "day_end": (day + timedelta(days=1)).isoformat(),
    }
    tables = {t: list(sample.rows(t)) for t in TABLES}
    tables["picks"] = [
        r
        for r in tables["picks"]
        if r["completed_at"] and p["history_start"] <= r["completed_at"] < p["day_end"]
    ]
    due_in_trend = {
        r["order_id"]
        for r in tables["orders"]
        if p["trend_start"] <= (r["due_at"] or "") < p["day_end"]
    }
    tables["orders"] = [
        r
        for r in tables["orders"]
        if r["order_id"] in due_in_trend or p["day_start"] <= (r["created_at"] or "") < p["day_end"]
    ]
    tables["shipments"] = [
        r
        for r in tables["shipments"]
        if r["order_id"] in due_in_trend
        or p["day_start"] <= (r["loading_started_at"] or "") < p["day_end"]
        or p["trend_start"] <= (r["departed_at"] or "") < p["day_end"]
    ]
    return tables
