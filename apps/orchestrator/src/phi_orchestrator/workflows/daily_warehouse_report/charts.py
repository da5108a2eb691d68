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


def _against_baseline(
    rows: list[Mapping[str, Any]],
    *,
    value: tuple[str, str],
    baseline: tuple[str, str],
    labels: list[str],
    what: str,
    **chart: Any,
) -> Chart | None:
    """One figure per row beside its baseline: ``value`` and ``baseline`` are each a
    series' name and the row's key it is read from; ``what`` names the rows in the note."""
    if not rows:
        return None

    def read(key: str) -> list[float | None]:
        return [_num(row.get(key)) for row in rows]

    series = [
        ChartSeries(name=value[0], role="value", values=read(value[1])),
        ChartSeries(name=baseline[0], role="baseline", values=read(baseline[1])),
    ]
    return Chart(labels=labels, series=series, note=_gaps_note(series, what), **chart)


def _names(rows: list[Mapping[str, Any]], id_key: str) -> list[str]:
    return [str(row.get("name") or row.get(id_key)) for row in rows]


def throughput_by_hour(metrics: Mapping[str, Any]) -> Chart | None:
    hours = _rows(metrics.get("by_hour"))
    return _against_baseline(
        hours,
        value=("Day", "picks"),
        baseline=("7-day mean", "mean_7d_picks"),
        labels=[f"{int(h.get('hour', 0)):02d}:00" for h in hours],
        what="hours",
        id="throughput_by_hour",
        title="Picks by hour against the 7-day profile",
        kind="line",
        x_label="hour",
        unit="picks",
    )


def picks_by_zone(metrics: Mapping[str, Any]) -> Chart | None:
    zones = _rows(metrics.get("by_zone"))
    return _against_baseline(
        zones,
        value=("Day", "picks"),
        baseline=("7-day mean", "mean_7d_picks"),
        labels=_names(zones, "zone_id"),
        what="zones",
        id="picks_by_zone",
        title="Picks by zone against the 7-day mean",
        kind="bar",
        x_label="zone",
        unit="picks",
    )


def pick_time_by_zone(metrics: Mapping[str, Any]) -> Chart | None:
    zones = _rows(metrics.get("by_zone"))
    return _against_baseline(
        zones,
        value=("Median pick time", "median_pick_seconds"),
        baseline=("7-day median", "median_pick_seconds_7d"),
        labels=_names(zones, "zone_id"),
        what="zones",
        id="pick_time_by_zone",
        title="Median pick time by zone vs the 7 days before",
        kind="bar",
        x_label="zone",
        unit="s",
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
    return _against_baseline(
        docks,
        value=("Day", "departures"),
        baseline=("7-day mean", "departures_mean_7d"),
        labels=_names(docks, "dock_id"),
        what="docks",
        id="departures_by_dock",
        title="Departures per dock against the 7-day mean",
        kind="bar",
        x_label="dock",
        unit="departures",
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
