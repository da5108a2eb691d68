"""The daily report's charts, described from its figures (``results.spec.Chart``).

Figures are read defensively: a section or value that is missing or null (not available) is a
gap in the chart, never a 0, and the chart's note says what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phi_orchestrator.results.spec import Chart, ChartSeries


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _rows(section: Any) -> list[Mapping[str, Any]]:
    return [r for r in section if isinstance(r, Mapping)] if isinstance(section, list) else []


def _gaps_note(series: list[ChartSeries], what: str) -> str | None:
    missing = [s.name for s in series if any(v is None for v in s.values)]
    if not missing:
        return None
    return f"Gaps: {', '.join(missing)} not available for some {what}."


def throughput_by_hour(metrics: Mapping[str, Any]) -> Chart | None:
    hours = _rows(metrics.get("by_hour"))
    if not hours:
        return None
    series = [
        ChartSeries(name="Day", role="value", values=[_num(h.get("picks")) for h in hours]),
        ChartSeries(
            name="7-day mean",
            role="baseline",
            values=[_num(h.get("mean_7d_picks")) for h in hours],
        ),
    ]
    return Chart(
        id="throughput_by_hour",
        title="Picks by hour against the 7-day profile",
        kind="line",
        labels=[f"{int(h.get('hour', 0)):02d}:00" for h in hours],
        x_label="hour",
        unit="picks",
        series=series,
        note=_gaps_note(series, "hours"),
    )


def picks_by_zone(metrics: Mapping[str, Any]) -> Chart | None:
    zones = _rows(metrics.get("by_zone"))
    if not zones:
        return None
    series = [
        ChartSeries(name="Day", role="value", values=[_num(z.get("picks")) for z in zones]),
        ChartSeries(
            name="7-day mean",
            role="baseline",
            values=[_num(z.get("mean_7d_picks")) for z in zones],
        ),
    ]
    return Chart(
        id="picks_by_zone",
        title="Picks by zone against the 7-day mean",
        kind="bar",
        labels=[str(z.get("name") or z.get("zone_id")) for z in zones],
        x_label="zone",
        unit="picks",
        series=series,
        note=_gaps_note(series, "zones"),
    )


def pick_time_by_zone(metrics: Mapping[str, Any]) -> Chart | None:
    zones = _rows(metrics.get("by_zone"))
    if not zones:
        return None
    series = [
        ChartSeries(
            name="Median pick time",
            role="value",
            values=[_num(z.get("median_pick_seconds")) for z in zones],
        ),
        ChartSeries(
            name="7-day median",
            role="baseline",
            values=[_num(z.get("median_pick_seconds_7d")) for z in zones],
        ),
    ]
    return Chart(
        id="pick_time_by_zone",
        title="Median pick time by zone vs the 7 days before",
        kind="bar",
        labels=[str(z.get("name") or z.get("zone_id")) for z in zones],
        x_label="zone",
        unit="s",
        series=series,
        note=_gaps_note(series, "zones"),
    )


def _section(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def late_rate(metrics: Mapping[str, Any], trends: Mapping[str, Any]) -> Chart | None:
    days = _rows(trends.get("late_rate_by_day"))
    if not days:
        return None
    baseline = _num(_section(metrics, "late_orders").get("baseline_late_pct"))
    series = [
        ChartSeries(
            name="Late orders", role="value", values=[_num(d.get("late_pct")) for d in days]
        )
    ]
    notes = []
    if baseline is not None:
        series.append(
            ChartSeries(
                name="7 days before the day", role="baseline", values=[baseline] * len(days)
            )
        )
    else:
        notes.append("the 7 days before are not available")
    if any(v is None for v in series[0].values):
        notes.append("a gap is a day with no order due (or not read)")
    return Chart(
        id="late_rate_28d",
        title=f"Late-order rate, last {len(days)} days" if len(days) > 1 else "Late-order rate",
        kind="line",
        labels=[str(d.get("day", ""))[5:] for d in days],
        x_label="day",
        unit="%",
        series=series,
        note="; ".join(notes).capitalize() + "." if notes else None,
    )


def departures_by_dock(metrics: Mapping[str, Any]) -> Chart | None:
    docks = _rows(_section(metrics, "idle_docks").get("docks"))
    if not docks:
        return None
    series = [
        ChartSeries(name="Day", role="value", values=[_num(d.get("departures")) for d in docks]),
        ChartSeries(
            name="7-day mean",
            role="baseline",
            values=[_num(d.get("departures_mean_7d")) for d in docks],
        ),
    ]
    return Chart(
        id="departures_by_dock",
        title="Departures per dock against the 7-day mean",
        kind="bar",
        labels=[str(d.get("name") or d.get("dock_id")) for d in docks],
        x_label="dock",
        unit="departures",
        series=series,
        note=_gaps_note(series, "docks"),
    )


def build_charts(metrics: Mapping[str, Any], trends: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every chart the figures allow, as JSON-ready dicts for the task's output."""
    charts = [
        throughput_by_hour(metrics),
        picks_by_zone(metrics),
        pick_time_by_zone(metrics),
        late_rate(metrics, trends),
        departures_by_dock(metrics),
    ]
    return [c.model_dump(mode="json") for c in charts if c is not None]
