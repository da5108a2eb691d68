"""The report's charts: 28 days of late-order rate, the chart descriptions (a figure that is
not available is a gap, never 0), their PNG images and the anomalies a delivery leads with."""

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
    return dict(trends(timed["orders"], timed["shipments"], DAY, days))


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
    assert max(d["late_pct"] for d in series[:-1]) < 10
    # The 7 days before the day, taken together, are the analysis' baseline.
    week = series[-8:-1]
    assert (
        round(sum(d["late"] for d in week) / sum(d["orders_due"] for d in week) * 100, 1)
        == (metrics["late_orders"]["baseline_late_pct"])
    )


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


def test_departures_per_dock_show_the_idle_dock() -> None:
    tables = sample_tables(DAY)
    chart = {c["id"]: c for c in build_charts(analyse(tables, DAY), _trends(tables))}[
        "departures_by_dock"
    ]
    dock4 = chart["labels"].index("Dock 4")
    day, mean = chart["series"][0]["values"], chart["series"][1]["values"]
    assert day[dock4] == 0 and mean[dock4] > 20  # the planted idle dock
    assert all(v > 20 for i, v in enumerate(day) if i != dock4)


def test_a_trend_of_fewer_days_is_drawn_as_read() -> None:
    """The file tool reads 8 days of exports: the chart has 8 days, not 28 with 20 gaps."""
    tables = sample_tables(DAY)
    found = _trends(tables, days=8)
    assert len(found["late_rate_by_day"]) == 8
    chart = {c["id"]: c for c in build_charts(analyse(tables, DAY), found)}["late_rate_28d"]
    assert chart["title"] == "Late-order rate, last 8 days" and len(chart["labels"]) == 8


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
    metrics["idle_docks"]["docks"][0]["departures_mean_7d"] = None
    metrics["late_orders"]["baseline_late_pct"] = None
    charts = {c["id"]: c for c in build_charts(metrics, found)}
    assert charts["throughput_by_hour"]["series"][1]["values"][0] is None
    assert charts["pick_time_by_zone"]["series"][1]["values"][1] is None
    assert charts["pick_time_by_zone"]["series"][0]["values"][2] is None
    assert charts["late_rate_28d"]["series"][0]["values"][3] is None
    assert [s["role"] for s in charts["late_rate_28d"]["series"]] == ["value"]
    assert "not available" in charts["late_rate_28d"]["note"]
    assert charts["departures_by_dock"]["series"][1]["values"][0] is None
    for chart_id in ("throughput_by_hour", "pick_time_by_zone", "departures_by_dock"):
        assert "not available" in charts[chart_id]["note"], chart_id
    # The images draw with the gaps.
    for chart in charts_of({"charts": list(charts.values())}):
        assert chart_png(chart).startswith(b"\x89PNG\r\n\x1a\n")


def test_missing_sections_give_fewer_charts_not_an_error() -> None:
    assert build_charts({}, {}) == []
    assert (
        build_charts(
            {"by_hour": None, "by_zone": "x", "idle_docks": 3}, {"late_rate_by_day": [None]}
        )
        == []
    )
    assert charts_of({"charts": [{"id": "bad"}, 3]}) == []


def test_anomalies_lead_with_the_late_spike_and_name_the_planted_ones() -> None:
    tables = sample_tables(DAY)
    metrics = analyse(tables, DAY)
    assert metrics["late_orders"]["spike"] is True
    found = anomalies(metrics)
    assert found[0].startswith(f"{metrics['late_orders']['late']} of ")
    assert "the 7 days before" in found[0]
    text = "; ".join(found)
    for name in ("Dock 4", "Cold chain", "Ana Lindqvist"):
        assert name in text
    assert anomalies({}) == []
    calm = copy.deepcopy(metrics)
    calm["late_orders"]["spike"] = False
    assert not any("late" in a for a in anomalies(calm))
