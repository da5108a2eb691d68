"""Property tests of the report's figures: for generated warehouses (a few zones, docks and
pickers; picks, orders and shipments with empty values, on a coarse grid of times so that
edges meet: a departure at the window's very start, loadings sharing a minute, spans that
touch), every figure the analysis reports equals the figure computed here directly, the
plain way (minute sets, statistics.quantiles), and a dock's utilisation never exceeds what
its loadings allow.

Times are whole minutes, so busy and idle time can be counted minute by minute."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phi_orchestrator.workflows.daily_warehouse_report.analysis import Rules, analyse

DAY = date(2026, 11, 24)
START = datetime(2026, 11, 24)
END = START + timedelta(days=1)
HISTORY_START = START - timedelta(days=7)
ZONES = ["Z0", "Z1", "Z2"]
DOCKS = ["D0", "D1", "D2"]
PICKERS = ["P0", "P1", "P2", "P3"]

# Whole minutes from the first history day to the day after: mostly on a half-hour grid
# (edges meet), sometimes anywhere, sometimes at the day's very start or end.
_moment = st.one_of(
    st.builds(
        lambda day, slot: HISTORY_START + timedelta(days=day, minutes=30 * slot),
        st.integers(0, 8),
        st.integers(0, 47),
    ),
    st.builds(lambda m: HISTORY_START + timedelta(minutes=m), st.integers(0, 9 * 1440 - 1)),
    st.sampled_from([START, END - timedelta(minutes=1), END, START - timedelta(minutes=1)]),
)
_day_moment = st.builds(lambda slot: START + timedelta(minutes=30 * slot), st.integers(0, 47))
# Built once: a strategy built inside every draw is validated every time (most of the run).
_WHEN = st.one_of(_moment, _day_moment)
_MAYBE_WHEN = st.one_of(st.none(), _moment, _day_moment)
_TOOK = st.one_of(st.none(), st.integers(-5, 90), st.sampled_from([0, 30]))
_PICKER = st.one_of(st.sampled_from(PICKERS), st.none(), st.just(""))
_ZONE = st.one_of(st.sampled_from(ZONES), st.none())
_QUANTITY = st.one_of(st.integers(1, 6), st.none(), st.just(""))
_CUSTOMER = st.one_of(st.none(), st.just("ACME"))
_STATUS = st.sampled_from([None, "OPEN", "SHIPPED", "CANCELLED"])
_DOCK = st.sampled_from(DOCKS)
_BEFORE = st.integers(0, 120)


@st.composite
def _pick(draw: Any, n: int) -> dict[str, Any]:
    completed = draw(_WHEN)
    took = draw(_TOOK)
    return {
        "pick_id": f"K{n}",
        "picker_id": draw(_PICKER),
        "zone_id": draw(_ZONE),
        "quantity": draw(_QUANTITY),
        "started_at": None if took is None else (completed - timedelta(minutes=took)).isoformat(),
        "completed_at": completed.isoformat(),
    }


@st.composite
def _order(draw: Any, n: int) -> dict[str, Any]:
    due = draw(_MAYBE_WHEN)
    return {
        "order_id": f"O{n}",
        "customer": draw(_CUSTOMER),
        "created_at": None,
        "due_at": None if due is None else due.isoformat(" "),
        "status": draw(_STATUS),
    }


@st.composite
def _shipment(draw: Any, n: int, orders: int) -> dict[str, Any]:
    departed = draw(_MAYBE_WHEN)
    loading: datetime | None = draw(_MAYBE_WHEN)
    if departed is not None and loading is not None and loading > departed:
        loading = departed - timedelta(minutes=draw(_BEFORE))
    order = draw(st.one_of(st.none(), st.integers(0, max(orders - 1, 0)))) if orders else None
    return {
        "shipment_id": f"S{n}",
        "order_id": None if order is None or not orders else f"O{order}",
        "dock_id": draw(_DOCK),
        "loading_started_at": None if loading is None else loading.isoformat(),
        "departed_at": None if departed is None else departed.isoformat(),
    }


@st.composite
def warehouses(draw: Any) -> dict[str, list[dict[str, Any]]]:
    picks = [draw(_pick(n)) for n in range(draw(st.integers(0, 20)))]
    orders = [draw(_order(n)) for n in range(draw(st.integers(0, 12)))]
    shipments = [draw(_shipment(n, len(orders))) for n in range(draw(st.integers(0, 14)))]
    return {
        "zones": [{"zone_id": z, "name": f"Zone {z}"} for z in ZONES],
        "docks": [{"dock_id": d, "name": None} for d in DOCKS],
        "pickers": [{"picker_id": p, "name": p} for p in PICKERS],
        "picks": picks,
        "orders": orders,
        "shipments": shipments,
    }


# -- the figures, computed plainly ---------------------------------------------------------


def _t(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _on(moment: datetime | None, day: date) -> bool:
    return moment is not None and moment.date() == day


def _minutes_of(start: datetime, end: datetime) -> set[datetime]:
    """The whole minutes from start (inclusive) to end (exclusive)."""
    out = set()
    while start < end:
        out.add(start)
        start += timedelta(minutes=1)
    return out


def _longest_run(minutes: list[datetime]) -> int:
    longest = run = 0
    previous = None
    for m in minutes:
        run = run + 1 if previous is not None and m - previous == timedelta(minutes=1) else 1
        longest, previous = max(longest, run), m
    return longest


def _check_picks(m: dict[str, Any], w: dict[str, list[dict[str, Any]]]) -> None:
    history = [DAY - timedelta(days=i) for i in range(7, 0, -1)]
    day_picks = [p for p in w["picks"] if _on(_t(p["completed_at"]), DAY)]
    history_picks = [
        p
        for p in w["picks"]
        if HISTORY_START <= _t(p["completed_at"]) < START  # type: ignore[operator]
    ]
    per_day = {d: sum(1 for p in w["picks"] if _on(_t(p["completed_at"]), d)) for d in history}
    t = m["totals"]
    assert t["picks"] == len(day_picks)
    assert t["previous_day_picks"] == per_day[DAY - timedelta(days=1)]
    if any(per_day.values()):
        assert t["mean_7d_picks"] == round(sum(per_day.values()) / 7, 1)
    else:
        assert t["mean_7d_picks"] is None and "mean_7d_picks" in t["not_available"]
    quantities = [p["quantity"] for p in day_picks if not _blank(p["quantity"])]
    assert t["units"] == (None if day_picks and not quantities else sum(quantities))
    named = {p["picker_id"] for p in day_picks if not _blank(p["picker_id"])}
    assert t["active_pickers"] == (None if day_picks and not named else len(named))
    hours = {h["hour"]: h for h in m["by_hour"]}
    for hour in range(24):
        count = sum(1 for p in day_picks if _t(p["completed_at"]).hour == hour)  # type: ignore[union-attr]
        before = sum(1 for p in history_picks if _t(p["completed_at"]).hour == hour)  # type: ignore[union-attr]
        if hour not in hours:
            assert count == before == 0
            continue
        assert hours[hour]["picks"] == count
        assert hours[hour]["mean_7d_picks"] == (round(before / 7, 1) if history_picks else None)

    def seconds(p: dict[str, Any]) -> float | None:
        start, end = _t(p["started_at"]), _t(p["completed_at"])
        return None if start is None or end is None or start > end else (end - start).seconds

    zones = {z["zone_id"]: z for z in m["by_zone"]}
    zone_median: dict[str, float] = {}
    for zone in ZONES + ["unknown"]:
        own = [p for p in day_picks if (p["zone_id"] or "unknown") == zone]
        if zone not in zones:
            assert not own
            continue
        row = zones[zone]
        assert row["picks"] == len(own)
        timed = [s for p in own if (s := seconds(p)) is not None]
        assert row["median_pick_seconds"] == (round(statistics.median(timed), 1) if timed else None)
        if timed:
            zone_median[zone] = statistics.median(timed)
        stated = [p["quantity"] for p in own if not _blank(p["quantity"])]
        assert row["units"] == (None if own and not stated else sum(stated))
        before = [
            s
            for p in history_picks
            if (p["zone_id"] or "unknown") == zone and (s := seconds(p)) is not None
        ]
        before_median = round(statistics.median(before), 1) if before else None
        assert row["median_pick_seconds_7d"] == before_median
        ratio = (
            round(row["median_pick_seconds"] / before_median, 2)
            if row["median_pick_seconds"] is not None and before_median
            else None
        )
        assert row["pick_time_ratio_vs_7d"] == ratio
        if ratio is not None and zone != "unknown":
            assert row["slow"] == (ratio >= Rules().slow_zone_ratio)
    # Each history pick against its own day's zone median, per picker.
    day_zone: dict[tuple[date, str], list[float]] = {}
    for p in history_picks:
        if (s := seconds(p)) is not None:
            key = (_t(p["completed_at"]).date(), p["zone_id"] or "unknown")  # type: ignore[union-attr]
            day_zone.setdefault(key, []).append(s)
    for row in m["by_picker"]:
        relative_before = [
            s / statistics.median(day_zone[key])
            for p in history_picks
            if (p["picker_id"] or "unknown") == row["picker_id"]
            and (s := seconds(p)) is not None
            and statistics.median(
                day_zone[key := (_t(p["completed_at"]).date(), p["zone_id"] or "unknown")]  # type: ignore[union-attr]
            )
        ]
        assert row["relative_pick_time_7d"] == (
            round(statistics.median(relative_before), 2) if relative_before else None
        )
    for row in m["by_picker"]:
        own = [p for p in day_picks if (p["picker_id"] or "unknown") == row["picker_id"]]
        assert row["picks"] == len(own)
        timed = [s for p in own if (s := seconds(p)) is not None]
        assert row["median_pick_seconds"] == (round(statistics.median(timed), 1) if timed else None)
        relative = [
            s / zone_median[p["zone_id"] or "unknown"]
            for p in own
            if (s := seconds(p)) is not None and zone_median.get(p["zone_id"] or "unknown")
        ]
        assert row["relative_pick_time"] == (
            round(statistics.median(relative), 2) if relative else None
        )
    # Slow picks: Q3 + 3 IQR of the day's pick times in minutes (library quartiles).
    durations = sorted(s / 60 for p in day_picks if (s := seconds(p)) is not None)
    slow = m["outliers"]["slow_picks"]
    if day_picks and not durations:
        assert slow["count"] is None and slow["threshold_minutes"] is None
    elif len(durations) < 4:
        assert slow["threshold_minutes"] is None and slow["count"] == 0
    else:
        q1, _, q3 = statistics.quantiles(durations, n=4, method="inclusive")
        threshold = round(q3 + Rules().slow_pick_iqr_k * (q3 - q1), 1)
        assert slow["threshold_minutes"] == threshold
        assert slow["count"] == sum(1 for d in durations if d > threshold)


def _late_on(w: dict[str, list[dict[str, Any]]], day: date) -> tuple[int, int, int]:
    """Orders due on ``day`` (not cancelled), how many late, how many of them not shipped."""
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    due = late = not_shipped = 0
    for o in w["orders"]:
        due_at = _t(o["due_at"])
        if due_at is None or not start <= due_at < end or o["status"] == "CANCELLED":
            continue
        due += 1
        left = [
            d
            for s in w["shipments"]
            if s["order_id"] == o["order_id"] and (d := _t(s["departed_at"])) is not None
        ]
        first = min(left) if left else None
        if first is None or first > due_at:
            late += 1
            not_shipped += first is None or first >= end
    return due, late, not_shipped


def _check_late_orders(m: dict[str, Any], w: dict[str, list[dict[str, Any]]]) -> None:
    late = m["late_orders"]
    if w["orders"] and all(_blank(o["due_at"]) for o in w["orders"]):
        assert late["orders_due"] is late["late"] is late["late_pct"] is None
        return
    due, n_late, not_shipped = _late_on(w, DAY)
    history = [_late_on(w, DAY - timedelta(days=i)) for i in range(1, 8)]
    base_due = sum(d for d, _, _ in history)
    assert (late["orders_due"], late["baseline_orders_due"]) == (due, base_due)
    unknowable = (due or base_due) and any(
        w["shipments"] and all(_blank(s[c]) for s in w["shipments"])
        for c in ("order_id", "departed_at")
    )
    if unknowable:
        assert late["late"] is late["late_pct"] is late["baseline_late_pct"] is None
        return
    assert (late["late"], late["not_shipped"]) == (n_late, not_shipped)
    assert late["late_pct"] == (round(n_late / due * 100, 1) if due else None)
    base_late = sum(n for _, n, _ in history)
    assert late["baseline_late"] == base_late
    assert late["baseline_late_pct"] == (round(base_late / base_due * 100, 1) if base_due else None)


def _check_docks(m: dict[str, Any], w: dict[str, list[dict[str, Any]]]) -> None:
    idle = m["idle_docks"]
    of_day = [
        s
        for s in w["shipments"]
        if START <= (_t(s["loading_started_at"]) or END) < END
        or START <= (_t(s["departed_at"]) or END) < END
    ]
    activity = [
        t
        for p in w["picks"]
        if _on(_t(p["completed_at"]), DAY)
        for t in (_t(p["started_at"]), _t(p["completed_at"]))
        if t is not None and START <= t < END
    ]
    activity += [
        t
        for s in of_day
        for t in (_t(s["loading_started_at"]), _t(s["departed_at"]))
        if t is not None and START <= t < END
    ]
    if not activity:
        assert idle["window_start"] is None and idle["docks"] == []
        return
    ws, we = min(activity), max(activity)
    assert (idle["window_start"], idle["window_end"]) == (ws.isoformat(), we.isoformat())
    window = (we - ws).total_seconds() / 60
    never_departed = bool(w["shipments"]) and all(_blank(s["departed_at"]) for s in w["shipments"])
    departed_before = any(
        (d := _t(s["departed_at"])) is not None and HISTORY_START <= d < START
        for s in w["shipments"]
    )
    rows = {d["dock_id"]: d for d in idle["docks"]}
    assert set(rows) == set(DOCKS)
    for dock in DOCKS:
        row = rows[dock]
        own = [s for s in of_day if s["dock_id"] == dock]
        timed = [s for s in own if not _blank(s["loading_started_at"])]
        assert (row["loadings"], row["loadings_without_start"]) == (len(own), len(own) - len(timed))
        busy: set[datetime] = set()
        allowed = 0.0
        for s in timed:
            a = max(_t(s["loading_started_at"]), ws)  # type: ignore[type-var]
            b = min(_t(s["departed_at"]) or we, we)
            busy |= _minutes_of(a, b)
            allowed += max((b - a).total_seconds() / 60, 0)
        departures = [
            d for s in w["shipments"] if s["dock_id"] == dock and (d := _t(s["departed_at"]))
        ]
        if never_departed:
            assert row["departures"] is None
        else:
            assert row["departures"] == sum(1 for d in departures if START <= d < END)
            before = sum(1 for d in departures if HISTORY_START <= d < START)
            assert row["departures_mean_7d"] == (round(before / 7, 1) if departed_before else None)
        if own and (never_departed or not timed):
            assert row["busy_minutes"] is row["utilisation_pct"] is row["idle"] is None
            continue
        # Utilisation never exceeds what the loadings allow, nor the window.
        assert row["busy_minutes"] == len(busy) <= allowed
        assert row["utilisation_pct"] == (round(len(busy) / window * 100, 1) if window else None)
        assert row["utilisation_pct"] is None or row["utilisation_pct"] <= 100
        if len(timed) < len(own):
            assert row["longest_idle_minutes"] is None and row["idle"] is None
            continue
        free = sorted(_minutes_of(ws, we) - busy)
        assert row["longest_idle_minutes"] == _longest_run(free)
        assert row["idle"] == (not own or _longest_run(free) >= Rules().idle_gap_minutes)
    assert idle["idle_count"] == sum(1 for d in idle["docks"] if d["idle"])


@settings(
    max_examples=60,
    deadline=None,  # a loaded 2-core machine: time per example varies, figures do not
    derandomize=True,  # the same examples on every run, so CI is stable
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(warehouses())
def test_every_figure_equals_a_direct_computation(w: dict[str, list[dict[str, Any]]]) -> None:
    m = analyse(w, DAY)
    _check_picks(m, w)
    _check_late_orders(m, w)
    _check_docks(m, w)
