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


def anomalies(metrics: Mapping[str, Any], trends: Mapping[str, Any] | None) -> list[str]:
    """The day's anomalies, most pressing first: late orders above the 7 days before (or any,
    when there is no baseline), idle docks, slow zones, picker outliers."""
    found: list[str] = []
    late = _section(metrics, "late_orders")
    late_pct = late.get("late_pct")
    baseline = (trends or {}).get("late_pct_7d_before")
    if isinstance(late.get("late"), int) and late["late"] > 0 and isinstance(late_pct, int | float):
        if not isinstance(baseline, int | float):
            found.append(f"{late['late']} of {late.get('orders_due')} orders late ({late_pct}%)")
        elif late_pct > baseline:
            found.append(
                f"{late['late']} of {late.get('orders_due')} orders late ({late_pct}% vs "
                f"{baseline}% the 7 days before)"
            )
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
