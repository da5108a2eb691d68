"""The report's prose: asked of the router (class ``heavy``) with the computed figures as facts.

On the builtin route (no model) :func:`compose_narrative` assembles the prose from those
figures alone and says so; it never adds a number that is not in the facts.
"""

from __future__ import annotations

import json
from typing import Any

from phi_llm.types import BUILTIN_LABEL, ChatRequest, Message
from phi_orchestrator.workflows.daily_warehouse_report.analysis import DailyAnalysis
from phi_orchestrator.workflows.daily_warehouse_report.report import (
    gap_text,
    late_rate_text,
    not_available_lines,
)

COMPOSER_TASK = "daily_warehouse_report"


def narrative_facts(metrics: DailyAnalysis, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the prose may use (a subset of the metrics, small enough for a prompt)."""
    zones = sorted(
        metrics["by_zone"],
        key=lambda z: abs(z["change_vs_mean_7d_pct"] or 0),
        reverse=True,
    )
    return {
        "day": metrics["day"],
        "totals": metrics["totals"],
        "zones_most_changed": [
            {k: z[k] for k in ("name", "picks", "mean_7d_picks", "change_vs_mean_7d_pct")}
            for z in zones[:3]
        ],
        "late_orders": {
            k: metrics["late_orders"][k]
            for k in (
                "orders_due",
                "late",
                "not_shipped",
                "late_pct",
                "baseline_orders_due",
                "baseline_late",
                "baseline_late_pct",
                "spike",
            )
        },
        "late_rate": late_rate_text(metrics["late_orders"]),
        "idle_docks": [
            {k: d[k] for k in ("name", "departures", "departures_mean_7d")}
            for d in metrics["idle_docks"]["docks"]
            if d["idle"]
        ],
        "idle_docks_not_determinable": [
            d["name"] for d in metrics["idle_docks"]["docks"] if d["idle"] is None
        ],
        # None where the data cannot give them (not_available says why).
        "picker_outliers": None
        if (pickers := metrics["outliers"]["pickers"]) is None
        else [
            {
                k: o[k]
                for k in (
                    "name",
                    "median_pick_seconds",
                    "relative_pick_time",
                    "relative_pick_time_7d",
                    "direction",
                )
            }
            for o in pickers
        ],
        "slow_zones": None
        if (zones_slow := metrics["outliers"]["slow_zones"]) is None
        else [
            {k: z[k] for k in ("name", "median_pick_seconds", "median_pick_seconds_7d")}
            for z in zones_slow
        ],
        "slow_picks": metrics["outliers"]["slow_picks"]["count"],
        "slow_picks_share": {
            k: metrics["outliers"]["slow_picks"].get(k) for k in ("share_pct", "share_7d_pct")
        },
        # Figures the data cannot give, and columns some rows leave empty: to be said, never
        # filled in.
        "not_available": not_available_lines(metrics),
        "data_gaps": [gap_text(g, effect=False) for g in metrics["data_gaps"]],
        # Passages, not documents, are found: one name once however many of its passages.
        "documents": list(dict.fromkeys(d["document_name"] for d in docs)),
    }


def narrative_messages(facts: dict[str, Any], system_prompt: str | None) -> list[Message]:
    instructions = (
        "Write the narrative of a daily warehouse operations report in 2-4 short paragraphs: "
        "what went well, what needs attention today, and one or two concrete actions. Use only "
        "the figures given in the JSON below, exactly as given; do not compute or invent any "
        "other number, date or duty. A figure that is null or listed under not_available is not "
        "available: say so with its reason, never estimate it. Mention data_gaps briefly. "
        "Where a procedure document is listed, you may refer to it by name."
    )
    return [
        {"role": "system", "content": system_prompt or "You are a warehouse operations analyst."},
        {"role": "user", "content": f"{instructions}\n\n{json.dumps(facts, ensure_ascii=False)}"},
    ]


def _change(value: float | None, what: str) -> str:
    if value is None:
        return f"no {what} to compare with"
    return f"{value:+.1f}% vs the {what}"


def compose_narrative(request: ChatRequest) -> str:
    """Builtin prose from the facts only, labelled as produced without a model."""
    f = request.facts or {}
    totals = f.get("totals", {})
    units = totals.get("units")
    pickers = totals.get("active_pickers")
    parts = [
        f"On {f.get('day')}, {totals.get('picks', 0)} picks"
        + (f" ({units} units)" if units is not None else "")
        + " were completed"
        + (f" by {pickers} pickers" if pickers is not None else "")
        + ": "
        f"{_change(totals.get('change_vs_previous_day_pct'), 'previous day')}, "
        f"{_change(totals.get('change_vs_mean_7d_pct'), '7-day mean')}."
    ]
    zones = [z for z in f.get("zones_most_changed", []) if z.get("change_vs_mean_7d_pct")]
    if zones:
        parts.append(
            "Largest zone changes against the 7-day mean: "
            + "; ".join(
                f"{z['name']} {z['picks']} picks ({z['change_vs_mean_7d_pct']:+.1f}%)"
                for z in zones
            )
            + "."
        )
    late = f.get("late_orders", {})
    if late.get("orders_due") is None or late.get("late") is None:
        pass  # not available: said with the reason below
    elif late.get("orders_due"):
        parts.append(
            f"{late.get('late', 0)} of {late['orders_due']} orders due were late "
            f"({f.get('late_rate')}), {late.get('not_shipped', 0)} of them not shipped by the "
            "end of the day."
        )
    else:
        parts.append("No orders were due on the day.")
    idle = f.get("idle_docks", [])
    unknown = f.get("idle_docks_not_determinable", [])
    if idle:
        parts.append(
            "Idle docks: "
            + "; ".join(
                f"{d['name']} ({d['departures']} departures"
                + (
                    f" against a mean of {d['departures_mean_7d']} a day over the 7 days before)"
                    if d.get("departures_mean_7d") is not None
                    else "; no 7-day mean to compare with)"
                )
                for d in idle
            )
            + "."
        )
    elif not unknown:
        parts.append("No dock was idle by the rule.")
    if unknown:
        parts.append(f"Whether {', '.join(unknown)} stood idle cannot be told from the data.")
    outliers = f.get("picker_outliers") or []
    if outliers:
        parts.append(
            "Picker outliers: "
            + "; ".join(
                f"{o['name']} ({o['direction']}: median pick {o['median_pick_seconds']} s, "
                f"{o['relative_pick_time']} times the zone's median"
                + (
                    f", against {o['relative_pick_time_7d']} over the 7 days before)"
                    if o.get("relative_pick_time_7d") is not None
                    else ")"
                )
                for o in outliers
            )
            + "."
        )
    slow_zones = f.get("slow_zones") or []
    if slow_zones:
        parts.append(
            "Slow zones: "
            + "; ".join(
                f"{z['name']} (median pick {z['median_pick_seconds']} s against "
                f"{z['median_pick_seconds_7d']} s over the 7 days before)"
                for z in slow_zones
            )
            + "."
        )
    if f.get("slow_picks"):
        share = f.get("slow_picks_share") or {}
        before = share.get("share_7d_pct")
        parts.append(
            f"{f['slow_picks']} picks were slow by the rule ({share.get('share_pct')}% of the "
            "day's timed picks"
            + (f", against {before}% over the 7 days before)." if before is not None else ").")
        )
    parts += f.get("not_available", [])
    gaps = f.get("data_gaps", [])
    if gaps:
        parts.append("Data gaps: " + " ".join(gaps))
    docs = f.get("documents", [])
    if docs:
        parts.append("Relevant procedures: " + ", ".join(docs) + ".")
    return " ".join(parts) + f"\n\n_{BUILTIN_LABEL}: assembled from the figures above._"
