"""The report's charts: 28 days of late-order rate, departures per dock, the chart
descriptions (a figure that is not available is a gap, never 0) and their PNG images."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from phi_agent_config.warehouse_sample import generate
from phi_orchestrator.results.chart_images import chart_png
from phi_orchestrator.results.spec import Chart, charts_of
from phi_orchestrator.workflows.daily_warehouse_report.analysis import analyse, read_times
from phi_orchestrator.workflows.daily_warehouse_report.charts import build_charts
from phi_orchestrator.workflows.daily_warehouse_report.headline import anomalies
from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables
from phi_orchestrator.workflows.daily_warehouse_report.trends import TREND_DAYS, trends

DAY = date(2026, 11, 24)


def _trends(tables: dict, days: int = TREND_DAYS) -> dict:
    timed = read_times({t: tables[t] for t in ("orders", "shipments")})
    docks = {d["dock_id"]: d["name"] for d in tables["docks"]}
    return dict(trends(timed["orders"], timed["shipments"], docks, DAY, days))


def test_the_late_rate_covers_28_days_and_its_last_day_is_the_reports() -> None:
    tables = sample_tables(DAY)
    metrics, found = analyse(tables, DAY), _trends(tables)
    series = found["late_rate_by_day"]
    assert [d["day"] for d in series] == [
        (DAY - timedelta(days=i)).isoformat() for i in range(TREND_DAYS - 1, -1, -1)
    ]
    assert all(d["orders_due"] > 0 for d in series), "the sample has orders due every day"
    last = series[-1]
    assert (last["orders_due"], last["late"], last["late_pct"]) == (
        metrics["late_orders"]["orders_due"],
        metrics["late_orders"]["late"],
        metrics["late_orders"]["late_pct"],
    )
    # The planted spike (about 35 %) against about 3 % on normal days.
    assert last["late_pct"] > 25
    assert found["late_pct_7d_before"] is not None and found["late_pct_7d_before"] < 6
    assert max(d["late_pct"] for d in series[:-1]) < 10


def test_each_day_of_the_trend_equals_a_direct_count() -> None:
    """Every day's rate against a plain computation over the generated warehouse."""
    sample = generate(DAY, weeks=4)
    first: dict[str, str] = {}
    for s in sample.rows("shipments"):
        if s["departed_at"] and (
            s["order_id"] not in first or s["departed_at"] < first[s["order_id"]]
        ):
            first[s["order_id"]] = s["departed_at"]
    series = _trends(sample_tables(DAY))["late_rate_by_day"]
    for entry in series:
        due = [
            o
            for o in sample.rows("orders")
            if o["due_at"][:10] == entry["day"] and o["status"] != "CANCELLED"
        ]
        late = [o for o in due if o["order_id"] not in first or first[o["order_id"]] > o["due_at"]]
        assert (entry["orders_due"], entry["late"]) == (len(due), len(late)), entry["day"]


def test_departures_per_dock_and_the_idle_dock() -> None:
    docks = {d["dock_id"]: d for d in _trends(sample_tables(DAY))["departures_by_dock"]}
    assert docks["D-4"]["departures"] == 0  # the planted idle dock
    assert docks["D-4"]["mean_7d_departures"] > 20
    assert all(d["departures"] > 20 for k, d in docks.items() if k != "D-4")


def test_the_file_tool_trend_is_the_day_alone_without_baselines() -> None:
    found = _trends(sample_tables(DAY), days=1)
    assert len(found["late_rate_by_day"]) == 1
    assert found["late_pct_7d_before"] is None
    assert all(d["mean_7d_departures"] is None for d in found["departures_by_dock"])
    charts = {c["id"]: c for c in build_charts(analyse(sample_tables(DAY), DAY), found)}
    assert [s["role"] for s in charts["late_rate_28d"]["series"]] == ["value"]
    baseline = charts["departures_by_dock"]["series"][1]
    assert baseline["values"] == [None] * len(baseline["values"])
    assert "not available" in charts["departures_by_dock"]["note"]


def test_every_chart_is_described_with_its_baseline() -> None:
    tables = sample_tables(DAY)
    charts = build_charts(analyse(tables, DAY), _trends(tables))
    assert [c["id"] for c in charts] == [
        "throughput_by_hour",
        "picks_by_zone",
        "pick_time_by_zone",
        "late_rate_28d",
        "departures_by_dock",
    ]
    for chart in charts:
        Chart.model_validate(chart)
        roles = [s["role"] for s in chart["series"]]
        assert roles[0] == "value" and "baseline" in roles, chart["id"]
        assert all(len(s["values"]) == len(chart["labels"]) for s in chart["series"])
    zone_time = charts[2]
    cold = zone_time["labels"].index("Cold chain")
    assert zone_time["series"][0]["values"][cold] > 1.5 * zone_time["series"][1]["values"][cold]


def test_a_figure_that_is_not_available_is_a_gap_never_zero() -> None:
    tables = sample_tables(DAY)
    metrics = copy.deepcopy(analyse(tables, DAY))
    found = _trends(tables)
    metrics["by_hour"][0]["mean_7d_picks"] = None  # type: ignore[typeddict-item]
    metrics["by_zone"][1]["median_pick_seconds_7d"] = None
    del metrics["by_zone"][2]["median_pick_seconds"]  # type: ignore[misc]
    found["late_rate_by_day"][3]["late_pct"] = None
    found["departures_by_dock"][0]["mean_7d_departures"] = None
    charts = {c["id"]: c for c in build_charts(metrics, found)}
    assert charts["throughput_by_hour"]["series"][1]["values"][0] is None
    assert charts["pick_time_by_zone"]["series"][1]["values"][1] is None
    assert charts["pick_time_by_zone"]["series"][0]["values"][2] is None
    assert charts["late_rate_28d"]["series"][0]["values"][3] is None
    assert charts["departures_by_dock"]["series"][1]["values"][0] is None
    for chart_id in ("throughput_by_hour", "pick_time_by_zone", "departures_by_dock"):
        assert "not available" in charts[chart_id]["note"], chart_id
    # The images draw with the gaps.
    for chart in charts_of({"charts": list(charts.values())}):
        assert chart_png(chart).startswith(b"\x89PNG\r\n\x1a\n")


def test_missing_sections_give_fewer_charts_not_an_error() -> None:
    assert build_charts({}, {}) == []
    assert build_charts({"by_hour": None, "by_zone": "x"}, {"late_rate_by_day": [None]}) == []
    assert charts_of({"charts": [{"id": "bad"}, 3]}) == []


def test_anomalies_lead_with_the_late_spike_and_name_the_planted_ones() -> None:
    tables = sample_tables(DAY)
    found = anomalies(analyse(tables, DAY), _trends(tables))
    assert found[0].startswith(f"{analyse(tables, DAY)['late_orders']['late']} of ")
    assert "the 7 days before" in found[0]
    text = "; ".join(found)
    for name in ("Dock 4", "Cold chain", "Ana Lindqvist"):
        assert name in text
    assert anomalies({}, None) == []
