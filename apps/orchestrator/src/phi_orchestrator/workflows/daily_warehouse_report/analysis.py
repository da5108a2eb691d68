"""The report's figures, computed from the data contract's rows (pure functions, no I/O).

Every number in the report comes from here; the model only writes prose around them. Rows are
dicts keyed by the contract's column names (docs/local-agent-protocol.md); timestamps are the
warehouse's local time, as ISO text or naive datetimes.

Rules (stated in the report too):
- comparisons: the day against the previous day and against the mean of the 7 days before it
  (days without picks count as zero);
- a late order: due during the day (not cancelled) and its first shipment departed after
  ``due_at``, or nothing departed by the end of the day (lateness counted to the day's end);
- an idle dock: no shipment during the operating window (first to last pick or dock activity
  of the day), or a gap of at least ``idle_gap_minutes`` between its loadings;
- a picker outlier: the picker's median relative pick time (a pick's time divided by the
  day's median pick time in its zone, so a slow zone does not flag its pickers) with a
  modified z-score (0.6745 (x - median) / MAD) beyond ``outlier_z`` among the day's pickers
  with at least ``min_picks`` picks;
- a slow zone: median pick time at least ``slow_zone_ratio`` times the zone's median over
  the 7 days before;
- a slow pick: duration above Q3 + ``slow_pick_iqr_k`` x IQR of the day's pick durations.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

Row = Mapping[str, Any]
Tables = Mapping[str, list[dict[str, Any]]]

HISTORY_DAYS = 7


@dataclass(frozen=True)
class Rules:
    outlier_z: float = 3.5
    min_picks: int = 10
    idle_gap_minutes: int = 120
    slow_pick_iqr_k: float = 3.0
    slow_zone_ratio: float = 1.5
    max_listed: int = 10

    def describe(self) -> list[str]:
        return [
            "Comparisons: the day against the previous day and the mean of the 7 days before "
            "it (a day without picks counts as zero).",
            "Late order: due during the day, not cancelled, and first shipped after its due "
            "time, or not shipped by the end of the day.",
            f"Idle dock: no loading during the operating window, or a gap of at least "
            f"{self.idle_gap_minutes} minutes between loadings.",
            "Picker outlier: median relative pick time (pick time / the day's median pick time "
            f"in its zone) with a modified z-score beyond ±{self.outlier_z} among the day's "
            f"pickers with at least {self.min_picks} picks.",
            f"Slow zone: median pick time at least {self.slow_zone_ratio:g}x the zone's median "
            "over the 7 days before.",
            f"Slow pick: duration above Q3 + {self.slow_pick_iqr_k:g} x IQR of the day's pick "
            "durations.",
        ]


def parse_time(value: Any) -> datetime | None:
    """A contract timestamp (ISO text or datetime) as a naive local datetime; None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip().replace("Z", "")
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=None)


def _num(value: Any, default: float = 0.0) -> float:
    if value is None or value == "":
        return default
    return float(value)


def pct_change(current: float, base: float) -> float | None:
    """Percent change from ``base``; None when there is no base to compare with."""
    if base == 0:
        return None
    return round((current - base) / base * 100, 1)


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


@dataclass
class _Pick:
    picker_id: str
    zone_id: str
    quantity: float
    started: datetime | None
    completed: datetime

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.started > self.completed:
            return None
        return (self.completed - self.started).total_seconds()


def _median_seconds(picks: Iterable[_Pick]) -> float | None:
    values = [s for p in picks if (s := p.seconds) is not None]
    return round(statistics.median(values), 1) if values else None


def _picks(rows: Iterable[Row]) -> list[_Pick]:
    picks = []
    for row in rows:
        completed = parse_time(row.get("completed_at"))
        if completed is None:
            continue  # not finished: not throughput
        picks.append(
            _Pick(
                picker_id=str(row.get("picker_id") or "unknown"),
                zone_id=str(row.get("zone_id") or "unknown"),
                quantity=_num(row.get("quantity"), 1.0),
                started=parse_time(row.get("started_at")),
                completed=completed,
            )
        )
    return picks


def _counts_by_day(picks: list[_Pick], days: list[date], key: Any) -> dict[date, dict[Any, int]]:
    out: dict[date, dict[Any, int]] = {d: defaultdict(int) for d in days}
    for p in picks:
        d = p.completed.date()
        if d in out:
            out[d][key(p)] += 1
    return out


def _comparison(
    name: Any, by_day: dict[date, dict[Any, int]], day: date, history: list[date]
) -> dict[str, Any]:
    today = by_day[day].get(name, 0)
    previous = by_day[day - timedelta(days=1)].get(name, 0)
    mean7 = round(sum(by_day[d].get(name, 0) for d in history) / len(history), 1)
    return {
        "picks": today,
        "previous_day_picks": previous,
        "mean_7d_picks": mean7,
        "change_vs_previous_day_pct": pct_change(today, previous),
        "change_vs_mean_7d_pct": pct_change(today, mean7),
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile (the 'inclusive' method of statistics.quantiles)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def analyse(tables: Tables, day: date, rules: Rules | None = None) -> dict[str, Any]:
    """Every figure of the daily report for ``day`` from the contract's tables."""
    rules = rules or Rules()
    history = [day - timedelta(days=i) for i in range(HISTORY_DAYS, 0, -1)]
    days = [*history, day]
    day_start = datetime(day.year, day.month, day.day)
    day_end = day_start + timedelta(days=1)

    zones = {str(z["zone_id"]): z.get("name") or str(z["zone_id"]) for z in tables.get("zones", [])}
    pickers = {
        str(p["picker_id"]): p.get("name") or str(p["picker_id"]) for p in tables.get("pickers", [])
    }
    docks = {str(d["dock_id"]): d.get("name") or str(d["dock_id"]) for d in tables.get("docks", [])}

    picks = _picks(tables.get("picks", []))
    picks_today = [p for p in picks if day_start <= p.completed < day_end]

    # -- throughput: totals, by hour, zone and picker ------------------------------------------
    by_day_total = _counts_by_day(picks, days, lambda p: "all")
    totals = _comparison("all", by_day_total, day, history)
    totals["units"] = round(sum(p.quantity for p in picks_today), 1)
    totals["active_pickers"] = len({p.picker_id for p in picks_today})

    by_day_hour = _counts_by_day(picks, days, lambda p: p.completed.hour)
    hours = sorted({h for d in days for h, n in by_day_hour[d].items() if n})
    by_hour = [{"hour": h, **_comparison(h, by_day_hour, day, history)} for h in hours]

    by_day_zone = _counts_by_day(picks, days, lambda p: p.zone_id)
    zone_ids = sorted(set(zones) | {z for d in days for z in by_day_zone[d]})
    units_by_zone: dict[str, float] = defaultdict(float)
    for p in picks_today:
        units_by_zone[p.zone_id] += p.quantity
    history_start = datetime(history[0].year, history[0].month, history[0].day)
    picks_history = [p for p in picks if history_start <= p.completed < day_start]
    by_zone = []
    for z in zone_ids:
        today_median = _median_seconds(p for p in picks_today if p.zone_id == z)
        history_median = _median_seconds(p for p in picks_history if p.zone_id == z)
        ratio = (
            round(today_median / history_median, 2)
            if today_median is not None and history_median
            else None
        )
        by_zone.append(
            {
                "zone_id": z,
                "name": zones.get(z, z),
                "units": round(units_by_zone[z], 1),
                **_comparison(z, by_day_zone, day, history),
                "median_pick_seconds": today_median,
                "median_pick_seconds_7d": history_median,
                "pick_time_ratio_vs_7d": ratio,
                "slow": ratio is not None and ratio >= rules.slow_zone_ratio,
            }
        )

    by_day_picker = _counts_by_day(picks, days, lambda p: p.picker_id)
    today_by_picker: dict[str, list[_Pick]] = defaultdict(list)
    for p in picks_today:
        today_by_picker[p.picker_id].append(p)
    picker_ids = sorted(set(today_by_picker) | {k for d in history for k in by_day_picker[d]})
    by_picker = []
    for pid in picker_ids:
        own = today_by_picker.get(pid, [])
        row: dict[str, Any] = {
            "picker_id": pid,
            "name": pickers.get(pid, pid),
            "units": round(sum(p.quantity for p in own), 1),
            **_comparison(pid, by_day_picker, day, history),
            "active_minutes": 0.0,
            "picks_per_hour": None,
            "median_pick_seconds": _median_seconds(own),
        }
        if own:
            first = min((p.started or p.completed) for p in own)
            last = max(p.completed for p in own)
            active = max(_minutes(last - first), 1.0)
            row["active_minutes"] = active
            row["picks_per_hour"] = round(len(own) / (active / 60), 1)
        by_picker.append(row)

    # -- late orders ---------------------------------------------------------------------------
    first_departure: dict[str, datetime] = {}
    shipments_today = []
    for s in tables.get("shipments", []):
        departed = parse_time(s.get("departed_at"))
        oid = str(s.get("order_id"))
        if departed is not None and (oid not in first_departure or departed < first_departure[oid]):
            first_departure[oid] = departed
        loading = parse_time(s.get("loading_started_at"))
        if (loading and day_start <= loading < day_end) or (
            departed and day_start <= departed < day_end
        ):
            shipments_today.append((str(s.get("dock_id")), loading, departed))
    orders_due = 0
    late = []
    for o in tables.get("orders", []):
        due = parse_time(o.get("due_at"))
        if due is None or not day_start <= due < day_end or o.get("status") == "CANCELLED":
            continue
        orders_due += 1
        oid = str(o["order_id"])
        shipped = first_departure.get(oid)
        if shipped is not None and shipped <= due:
            continue
        if shipped is not None and shipped < day_end:
            late.append(
                {
                    "order_id": oid,
                    "customer": o.get("customer"),
                    "due_at": due.isoformat(),
                    "shipped_at": shipped.isoformat(),
                    "minutes_late": _minutes(shipped - due),
                    "shipped": True,
                }
            )
        else:
            late.append(
                {
                    "order_id": oid,
                    "customer": o.get("customer"),
                    "due_at": due.isoformat(),
                    "shipped_at": None,
                    "minutes_late": _minutes(day_end - due),
                    "shipped": False,
                }
            )
    late.sort(key=lambda r: (-float(r["minutes_late"] or 0), str(r["order_id"])))
    late_orders = {
        "orders_due": orders_due,
        "late": len(late),
        "not_shipped": sum(1 for r in late if not r["shipped"]),
        "late_pct": round(len(late) / orders_due * 100, 1) if orders_due else None,
        "orders": late[: rules.max_listed],
    }

    # -- idle docks ----------------------------------------------------------------------------
    activity = [t for p in picks_today for t in (p.started, p.completed) if t is not None]
    activity += [t for _, a, b in shipments_today for t in (a, b) if t is not None]
    activity = [t for t in activity if day_start <= t < day_end]
    idle_docks: dict[str, Any] = {"window_start": None, "window_end": None, "docks": []}
    if activity:
        window_start, window_end = min(activity), max(activity)
        idle_docks["window_start"] = window_start.isoformat()
        idle_docks["window_end"] = window_end.isoformat()
        window = _minutes(window_end - window_start)
        dock_ids = sorted(set(docks) | {d for d, _, _ in shipments_today})
        for dock_id in dock_ids:
            spans = sorted(
                (max(a or window_start, window_start), min(b or window_end, window_end))
                for d, a, b in shipments_today
                if d == dock_id
            )
            spans = [(a, b) for a, b in spans if b > a]
            busy = 0.0
            longest_gap = 0.0
            cursor = window_start
            for a, b in spans:
                if a > cursor:
                    longest_gap = max(longest_gap, _minutes(a - cursor))
                if b > cursor:
                    busy += _minutes(b - max(a, cursor))
                    cursor = b
            longest_gap = max(longest_gap, _minutes(window_end - cursor))
            idle = not spans or longest_gap >= rules.idle_gap_minutes
            idle_docks["docks"].append(
                {
                    "dock_id": dock_id,
                    "name": docks.get(dock_id, dock_id),
                    "loadings": len(spans),
                    "busy_minutes": round(busy, 1),
                    "utilisation_pct": round(busy / window * 100, 1) if window else None,
                    "longest_idle_minutes": round(longest_gap, 1),
                    "idle": idle,
                }
            )
    idle_docks["idle_count"] = sum(1 for d in idle_docks["docks"] if d["idle"])

    # -- outliers ------------------------------------------------------------------------------
    zone_median = {z["zone_id"]: z["median_pick_seconds"] for z in by_zone}
    relative: dict[str, list[float]] = defaultdict(list)
    for p in picks_today:
        seconds, base = p.seconds, zone_median.get(p.zone_id)
        if seconds is not None and base:
            relative[p.picker_id].append(seconds / base)
    for r in by_picker:
        values = relative.get(r["picker_id"])
        r["relative_pick_time"] = round(statistics.median(values), 2) if values else None
    rated = [
        r
        for r in by_picker
        if r["picks"] >= rules.min_picks and r["relative_pick_time"] is not None
    ]
    picker_outliers = []
    if len(rated) >= 3:
        times = [r["relative_pick_time"] for r in rated]
        median = statistics.median(times)
        mad = statistics.median(abs(x - median) for x in times)
        if mad > 0:
            for r in rated:
                z = 0.6745 * (r["relative_pick_time"] - median) / mad
                if abs(z) > rules.outlier_z:
                    picker_outliers.append(
                        {
                            "picker_id": r["picker_id"],
                            "name": r["name"],
                            "median_pick_seconds": r["median_pick_seconds"],
                            "relative_pick_time": r["relative_pick_time"],
                            "pickers_median_relative": round(median, 2),
                            "modified_z": round(z, 2),
                            "direction": "slow" if z > 0 else "fast",
                        }
                    )
    durations = sorted(
        _minutes(p.completed - p.started)
        for p in picks_today
        if p.started is not None and p.completed >= p.started
    )
    slow: dict[str, Any] = {"threshold_minutes": None, "count": 0, "slowest_minutes": []}
    if len(durations) >= 4:
        q1, q3 = _quantile(durations, 0.25), _quantile(durations, 0.75)
        threshold = round(q3 + rules.slow_pick_iqr_k * (q3 - q1), 1)
        over = [d for d in durations if d > threshold]
        slow = {
            "threshold_minutes": threshold,
            "median_minutes": round(statistics.median(durations), 1),
            "count": len(over),
            "slowest_minutes": sorted(over, reverse=True)[:5],
        }

    return {
        "day": day.isoformat(),
        "history_days": HISTORY_DAYS,
        "rules": asdict(rules),
        "rules_text": rules.describe(),
        "totals": totals,
        "by_hour": by_hour,
        "by_zone": by_zone,
        "by_picker": by_picker,
        "late_orders": late_orders,
        "idle_docks": idle_docks,
        "outliers": {
            "pickers": picker_outliers,
            "slow_zones": [
                {
                    k: z[k]
                    for k in (
                        "zone_id",
                        "name",
                        "median_pick_seconds",
                        "median_pick_seconds_7d",
                        "pick_time_ratio_vs_7d",
                    )
                }
                for z in by_zone
                if z["slow"]
            ],
            "slow_picks": slow,
        },
    }
