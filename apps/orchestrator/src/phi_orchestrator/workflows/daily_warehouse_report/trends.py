"""The report's longer view: the late-order rate of each of the last 28 days (a pure
function, no I/O). The baselines of the day's figures are in ``analysis``; this is the series
the chart draws.

It reads orders due and shipments over ``TREND_DAYS`` (the data contract's queries ask for
that much; the ``file`` tool reads the exports of the day and the 7 days before, so there the
trend is those 8 days). A day with no order due has no rate (None, drawn as a gap), never 0 %.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from phi_orchestrator.workflows.daily_warehouse_report.analysis import parse_time

TREND_DAYS = 28


class LateRateDay(TypedDict):
    day: str
    orders_due: int
    late: int
    late_pct: float | None


class Trends(TypedDict):
    days: int  # how many days, ending on the report's day, the data read covers
    late_rate_by_day: list[LateRateDay]


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
    day: date,
    days: int = TREND_DAYS,
) -> Trends:
    """The late rate of each of the ``days`` days ending on ``day``, by the report's rule.
    Timestamps must already be read (``analysis.read_times``)."""
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
    return {"days": days, "late_rate_by_day": series}
