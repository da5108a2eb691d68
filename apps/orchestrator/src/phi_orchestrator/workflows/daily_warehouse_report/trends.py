"""The report's longer views: the late-order rate of each of the last 28 days and each dock's
departures on the day against its 7 days before (pure functions, no I/O).

They read orders and shipments over ``TREND_DAYS`` (the data contract's queries ask for that
much; the ``file`` tool reads only the day's exports, so there the trend is the day alone). A
day with no order due has no rate (None, drawn as a gap), never 0 %.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from phi_orchestrator.workflows.daily_warehouse_report.analysis import HISTORY_DAYS, parse_time

TREND_DAYS = 28


class LateRateDay(TypedDict):
    day: str
    orders_due: int
    late: int
    late_pct: float | None


class DockDepartures(TypedDict):
    dock_id: str
    name: str
    departures: int
    # Mean departures a day over the 7 days before; None when those days were not read.
    mean_7d_departures: float | None


class Trends(TypedDict):
    days: int  # how many days, ending on the report's day, the data read covers
    late_rate_by_day: list[LateRateDay]
    # The late rate of the 7 days before the day taken together (None: no order due then).
    late_pct_7d_before: float | None
    departures_by_dock: list[DockDepartures]


def _late_by_due_day(
    orders: Iterable[Mapping[str, Any]], shipments: Iterable[Mapping[str, Any]]
) -> dict[date, tuple[int, int]]:
    """(orders due, late) per due day, by the report's rule (analysis.late_orders): not
    cancelled, and first departed after ``due_at`` or not by the end of the due day."""
    first: dict[str, datetime] = {}
    for s in shipments:
        departed = parse_time(s.get("departed_at"))
        oid = str(s.get("order_id"))
        if departed is not None and (oid not in first or departed < first[oid]):
            first[oid] = departed
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for o in orders:
        due = parse_time(o.get("due_at"))
        if due is None or o.get("status") == "CANCELLED":
            continue
        entry = counts[due.date()]
        entry[0] += 1
        shipped = first.get(str(o.get("order_id")))
        if shipped is None or shipped > due:
            entry[1] += 1
    return {d: (c[0], c[1]) for d, c in counts.items()}


def trends(
    orders: Iterable[Mapping[str, Any]],
    shipments: Sequence[Mapping[str, Any]],
    docks: Mapping[str, str],
    day: date,
    days: int = TREND_DAYS,
) -> Trends:
    """The late rate of each of the ``days`` days ending on ``day`` and the departures per
    dock. Timestamps must already be read (``analysis.read_times``)."""
    counts = _late_by_due_day(orders, shipments)
    series: list[LateRateDay] = []
    for offset in range(days - 1, -1, -1):
        d = day - timedelta(days=offset)
        due, late = counts.get(d, (0, 0))
        series.append(
            {
                "day": d.isoformat(),
                "orders_due": due,
                "late": late,
                "late_pct": round(late / due * 100, 1) if due else None,
            }
        )
    before = [counts.get(day - timedelta(days=i), (0, 0)) for i in range(1, HISTORY_DAYS + 1)]
    due_before = sum(c[0] for c in before)
    late_before = sum(c[1] for c in before)
    history_read = days > HISTORY_DAYS
    return {
        "days": days,
        "late_rate_by_day": series,
        "late_pct_7d_before": (
            round(late_before / due_before * 100, 1) if history_read and due_before else None
        ),
        "departures_by_dock": _departures(shipments, docks, day, history_read),
    }


def _departures(
    shipments: Sequence[Mapping[str, Any]],
    docks: Mapping[str, str],
    day: date,
    history_read: bool,
) -> list[DockDepartures]:
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seen: set[str] = set()
    for s in shipments:
        departed = parse_time(s.get("departed_at"))
        dock = s.get("dock_id")
        if departed is None or dock in (None, ""):
            continue
        per_day[departed.date()][str(dock)] += 1
        seen.add(str(dock))
    rows: list[DockDepartures] = []
    for dock_id in sorted(set(docks) | seen):
        history = [per_day[day - timedelta(days=i)][dock_id] for i in range(1, HISTORY_DAYS + 1)]
        rows.append(
            {
                "dock_id": dock_id,
                "name": docks.get(dock_id, dock_id),
                "departures": per_day[day][dock_id],
                "mean_7d_departures": (
                    round(sum(history) / HISTORY_DAYS, 1) if history_read else None
                ),
            }
        )
    return rows
