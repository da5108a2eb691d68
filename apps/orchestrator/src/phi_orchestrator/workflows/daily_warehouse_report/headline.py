"""What a delivered report leads with: its title and the day's anomalies in a few words (the
email's subject, the webhook's and Slack's text). Read defensively, like the charts: a missing
or null figure is left out, never taken as 0."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _section(parent: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = (parent or {}).get(key)
    return value if isinstance(value, Mapping) else {}


def title(metrics: Mapping[str, Any]) -> str:
    return f"Daily warehouse report — {metrics.get('day', '')}".strip(" —")


def _named(rows: Any) -> list[str]:
    if not isinstance(rows, list):
        return []
    return [
        str(r.get("name") or r.get("zone_id") or r.get("dock_id") or "?")
        for r in rows
        if isinstance(r, Mapping)
    ]


def anomalies(metrics: Mapping[str, Any]) -> list[str]:
    """The day's anomalies, most pressing first: a late-order spike (the report's rule), idle
    docks, slow zones, picker outliers."""
    found: list[str] = []
    late = _section(metrics, "late_orders")
    count, due, pct = late.get("late"), late.get("orders_due"), late.get("late_pct")
    baseline = late.get("baseline_late_pct")
    if isinstance(count, int) and count > 0 and isinstance(pct, int | float):
        # The report's spike rule decides; without a baseline (spike unknown) any late order
        # is named, with no comparison.
        if late.get("spike") is True and isinstance(baseline, int | float):
            found.append(f"{count} of {due} orders late ({pct}% vs {baseline}% the 7 days before)")
        elif late.get("spike") is None:
            found.append(f"{count} of {due} orders late ({pct}%)")
    docks = _section(metrics, "idle_docks")
    idle = [d for d in docks.get("docks") or [] if isinstance(d, Mapping) and d.get("idle")]
    if idle:
        found.append("idle dock(s): " + ", ".join(_named(idle)))
    outliers = _section(metrics, "outliers")
    if slow := _named(outliers.get("slow_zones")):
        found.append("slow zone(s): " + ", ".join(slow))
    pickers = outliers.get("pickers") if isinstance(outliers.get("pickers"), list) else []
    if pickers:
        found.append(
            "picker outlier(s): "
            + ", ".join(
                f"{p.get('name')} ({p.get('direction')})" for p in pickers if isinstance(p, Mapping)
            )
        )
    return found
