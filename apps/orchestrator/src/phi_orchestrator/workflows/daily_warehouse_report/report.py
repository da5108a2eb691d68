"""The report's Markdown and one-line summary, from the figures (and the narrative)."""

from __future__ import annotations

from typing import Any

from phi_orchestrator.workflows.daily_warehouse_report.analysis import DailyAnalysis


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def summary_text(metrics: DailyAnalysis) -> str:
    t, late, idle = metrics["totals"], metrics["late_orders"], metrics["idle_docks"]
    outliers = len(metrics["outliers"]["pickers"])
    return (
        f"{metrics['day']}: {t['picks']} picks ({_pct(t['change_vs_previous_day_pct'])} vs "
        f"previous day, {_pct(t['change_vs_mean_7d_pct'])} vs 7-day mean); "
        f"{late['late']} of {late['orders_due']} orders late; "
        f"{idle['idle_count']} idle dock(s); {outliers} picker outlier(s)."
    )


def memory_text(metrics: DailyAnalysis) -> str:
    """What the agent remembers of the day: the summary's figures, each named in words (a
    later question asks for "the late rate on <day>", not for a line of the report)."""
    t, late, idle = metrics["totals"], metrics["late_orders"], metrics["idle_docks"]
    if late["late_pct"] is None:
        lateness = "no orders were due"
    else:
        lateness = (
            f"late rate {late['late_pct']}% ({late['late']} of {late['orders_due']} orders due "
            "were late)"
        )
    return (
        f"Daily warehouse report of {metrics['day']}: {t['picks']} picks "
        f"({_pct(t['change_vs_previous_day_pct'])} vs previous day, "
        f"{_pct(t['change_vs_mean_7d_pct'])} vs 7-day mean); {lateness}; "
        f"{idle['idle_count']} idle dock(s); {len(metrics['outliers']['pickers'])} picker "
        "outlier(s)."
    )


def report_markdown(
    metrics: DailyAnalysis,
    narrative: str,
    narrative_source: str,
    agent_name: str,
    docs: list[dict[str, Any]],
) -> str:
    t = metrics["totals"]
    lines = [
        f"# Daily warehouse report — {metrics['day']}",
        "",
        f"Agent: {agent_name}. Figures computed from the warehouse data; "
        f"narrative: {narrative_source}.",
        "",
        "## Summary",
        "",
        narrative.strip(),
        "",
        "## Throughput",
        "",
        *_table(
            ["", "picks", "units", "previous day", "7-day mean", "vs previous", "vs 7-day mean"],
            [
                [
                    "day",
                    t["picks"],
                    t["units"],
                    t["previous_day_picks"],
                    t["mean_7d_picks"],
                    _pct(t["change_vs_previous_day_pct"]),
                    _pct(t["change_vs_mean_7d_pct"]),
                ]
            ],
        ),
        "### By hour",
        "",
        *_table(
            ["hour", "picks", "previous day", "7-day mean", "vs 7-day mean"],
            [
                [
                    f"{h['hour']:02d}:00",
                    h["picks"],
                    h["previous_day_picks"],
                    h["mean_7d_picks"],
                    _pct(h["change_vs_mean_7d_pct"]),
                ]
                for h in metrics["by_hour"]
            ],
        ),
        "### By zone",
        "",
        *_table(
            [
                "zone",
                "picks",
                "units",
                "previous day",
                "7-day mean",
                "vs 7-day mean",
                "median pick s",
                "7-day median s",
            ],
            [
                [
                    z["name"],
                    z["picks"],
                    z["units"],
                    z["previous_day_picks"],
                    z["mean_7d_picks"],
                    _pct(z["change_vs_mean_7d_pct"]),
                    z["median_pick_seconds"],
                    z["median_pick_seconds_7d"],
                ]
                for z in metrics["by_zone"]
            ],
        ),
        "### By picker",
        "",
        *_table(
            [
                "picker",
                "picks",
                "picks/h",
                "median pick s",
                "active min",
                "previous day",
                "7-day mean",
            ],
            [
                [
                    p["name"],
                    p["picks"],
                    p["picks_per_hour"],
                    p["median_pick_seconds"],
                    p["active_minutes"],
                    p["previous_day_picks"],
                    p["mean_7d_picks"],
                ]
                for p in metrics["by_picker"]
                if p["picks"] or p["mean_7d_picks"]
            ],
        ),
    ]
    late = metrics["late_orders"]
    lines += [
        "## Late orders",
        "",
        f"{late['late']} of {late['orders_due']} orders due were late "
        f"({'n/a' if late['late_pct'] is None else str(late['late_pct']) + '%'}); "
        f"{late['not_shipped']} not shipped by the end of the day.",
        "",
        *_table(
            ["order", "customer", "due", "shipped", "minutes late"],
            [
                [
                    o["order_id"],
                    o["customer"],
                    o["due_at"],
                    o["shipped_at"] or "not shipped",
                    o["minutes_late"],
                ]
                for o in late["orders"]
            ],
        ),
        "## Docks",
        "",
        f"Operating window: {metrics['idle_docks']['window_start']} to "
        f"{metrics['idle_docks']['window_end']}.",
        "",
        *_table(
            ["dock", "loadings", "busy min", "utilisation", "longest idle min", "idle"],
            [
                [
                    d["name"],
                    d["loadings"],
                    d["busy_minutes"],
                    "n/a" if d["utilisation_pct"] is None else f"{d['utilisation_pct']}%",
                    d["longest_idle_minutes"],
                    "yes" if d["idle"] else "no",
                ]
                for d in metrics["idle_docks"]["docks"]
            ],
        ),
        *(
            [
                f"{without} shipment(s) of the day name no dock: counted for no dock.",
                "",
            ]
            if (without := metrics["idle_docks"]["shipments_without_dock"])
            else []
        ),
        "## Outliers",
        "",
        *_table(
            ["picker", "median pick s", "x zone median", "modified z", "direction"],
            [
                [
                    o["name"],
                    o["median_pick_seconds"],
                    o["relative_pick_time"],
                    o["modified_z"],
                    o["direction"],
                ]
                for o in metrics["outliers"]["pickers"]
            ],
        ),
        *_table(
            ["slow zone", "median pick s", "7-day median s", "ratio"],
            [
                [
                    z["name"],
                    z["median_pick_seconds"],
                    z["median_pick_seconds_7d"],
                    z["pick_time_ratio_vs_7d"],
                ]
                for z in metrics["outliers"]["slow_zones"]
            ],
        ),
    ]
    slow = metrics["outliers"]["slow_picks"]
    if slow["threshold_minutes"] is not None:
        lines += [
            f"Slow picks: {slow['count']} above {slow['threshold_minutes']} min "
            f"(median {slow['median_minutes']} min).",
            "",
        ]
    lines += ["## Rules", "", *[f"- {r}" for r in metrics["rules_text"]], ""]
    if docs:
        lines += ["## Documents consulted", ""]
        lines += [f"- {d['document_name']}: “{d['excerpt']}”" for d in docs]
        lines.append("")
    return "\n".join(lines)
