"""The report's Markdown and one-line summary, from the figures (and the narrative)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from phi_orchestrator.workflows.daily_warehouse_report.analysis import DailyAnalysis

# How the report names the figures that may be not available (the metrics' keys).
FIGURE_LABELS = {
    "units": "units",
    "active_pickers": "active pickers",
    "median_pick_seconds": "median pick time",
    "median_pick_seconds_7d": "7-day median pick time",
    "pick_time_ratio_vs_7d": "pick time against the 7 days before",
    "slow": "slow-zone rating",
    "active_minutes": "active minutes",
    "picks_per_hour": "picks per hour",
    "relative_pick_time": "pick time relative to the zone",
    "orders_due": "orders due",
    "late": "late orders",
    "not_shipped": "orders not shipped",
    "late_pct": "late-order rate",
    "orders": "list of late orders",
    "busy_minutes": "busy minutes",
    "utilisation_pct": "utilisation",
    "longest_idle_minutes": "longest idle gap",
    "idle": "idle by the gap rule",
    "pickers": "picker outliers",
    "slow_zones": "slow zones",
    "threshold_minutes": "slow-pick threshold",
    "count": "slow picks",
    "mean_7d_picks": "7-day mean",
    "change_vs_mean_7d_pct": "change against the 7-day mean",
    "baseline_orders_due": "orders due in the 7 days before",
    "baseline_late": "late orders in the 7 days before",
    "baseline_late_pct": "late-order rate of the 7 days before",
    "spike": "spike rating",
    "departures": "departures",
    "departures_mean_7d": "7-day mean departures",
    "departures_vs_mean_7d_pct": "departures against the 7-day mean",
    "relative_pick_time_7d": "relative pick time of the 7 days before",
    "share_7d_pct": "share of slow picks in the 7 days before",
}


def late_rate_text(late: Mapping[str, Any]) -> str:
    """The day's late-order rate with its baseline: '38.1% against 3.2% over the 7 days
    before: a spike' (or why the baseline is not available)."""
    rate = "n/a" if late["late_pct"] is None else f"{late['late_pct']}%"
    if late["baseline_late_pct"] is None:
        return f"{rate}; the 7 days before: {_na(late, 'baseline_late_pct')}"
    spike = ": a spike" if late["spike"] else ""
    return f"{rate} against {late['baseline_late_pct']}% over the 7 days before{spike}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _na(section: Mapping[str, Any], key: str) -> str:
    """``not available (reason)`` for a figure of ``section`` the data cannot give."""
    reason = section.get("not_available", {}).get(key)
    return f"not available ({reason['text']})" if reason else "not available"


def _reason_groups(
    rows: Iterable[tuple[str | None, Mapping[str, Any]]],
) -> dict[str, tuple[dict[str, None], dict[str, None]]]:
    """By reason text: the figures it leaves not available, and the rows (by name) where."""
    groups: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for name, row in rows:
        for key, reason in row.get("not_available", {}).items():
            figures, names = groups.setdefault(reason["text"], ({}, {}))
            figures[FIGURE_LABELS.get(key, key)] = None
            if name is not None:
                names[name] = None
    return groups


def _reasons(rows: Iterable[tuple[str | None, Mapping[str, Any]]], noun: str = "") -> list[str]:
    """The lines under a table: per reason, the figures it leaves not available, and where."""
    rows = list(rows)
    lines = []
    for text, (figures, names) in _reason_groups(rows).items():
        where = ""
        if names:
            every = len(names) == len(rows) and noun
            where = f" of every {noun}" if every else f" of {', '.join(names)}"
        # A list: consecutive lines would run together as one paragraph in Markdown.
        lines.append(f"- Not available ({text}): {', '.join(figures)}{where}.")
    return [*lines, ""] if lines else []


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join("n/a" if v is None else str(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def _docks_and_outliers(metrics: DailyAnalysis) -> tuple[str, str]:
    idle, outliers = metrics["idle_docks"], metrics["outliers"]
    idle_text = f"{idle['idle_count']} idle dock(s)"
    if idle["idle_unknown"]:
        idle_text += f" ({idle['idle_unknown']} not determinable)"
    outlier_text = (
        f"picker outliers {_na(outliers, 'pickers')}"
        if outliers["pickers"] is None
        else f"{len(outliers['pickers'])} picker outlier(s)"
    )
    return idle_text, outlier_text


def summary_text(metrics: DailyAnalysis) -> str:
    t, late = metrics["totals"], metrics["late_orders"]
    late_text = (
        f"late orders {_na(late, 'late')}"
        if late["late"] is None
        else f"{late['late']} of {late['orders_due']} orders late ({late_rate_text(late)})"
    )
    idle_text, outlier_text = _docks_and_outliers(metrics)
    return (
        f"{metrics['day']}: {t['picks']} picks ({_pct(t['change_vs_previous_day_pct'])} vs "
        f"previous day, {_pct(t['change_vs_mean_7d_pct'])} vs 7-day mean); "
        f"{late_text}; {idle_text}; {outlier_text}."
    )


def memory_text(metrics: DailyAnalysis) -> str:
    """What the agent remembers of the day: the summary's figures, each named in words (a
    later question asks for "the late rate on <day>", not for a line of the report), and
    "not available" with the reason where the data could not give one."""
    t, late = metrics["totals"], metrics["late_orders"]
    if late["late"] is None:
        lateness = f"late orders {_na(late, 'late')}"
    elif late["late_pct"] is None:
        lateness = "no orders were due"
    else:
        lateness = (
            f"late rate {late_rate_text(late)} ({late['late']} of {late['orders_due']} orders "
            "due were late)"
        )
    idle_text, outlier_text = _docks_and_outliers(metrics)
    return (
        f"Daily warehouse report of {metrics['day']}: {t['picks']} picks "
        f"({_pct(t['change_vs_previous_day_pct'])} vs previous day, "
        f"{_pct(t['change_vs_mean_7d_pct'])} vs 7-day mean); {lateness}; {idle_text}; "
        f"{outlier_text}."
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
        *_reasons([(None, t)]),
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
        *_reasons(((z["name"], z) for z in metrics["by_zone"]), "zone"),
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
        *_reasons(
            ((p["name"], p) for p in metrics["by_picker"] if p["picks"] or p["mean_7d_picks"]),
            "picker",
        ),
    ]
    late = metrics["late_orders"]
    lines += ["## Late orders", ""]
    if late["orders_due"] is None:
        lines += [f"Orders due and late orders: {_na(late, 'orders_due')}.", ""]
    elif late["late"] is None:
        lines += [
            f"{late['orders_due']} orders were due; which of them were late is "
            f"{_na(late, 'late')}.",
            "",
        ]
    else:
        lines += [
            f"{late['late']} of {late['orders_due']} orders due were late "
            f"({late_rate_text(late)}); "
            f"{late['not_shipped']} not shipped by the end of the day.",
            "",
        ]
        if late["baseline_late_pct"] is not None:
            lines += [
                f"The 7 days before: {late['baseline_late']} of {late['baseline_orders_due']} "
                "orders due were late.",
                "",
            ]
    lines += [
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
                for o in late["orders"] or []
            ],
        ),
        "## Docks",
        "",
        f"Operating window: {metrics['idle_docks']['window_start']} to "
        f"{metrics['idle_docks']['window_end']}.",
        "",
        *_table(
            [
                "dock",
                "loadings",
                "busy min",
                "utilisation",
                "longest idle min",
                "idle",
                "departures",
                "7-day mean departures",
            ],
            [
                [
                    d["name"],
                    d["loadings"]
                    if not d["loadings_without_start"]
                    else f"{d['loadings']} ({d['loadings_without_start']} without start)",
                    d["busy_minutes"],
                    "n/a" if d["utilisation_pct"] is None else f"{d['utilisation_pct']}%",
                    d["longest_idle_minutes"],
                    "n/a" if d["idle"] is None else "yes" if d["idle"] else "no",
                    d["departures"],
                    d["departures_mean_7d"],
                ]
                for d in metrics["idle_docks"]["docks"]
            ],
        ),
        *_reasons(((d["name"], d) for d in metrics["idle_docks"]["docks"]), "dock"),
        *(
            [
                "Busy minutes and utilisation count only the loadings with a start; a "
                "loading without one may fill any gap, so those docks' idle gaps are not "
                "available.",
                "",
            ]
            if any(
                0 < d["loadings_without_start"] < d["loadings"]
                for d in metrics["idle_docks"]["docks"]
            )
            else []
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
    ]
    outliers = metrics["outliers"]
    if outliers["pickers"] is None:
        lines += [f"Picker outliers: {_na(outliers, 'pickers')}.", ""]
    else:
        lines += _table(
            [
                "picker",
                "median pick s",
                "x zone median",
                "x zone median, 7 days before",
                "modified z",
                "direction",
            ],
            [
                [
                    o["name"],
                    o["median_pick_seconds"],
                    o["relative_pick_time"],
                    o["relative_pick_time_7d"],
                    o["modified_z"],
                    o["direction"],
                ]
                for o in outliers["pickers"]
            ],
        )
    if outliers["slow_zones"] is None:
        lines += [f"Slow zones: {_na(outliers, 'slow_zones')}.", ""]
    else:
        lines += _table(
            ["slow zone", "median pick s", "7-day median s", "ratio"],
            [
                [
                    z["name"],
                    z["median_pick_seconds"],
                    z["median_pick_seconds_7d"],
                    z["pick_time_ratio_vs_7d"],
                ]
                for z in outliers["slow_zones"]
            ],
        )
    slow = outliers["slow_picks"]
    if slow["count"] is None:
        lines += [f"Slow picks: {_na(slow, 'count')}.", ""]
    elif slow["threshold_minutes"] is not None:
        lines += [
            f"Slow picks: {slow['count']} above {slow['threshold_minutes']} min "
            f"(median {slow['median_minutes']} min): {slow.get('share_pct')}% of the day's "
            "timed picks, against "
            + (
                f"{slow['share_7d_pct']}% over the 7 days before."
                if slow.get("share_7d_pct") is not None
                else f"the 7 days before: {_na(slow, 'share_7d_pct')}."
            ),
            "",
        ]
    if metrics["data_gaps"]:
        lines += ["## Data gaps", ""]
        lines += [f"- {gap_text(g)}" for g in metrics["data_gaps"]]
        lines.append("")
    lines += ["## Rules", "", *[f"- {r}" for r in metrics["rules_text"]], ""]
    if docs:
        lines += ["## Documents consulted", ""]
        lines += [f"- {d['document_name']}: “{d['excerpt']}”" for d in docs]
        lines.append("")
    return "\n".join(lines)


def not_available_lines(metrics: DailyAnalysis) -> list[str]:
    """One sentence per reason the report gives for figures it cannot compute."""
    outliers = metrics["outliers"]
    rows: list[tuple[str | None, Mapping[str, Any]]] = [(None, metrics["totals"])]
    rows += [(None, z) for z in metrics["by_zone"]]
    rows += [(None, p) for p in metrics["by_picker"]]
    rows += [(None, metrics["late_orders"])]
    rows += [(None, d) for d in metrics["idle_docks"]["docks"]]
    rows += [(None, outliers), (None, outliers["slow_picks"])]
    return [
        f"Not available ({text}): {', '.join(figures)}."
        for text, (figures, _) in _reason_groups(rows).items()
    ]


def gap_text(gap: Mapping[str, Any], effect: bool = True) -> str:
    """A data gap as one sentence: which column, how many of which rows (and what follows)."""
    text = (
        f"{gap['column']} {gap['problem']} in {gap['rows_affected']} of {gap['rows']} {gap['of']}"
    )
    return f"{text}: {gap['effect']}." if effect and gap["effect"] else f"{text}."
