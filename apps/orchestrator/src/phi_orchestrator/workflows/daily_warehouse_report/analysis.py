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

No figure is made up from a column the data leaves empty: a figure whose rows all leave a
needed column empty is None, with the reason beside it (a ``not_available`` entry in the same
section or row, naming the column); a column empty in some of the rows is counted in
``data_gaps`` (how many of which rows, and what the report did with them). Which figures each
nullable column carries is declared in the data contract (``figures_when_empty``).

The result, :class:`DailyAnalysis`, is a plain dict (it is stored in the task's output and in
the workflow's checkpoints as JSON) typed section by section: it is the contract the report,
the narrative and the charts read. One function computes each section.
"""

from __future__ import annotations

import copy
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, NotRequired, TypedDict

from phi_agent_config.data_contract import TIMESTAMP_PATTERN, WAREHOUSE

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
    late_spike_ratio: float = 2.0
    late_spike_points: float = 5.0
    max_listed: int = 10

    def describe(self) -> list[str]:
        return [
            "Comparisons: the day against the previous day and the mean of the 7 days before "
            "it (a day without picks counts as zero; with no picks in all 7 days the mean is "
            "not available).",
            "Late order: due during the day, not cancelled, and first shipped after its due "
            "time, or not shipped by the end of the day.",
            f"Late-order spike: the day's late-order rate at least {self.late_spike_ratio:g}x "
            f"and {self.late_spike_points:g} points above the rate of the 7 days before (all "
            "their late orders over all their orders due, each day by the same rule).",
            f"Idle dock: no loading during the operating window, or a gap of at least "
            f"{self.idle_gap_minutes} minutes between loadings. A dock's departures are "
            "compared with its mean per day over the 7 days before.",
            "Picker outlier: median relative pick time (pick time / the day's median pick time "
            f"in its zone) with a modified z-score beyond ±{self.outlier_z} among the day's "
            f"pickers with at least {self.min_picks} picks; shown with the picker's own "
            "relative pick time over the 7 days before.",
            f"Slow zone: median pick time at least {self.slow_zone_ratio:g}x the zone's median "
            "over the 7 days before.",
            f"Slow pick: duration above Q3 + {self.slow_pick_iqr_k:g} x IQR of the day's pick "
            "durations; the share of the 7 days' picks above the same threshold is the "
            "baseline.",
        ]


# The accepted forms are the data contract's (phi_agent_config.data_contract): ISO 8601 with
# `T` or a space, optional seconds, fraction and offset. Stricter than datetime.fromisoformat
# on purpose: the basic form (20261124T1015), week dates or a bare date would not compare like
# the queries' bounds in a text column, so they are refused rather than silently dropped.
ACCEPTED_TIMESTAMPS = (
    "ISO 8601 with `T` or a space between date and time, optional seconds and fraction, "
    "optional offset (e.g. 2026-11-24 09:15:00, 2026-11-24T09:15:00.250+01:00)"
)
# The contract's timestamp columns, by table.
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: columns
    for table in WAREHOUSE.tables
    if (columns := tuple(c.name for c in table.columns if c.type == "timestamp"))
}


class UnreadableData(ValueError):
    """A value of the customer's data the report cannot read (the message says where)."""


def parse_time(value: Any, zone: tzinfo | None = None) -> datetime | None:
    """A contract timestamp (ISO text or datetime) as a naive datetime in the warehouse's
    local time: a value with an offset is converted to ``zone`` (the org's time zone, UTC when
    not given), a value without one is taken as local already. None if empty; ValueError if it
    is not one of the accepted forms."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value  # already read (the analysis reads each column once, then often)
        parsed = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and TIMESTAMP_PATTERN.fullmatch(value.strip()):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(zone or UTC)
    return parsed.replace(tzinfo=None)


def read_times(tables: Tables, zone: tzinfo | None = None) -> dict[str, list[dict[str, Any]]]:
    """The tables with every contract timestamp as a naive local datetime (or None).

    Raises :class:`UnreadableData` naming the table, the column, a sample value and how many
    values are unreadable: a report computed on the rows it could read would look complete
    and be wrong (a day of orders due silently missing)."""
    out = {name: list(rows) for name, rows in tables.items()}
    for table, columns in TIME_COLUMNS.items():
        rows = []
        for original in out.get(table, []):
            row = copy.copy(original)  # the row's own type, whatever mapping the caller gave
            for column in columns:
                try:
                    row[column] = parse_time(original.get(column), zone)
                except ValueError:
                    bad = [r.get(column) for r in tables[table]]
                    count = sum(1 for v in bad if not _readable(v))
                    raise UnreadableData(
                        f"{table}.{column} holds a value the report cannot read as a "
                        f"timestamp: {str(row.get(column))[:80]!r} ({count} of {len(bad)} "
                        f"rows); accepted: {ACCEPTED_TIMESTAMPS}"
                    ) from None
            rows.append(row)
        if table in out:
            out[table] = rows
    return out


def check_time_ranges(ranges: Mapping[str, Iterable[Any]], zone: tzinfo | None = None) -> None:
    """Raise :class:`UnreadableData` when the lowest or highest value of a filtered timestamp
    column (``{"picks.completed_at": [lowest, highest]}``) is not a timestamp: rows holding
    such values sort outside the queries' bounds and were never read, so a report on the
    rest could miss the whole day."""
    for column, values in ranges.items():
        for which, value in zip(("lowest", "highest"), values, strict=False):
            try:
                parse_time(value, zone)
            except ValueError:
                raise UnreadableData(
                    f"{column} holds a value the report cannot read as a timestamp: "
                    f"{str(value)[:80]!r} (its {which} value; the day's query leaves rows in "
                    f"this form out, so the report would miss them); accepted: "
                    f"{ACCEPTED_TIMESTAMPS}"
                ) from None


def _readable(value: Any) -> bool:
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def _empty(value: Any) -> bool:
    """Empty as the contract means it: NULL, or text with nothing in it."""
    return value is None or (isinstance(value, str) and not value.strip())


def _quantity(value: Any) -> float | None:
    return None if _empty(value) else float(value)


def _units(value: float) -> float:
    """A quantity of units: a whole number as an int (2360, not 2360.0), else to 0.1."""
    value = round(float(value), 1)
    return int(value) if value.is_integer() else value


def pct_change(current: float, base: float) -> float | None:
    """Percent change from ``base``; None when there is no base to compare with."""
    if base == 0:
        return None
    return round((current - base) / base * 100, 1)


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


@dataclass
class _Pick:
    picker_id: str  # "unknown" when the row names none (picker_known is False)
    zone_id: str  # "unknown" likewise
    quantity: float | None
    started: datetime | None
    completed: datetime
    picker_known: bool = True
    zone_known: bool = True

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
        picker, zone = row.get("picker_id"), row.get("zone_id")
        picks.append(
            _Pick(
                picker_id="unknown" if _empty(picker) else str(picker),
                zone_id="unknown" if _empty(zone) else str(zone),
                quantity=_quantity(row.get("quantity")),
                started=parse_time(row.get("started_at")),
                completed=completed,
                picker_known=not _empty(picker),
                zone_known=not _empty(zone),
            )
        )
    return picks


# -- figures the data cannot give ----------------------------------------------------------


class NotAvailable(TypedDict):
    """Why a figure is None although its section has rows: the column it needs is empty in
    every one of them (``empty_column``), or the days its baseline needs have no data
    (``no_baseline``). ``text`` is what the report prints in brackets."""

    reason: str
    text: str
    column: NotRequired[str]  # "table.column", with empty_column
    empty_rows: NotRequired[int]  # of the rows the figure needs, those leaving it empty
    rows: NotRequired[int]


def empty_column(column: str, rows: int, empty_rows: int | None = None) -> NotAvailable:
    empty = rows if empty_rows is None else empty_rows
    return {
        "reason": "empty_column",
        "text": f"{column} is empty" + (f" in {empty} of {rows} rows" if empty < rows else ""),
        "column": column,
        "empty_rows": empty,
        "rows": rows,
    }


def no_baseline(what: str) -> NotAvailable:
    return {"reason": "no_baseline", "text": f"no {what} in the {HISTORY_DAYS} days before"}


class DataGap(TypedDict):
    """A column the day's figures read that some of their rows leave empty (or hold an
    impossible value in): how many, of which rows, and what the report did with them."""

    column: str
    problem: str  # "empty", or e.g. "later than completed_at"
    rows_affected: int
    rows: int
    of: str  # which rows, e.g. "picks of the day"
    effect: str


def _when_null(column: str) -> str:
    table, name = column.split(".")
    return next(c.when_null or "" for c in WAREHOUSE.table(table).columns if c.name == name)


def _gap(column: str, affected: int, rows: int, of: str, problem: str = "empty") -> list[DataGap]:
    if not affected:
        return []
    effect = _when_null(column) if problem == "empty" else ""
    return [
        {
            "column": column,
            "problem": problem,
            "rows_affected": affected,
            "rows": rows,
            "of": of,
            "effect": effect,
        }
    ]


# -- the result, section by section -------------------------------------------------------


class Comparison(TypedDict):
    """A count of picks on the day against the previous day and the 7-day mean."""

    picks: int
    previous_day_picks: int
    mean_7d_picks: float | None  # None when none of the 7 days has a pick at all
    change_vs_previous_day_pct: float | None
    change_vs_mean_7d_pct: float | None
    not_available: NotRequired[dict[str, NotAvailable]]


class Totals(Comparison):
    units: float | None
    active_pickers: int | None  # pickers named by the day's picks ('unknown' is none)


class HourRow(Comparison):
    hour: int


class ZoneRow(Comparison):
    zone_id: str
    name: str
    units: float | None
    median_pick_seconds: float | None
    median_pick_seconds_7d: float | None
    pick_time_ratio_vs_7d: float | None
    slow: bool | None


class PickerRow(Comparison):
    picker_id: str
    name: str
    units: float | None
    active_minutes: float | None
    picks_per_hour: float | None
    median_pick_seconds: float | None
    # The picker's median of pick time / the day's median pick time in the pick's zone.
    relative_pick_time: float | None
    # The same over the 7 days before (each pick against its own day's zone median).
    relative_pick_time_7d: float | None


class LateOrder(TypedDict):
    order_id: str
    customer: Any
    due_at: str
    shipped_at: str | None
    minutes_late: float
    shipped: bool


class LateOrders(TypedDict):
    orders_due: int | None
    late: int | None
    not_shipped: int | None
    late_pct: float | None
    # The 7 days before, each day by the same rule: their late orders over their orders due.
    baseline_orders_due: int | None
    baseline_late: int | None
    baseline_late_pct: float | None
    spike: bool | None  # see Rules.describe
    orders: list[LateOrder] | None  # the latest first, at most Rules.max_listed
    not_available: NotRequired[dict[str, NotAvailable]]


class DockRow(TypedDict):
    dock_id: str
    name: str
    loadings: int
    # Loadings without a start: not in busy minutes, and they leave the idle gaps unknown.
    loadings_without_start: int
    busy_minutes: float | None
    utilisation_pct: float | None
    longest_idle_minutes: float | None
    idle: bool | None
    departures: int | None  # shipments that left this dock on the day
    departures_mean_7d: float | None  # per day over the 7 days before
    departures_vs_mean_7d_pct: float | None
    not_available: NotRequired[dict[str, NotAvailable]]


class IdleDocks(TypedDict):
    # The operating window (first to last activity of the day); None on a day without any.
    window_start: str | None
    window_end: str | None
    docks: list[DockRow]
    idle_count: int
    # Docks whose idleness the data cannot tell (idle is None).
    idle_unknown: int
    # Shipments of the day whose row names no dock: counted for none (not as a dock "None").
    shipments_without_dock: int


class PickerOutlier(TypedDict):
    picker_id: str
    name: str
    median_pick_seconds: float | None
    relative_pick_time: float
    relative_pick_time_7d: float | None
    pickers_median_relative: float
    modified_z: float
    direction: str  # "slow" or "fast"


class SlowZone(TypedDict):
    zone_id: str
    name: str
    median_pick_seconds: float | None
    median_pick_seconds_7d: float | None
    pick_time_ratio_vs_7d: float | None


class SlowPicks(TypedDict):
    # None, and no median, when the day has fewer than 4 timed picks.
    threshold_minutes: float | None
    median_minutes: NotRequired[float]
    count: int | None
    slowest_minutes: list[float]
    # Of the timed picks: the day's share above the threshold, and the 7 days' before.
    share_pct: NotRequired[float]
    share_7d_pct: NotRequired[float | None]
    not_available: NotRequired[dict[str, NotAvailable]]


class Outliers(TypedDict):
    pickers: list[PickerOutlier] | None
    slow_zones: list[SlowZone] | None
    slow_picks: SlowPicks
    not_available: NotRequired[dict[str, NotAvailable]]


class DailyAnalysis(TypedDict):
    """Every figure of the daily report for one day."""

    day: str
    history_days: int
    rules: dict[str, float]
    rules_text: list[str]
    totals: Totals
    by_hour: list[HourRow]
    by_zone: list[ZoneRow]
    by_picker: list[PickerRow]
    late_orders: LateOrders
    idle_docks: IdleDocks
    outliers: Outliers
    data_gaps: list[DataGap]


# -- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    """The day and the 7 days before it, as dates and as the day's bounds."""

    day: date
    history: list[date]
    start: datetime
    end: datetime

    @classmethod
    def of(cls, day: date) -> _Period:
        start = datetime(day.year, day.month, day.day)
        history = [day - timedelta(days=i) for i in range(HISTORY_DAYS, 0, -1)]
        return cls(day, history, start, start + timedelta(days=1))

    @property
    def days(self) -> list[date]:
        return [*self.history, self.day]

    @property
    def history_start(self) -> datetime:
        first = self.history[0]
        return datetime(first.year, first.month, first.day)


@dataclass(frozen=True)
class _Shipment:
    dock_id: str  # "" when the row names no dock
    loading: datetime | None
    departed: datetime | None


def _names(rows: Iterable[Row], key: str) -> dict[str, str]:
    return {str(r[key]): r.get("name") or str(r[key]) for r in rows}


def _counts_by_day(picks: list[_Pick], days: list[date], key: Any) -> dict[date, dict[Any, int]]:
    out: dict[date, dict[Any, int]] = {d: defaultdict(int) for d in days}
    for p in picks:
        d = p.completed.date()
        if d in out:
            out[d][key(p)] += 1
    return out


def _comparison(
    name: Any, by_day: dict[date, dict[Any, int]], day: date, history: list[date]
) -> Comparison:
    today = by_day[day].get(name, 0)
    previous = by_day[day - timedelta(days=1)].get(name, 0)
    row: Comparison = {
        "picks": today,
        "previous_day_picks": previous,
        "mean_7d_picks": None,
        "change_vs_previous_day_pct": pct_change(today, previous),
        "change_vs_mean_7d_pct": None,
    }
    if not any(n for d in history for n in by_day[d].values()):
        # Not one pick in 7 days is missing data, not a mean of zero.
        row["not_available"] = {
            "mean_7d_picks": no_baseline("picks"),
            "change_vs_mean_7d_pct": no_baseline("picks"),
        }
        return row
    mean7 = round(sum(by_day[d].get(name, 0) for d in history) / len(history), 1)
    row["mean_7d_picks"] = mean7
    row["change_vs_mean_7d_pct"] = pct_change(today, mean7)
    return row


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile (the 'inclusive' method of statistics.quantiles)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


# -- one function per section -------------------------------------------------------------


def _units_of(picks: list[_Pick]) -> float | None:
    """Units of the picks that state a quantity; None when picks there are but none does."""
    quantities = [p.quantity for p in picks if p.quantity is not None]
    if picks and not quantities:
        return None
    return _units(sum(quantities))


def _untimed(picks: list[_Pick]) -> NotAvailable | None:
    """Why none of ``picks`` has a pick time, if so (None when one has, or there are none)."""
    if not picks or any(p.seconds is not None for p in picks):
        return None
    return empty_column("picks.started_at", len(picks), sum(1 for p in picks if p.started is None))


def _with_reasons(row: Any, missing: dict[str, NotAvailable]) -> Any:
    if missing:
        row["not_available"] = {**row.get("not_available", {}), **missing}
    return row


def totals(picks: list[_Pick], picks_today: list[_Pick], period: _Period) -> Totals:
    """Picks of the day against the previous day and the 7-day mean; units; active pickers."""
    by_day = _counts_by_day(picks, period.days, lambda p: "all")
    n = len(picks_today)
    named = {p.picker_id for p in picks_today if p.picker_known}
    row: Totals = {
        **_comparison("all", by_day, period.day, period.history),
        "units": _units_of(picks_today),
        "active_pickers": len(named) if named or not n else None,
    }
    missing: dict[str, NotAvailable] = {}
    if row["units"] is None:
        missing["units"] = empty_column("picks.quantity", n)
    if row["active_pickers"] is None:
        missing["active_pickers"] = empty_column("picks.picker_id", n)
    return _with_reasons(row, missing)  # type: ignore[no-any-return]


def by_hour(picks: list[_Pick], period: _Period) -> list[HourRow]:
    """Every hour with picks on any of the 8 days, compared like the totals."""
    by_day = _counts_by_day(picks, period.days, lambda p: p.completed.hour)
    hours = sorted({h for d in period.days for h, n in by_day[d].items() if n})
    return [{"hour": h, **_comparison(h, by_day, period.day, period.history)} for h in hours]


def by_zone(
    picks: list[_Pick],
    picks_today: list[_Pick],
    zones: Mapping[str, str],
    period: _Period,
    rules: Rules,
) -> list[ZoneRow]:
    """Every zone: its picks compared, its median pick time against its 7 days before."""
    by_day = _counts_by_day(picks, period.days, lambda p: p.zone_id)
    zone_ids = sorted(set(zones) | {z for d in period.days for z in by_day[d]})
    today: dict[str, list[_Pick]] = defaultdict(list)
    for p in picks_today:
        today[p.zone_id].append(p)
    history: dict[str, list[_Pick]] = defaultdict(list)
    for p in picks:
        if period.history_start <= p.completed < period.start:
            history[p.zone_id].append(p)
    rows: list[ZoneRow] = []
    for z in zone_ids:
        own, before = today.get(z, []), history.get(z, [])
        missing: dict[str, NotAvailable] = {}
        units = _units_of(own)
        if units is None:
            missing["units"] = empty_column("picks.quantity", len(own))
        today_median = _median_seconds(own)
        history_median = _median_seconds(before)
        if (reason := _untimed(own)) is not None:
            missing["median_pick_seconds"] = reason
        if (reason := _untimed(before)) is not None:
            missing["median_pick_seconds_7d"] = reason
        elif own and not before:
            missing["median_pick_seconds_7d"] = no_baseline("picks in this zone")
        ratio = (
            round(today_median / history_median, 2)
            if today_median is not None and history_median
            else None
        )
        slow: bool | None = ratio is not None and ratio >= rules.slow_zone_ratio
        if own and not own[0].zone_known:
            # The picks that name no zone: one bucket of many zones, never rated.
            slow = None
            missing["slow"] = empty_column("picks.zone_id", len(own))
        elif ratio is None and own:
            cause = missing.get("median_pick_seconds") or missing.get("median_pick_seconds_7d")
            if cause is not None:
                missing["pick_time_ratio_vs_7d"] = missing["slow"] = cause
                slow = None
        rows.append(
            _with_reasons(
                {
                    "zone_id": z,
                    "name": zones.get(z, z),
                    "units": units,
                    **_comparison(z, by_day, period.day, period.history),
                    "median_pick_seconds": today_median,
                    "median_pick_seconds_7d": history_median,
                    "pick_time_ratio_vs_7d": ratio,
                    "slow": slow,
                },
                missing,
            )
        )
    return rows


def by_picker(
    picks: list[_Pick],
    picks_today: list[_Pick],
    pickers: Mapping[str, str],
    zone_rows: list[ZoneRow],
    period: _Period,
) -> list[PickerRow]:
    """Every picker of the day or of the 7 days before: picks compared, pace, and pick time
    relative to the day's zone medians (what the outlier rule rates)."""
    by_day = _counts_by_day(picks, period.days, lambda p: p.picker_id)
    today: dict[str, list[_Pick]] = defaultdict(list)
    for p in picks_today:
        today[p.picker_id].append(p)
    zone_median = {z["zone_id"]: z["median_pick_seconds"] for z in zone_rows}
    relative: dict[str, list[float]] = defaultdict(list)
    for p in picks_today:
        seconds, base = p.seconds, zone_median.get(p.zone_id)
        if seconds is not None and base:
            relative[p.picker_id].append(seconds / base)
    # The same measure over the 7 days before: each pick against its own day's zone median.
    history = [p for p in picks if period.history_start <= p.completed < period.start]
    day_zone: dict[tuple[date, str], list[float]] = defaultdict(list)
    for p in history:
        if (seconds := p.seconds) is not None:
            day_zone[(p.completed.date(), p.zone_id)].append(seconds)
    day_zone_median = {k: statistics.median(v) for k, v in day_zone.items()}
    relative_before: dict[str, list[float]] = defaultdict(list)
    history_by_picker: dict[str, list[_Pick]] = defaultdict(list)
    for p in history:
        history_by_picker[p.picker_id].append(p)
        base = day_zone_median.get((p.completed.date(), p.zone_id))
        if (seconds := p.seconds) is not None and base:
            relative_before[p.picker_id].append(seconds / base)
    picker_ids = sorted(set(today) | {k for d in period.history for k in by_day[d]})
    rows: list[PickerRow] = []
    for pid in picker_ids:
        own = today.get(pid, [])
        missing: dict[str, NotAvailable] = {}
        before = relative_before.get(pid)
        if own and not before:
            reason = _untimed(history_by_picker.get(pid, []))
            missing["relative_pick_time_7d"] = reason or no_baseline("timed picks by this picker")
        units = _units_of(own)
        if units is None:
            missing["units"] = empty_column("picks.quantity", len(own))
        active_minutes: float | None = 0.0
        picks_per_hour = None
        if own and all(p.started is None for p in own):
            # From the first pick's start: without any start the span is unknown.
            active_minutes = None
            missing["active_minutes"] = missing["picks_per_hour"] = empty_column(
                "picks.started_at", len(own)
            )
        elif own:
            first = min((p.started or p.completed) for p in own)
            last = max(p.completed for p in own)
            active_minutes = max(_minutes(last - first), 1.0)
            picks_per_hour = round(len(own) / (active_minutes / 60), 1)
        if (reason := _untimed(own)) is not None:
            missing["median_pick_seconds"] = missing["relative_pick_time"] = reason
        values = relative.get(pid)
        rows.append(
            _with_reasons(
                {
                    "picker_id": pid,
                    "name": pickers.get(pid, pid),
                    "units": units,
                    **_comparison(pid, by_day, period.day, period.history),
                    "active_minutes": active_minutes,
                    "picks_per_hour": picks_per_hour,
                    "median_pick_seconds": _median_seconds(own),
                    "relative_pick_time": round(statistics.median(values), 2) if values else None,
                    "relative_pick_time_7d": round(statistics.median(before), 2)
                    if before
                    else None,
                },
                missing,
            )
        )
    return rows


def _shipments(rows: Iterable[Row]) -> list[_Shipment]:
    return [
        _Shipment(
            "" if _empty(s.get("dock_id")) else str(s.get("dock_id")),
            parse_time(s.get("loading_started_at")),
            parse_time(s.get("departed_at")),
        )
        for s in rows
    ]


def _all_empty(rows: Sequence[Row], column: str) -> bool:
    return bool(rows) and all(_empty(r.get(column)) for r in rows)


def _first_departures(shipment_rows: Sequence[Row]) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for s in shipment_rows:
        departed = parse_time(s.get("departed_at"))
        oid = str(s.get("order_id"))
        if departed is not None and (oid not in first or departed < first[oid]):
            first[oid] = departed
    return first


def _late_on(
    orders: Sequence[Row], first_departure: Mapping[str, datetime], start: datetime
) -> tuple[int, list[LateOrder]]:
    """Orders due on the day from ``start`` (not cancelled), and the late ones among them."""
    end = start + timedelta(days=1)
    orders_due = 0
    late: list[LateOrder] = []
    for o in orders:
        due = parse_time(o.get("due_at"))
        if due is None or not start <= due < end or o.get("status") == "CANCELLED":
            continue
        orders_due += 1
        oid = str(o["order_id"])
        shipped = first_departure.get(oid)
        if shipped is not None and shipped <= due:
            continue
        left = shipped is not None and shipped < end
        late.append(
            {
                "order_id": oid,
                "customer": o.get("customer"),
                "due_at": due.isoformat(),
                "shipped_at": shipped.isoformat() if left and shipped else None,
                "minutes_late": _minutes((shipped if left and shipped else end) - due),
                "shipped": left,
            }
        )
    return orders_due, late


def late_orders(
    orders: Sequence[Row], shipment_rows: Sequence[Row], period: _Period, rules: Rules
) -> LateOrders:
    """Orders due on the day (not cancelled) that left after their due time or not at all,
    against the same rate over the 7 days before."""
    result: LateOrders = {
        "orders_due": None,
        "late": None,
        "not_shipped": None,
        "late_pct": None,
        "baseline_orders_due": None,
        "baseline_late": None,
        "baseline_late_pct": None,
        "spike": None,
        "orders": None,
    }
    if _all_empty(orders, "due_at"):
        reason = empty_column("orders.due_at", len(orders))
        result["not_available"] = {k: reason for k in _LATE_KEYS}
        return result
    first_departure = _first_departures(shipment_rows)
    orders_due, late = _late_on(orders, first_departure, period.start)
    baseline = [_late_on(orders, first_departure, _Period.of(d).start) for d in period.history]
    result["orders_due"] = orders_due
    result["baseline_orders_due"] = sum(due for due, _ in baseline)
    # Which order a shipment ships and when it left decide lateness: without either in any
    # shipment row, every order due would look unshipped.
    for column in ("order_id", "departed_at"):
        if (orders_due or result["baseline_orders_due"]) and _all_empty(shipment_rows, column):
            reason = empty_column(f"shipments.{column}", len(shipment_rows))
            result["not_available"] = {
                k: reason for k in _LATE_KEYS if k not in ("orders_due", "baseline_orders_due")
            }
            return result
    late.sort(key=lambda r: (-float(r["minutes_late"] or 0), str(r["order_id"])))
    late_pct = round(len(late) / orders_due * 100, 1) if orders_due else None
    base_due = result["baseline_orders_due"] or 0
    base_late = sum(len(rows) for _, rows in baseline)
    base_pct = round(base_late / base_due * 100, 1) if base_due else None
    result.update(
        {
            "late": len(late),
            "not_shipped": sum(1 for r in late if not r["shipped"]),
            "late_pct": late_pct,
            "baseline_late": base_late,
            "baseline_late_pct": base_pct,
            "orders": late[: rules.max_listed],
        }
    )
    if base_pct is None:
        result["not_available"] = {"baseline_late_pct": no_baseline("orders due")}
    if not orders_due:
        result["spike"] = False
    elif base_pct is None:
        result["not_available"]["spike"] = no_baseline("orders due")
    else:
        assert late_pct is not None
        result["spike"] = (
            late_pct >= rules.late_spike_ratio * base_pct
            and late_pct - base_pct >= rules.late_spike_points
        )
    return result


_LATE_KEYS = (
    "orders_due",
    "late",
    "not_shipped",
    "late_pct",
    "baseline_orders_due",
    "baseline_late",
    "baseline_late_pct",
    "spike",
    "orders",
)
_DOCK_TIME_KEYS = ("busy_minutes", "utilisation_pct", "longest_idle_minutes", "idle")
_DEPARTURE_KEYS = ("departures", "departures_mean_7d", "departures_vs_mean_7d_pct")


def _shipments_of_day(shipments: list[_Shipment], period: _Period) -> list[_Shipment]:
    return [
        s
        for s in shipments
        if (s.loading and period.start <= s.loading < period.end)
        or (s.departed and period.start <= s.departed < period.end)
    ]


def idle_docks(
    picks_today: list[_Pick],
    shipments: list[_Shipment],
    docks: Mapping[str, str],
    period: _Period,
    rules: Rules,
) -> IdleDocks:
    """Each dock's loadings within the day's operating window and its longest gap."""
    day_start, day_end = period.start, period.end
    shipments_today = _shipments_of_day(shipments, period)
    activity = [t for p in picks_today for t in (p.started, p.completed) if t is not None]
    activity += [t for s in shipments_today for t in (s.loading, s.departed) if t is not None]
    activity = [t for t in activity if day_start <= t < day_end]
    if not activity:
        return {
            "window_start": None,
            "window_end": None,
            "docks": [],
            "idle_count": 0,
            "idle_unknown": 0,
            "shipments_without_dock": 0,
        }
    window_start, window_end = min(activity), max(activity)
    window = _minutes(window_end - window_start)
    # No shipment read has departed: a loading's end is unknown everywhere (each would be
    # taken as busy to the window's end).
    never_departed = bool(shipments) and all(s.departed is None for s in shipments)
    departures: dict[date, dict[str, int]] = {d: defaultdict(int) for d in period.days}
    for s in shipments:
        if s.departed is not None and s.dock_id and s.departed.date() in departures:
            departures[s.departed.date()][s.dock_id] += 1
    departed_before = any(departures[d] for d in period.history)
    rows: list[DockRow] = []
    for dock_id in sorted((set(docks) | {s.dock_id for s in shipments_today}) - {""}):
        own = [s for s in shipments_today if s.dock_id == dock_id]
        timed = [s for s in own if s.loading is not None]
        without_start = len(own) - len(timed)
        spans = sorted(
            (max(s.loading, window_start), min(s.departed or window_end, window_end))
            for s in timed
            if s.loading is not None
        )
        # Every shipment of the day is a loading, even one that takes no time in the window;
        # only spans with a length make the dock busy.
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
        row: DockRow = {
            "dock_id": dock_id,
            "name": docks.get(dock_id, dock_id),
            "loadings": len(own),
            "loadings_without_start": without_start,
            "busy_minutes": round(busy, 1),
            "utilisation_pct": round(busy / window * 100, 1) if window else None,
            "longest_idle_minutes": round(longest_gap, 1),
            "idle": not own or longest_gap >= rules.idle_gap_minutes,
            "departures": departures[period.day][dock_id],
            "departures_mean_7d": None,
            "departures_vs_mean_7d_pct": None,
        }
        missing: dict[str, NotAvailable] = {}
        if departed_before:
            mean = round(sum(departures[d][dock_id] for d in period.history) / HISTORY_DAYS, 1)
            row["departures_mean_7d"] = mean
            row["departures_vs_mean_7d_pct"] = pct_change(row["departures"] or 0, mean)
        elif not never_departed:
            reason = no_baseline("departures at any dock")
            missing = {"departures_mean_7d": reason, "departures_vs_mean_7d_pct": reason}
        if never_departed:
            reason = empty_column("shipments.departed_at", len(shipments))
            missing = {k: reason for k in _DEPARTURE_KEYS}
            if own:
                missing |= {
                    k: empty_column("shipments.departed_at", len(own)) for k in _DOCK_TIME_KEYS
                }
        elif own and not timed:
            reason = empty_column("shipments.loading_started_at", len(own))
            missing |= {k: reason for k in _DOCK_TIME_KEYS}
        elif without_start:
            # A loading of unknown start may fill any gap: busy time counts the others
            # (loadings_without_start says how many are left out), gaps are unknown.
            reason = empty_column("shipments.loading_started_at", len(own), without_start)
            missing |= {"longest_idle_minutes": reason, "idle": reason}
        for key in missing:
            row[key] = None  # type: ignore[literal-required]
        rows.append(_with_reasons(row, missing))
    return {
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "docks": rows,
        "idle_count": sum(1 for d in rows if d["idle"]),
        "idle_unknown": sum(1 for d in rows if d["idle"] is None),
        "shipments_without_dock": sum(1 for s in shipments_today if not s.dock_id),
    }


def picker_outliers(
    picker_rows: list[PickerRow], picks_today: list[_Pick], rules: Rules
) -> tuple[list[PickerOutlier] | None, NotAvailable | None]:
    """Pickers whose relative pick time has a modified z-score beyond ``rules.outlier_z``
    (None, and why, when the day's picks name no picker or have no pick time)."""
    if picks_today and not any(p.picker_known for p in picks_today):
        return None, empty_column("picks.picker_id", len(picks_today))
    if (reason := _untimed(picks_today)) is not None:
        return None, reason
    named = {p.picker_id for p in picks_today if p.picker_known}
    rated = [
        (r, r["relative_pick_time"])
        for r in picker_rows
        if r["picker_id"] in named
        and r["picks"] >= rules.min_picks
        and r["relative_pick_time"] is not None
    ]
    if len(rated) < 3:
        return [], None
    times = [t for _, t in rated if t is not None]
    median = statistics.median(times)
    mad = statistics.median(abs(x - median) for x in times)
    if mad <= 0:
        return [], None
    outliers: list[PickerOutlier] = []
    for r, t in rated:
        assert t is not None
        z = 0.6745 * (t - median) / mad
        if abs(z) > rules.outlier_z:
            outliers.append(
                {
                    "picker_id": r["picker_id"],
                    "name": r["name"],
                    "median_pick_seconds": r["median_pick_seconds"],
                    "relative_pick_time": t,
                    "relative_pick_time_7d": r["relative_pick_time_7d"],
                    "pickers_median_relative": round(median, 2),
                    "modified_z": round(z, 2),
                    "direction": "slow" if z > 0 else "fast",
                }
            )
    return outliers, None


def slow_zones(zone_rows: list[ZoneRow]) -> tuple[list[SlowZone] | None, NotAvailable | None]:
    """The zones flagged slow; None, and why, when no zone with picks could be rated."""
    with_picks = [z for z in zone_rows if z["picks"]]
    if with_picks and all(z["slow"] is None for z in with_picks):
        return None, with_picks[0].get("not_available", {}).get("slow")
    return [
        {
            "zone_id": z["zone_id"],
            "name": z["name"],
            "median_pick_seconds": z["median_pick_seconds"],
            "median_pick_seconds_7d": z["median_pick_seconds_7d"],
            "pick_time_ratio_vs_7d": z["pick_time_ratio_vs_7d"],
        }
        for z in zone_rows
        if z["slow"]
    ], None


def slow_picks(picks_today: list[_Pick], picks_before: list[_Pick], rules: Rules) -> SlowPicks:
    """Picks of the day slower than Q3 + k x IQR of the day's pick durations, and the share
    of the 7 days' picks before above the same threshold."""
    if (reason := _untimed(picks_today)) is not None:
        return {
            "threshold_minutes": None,
            "count": None,
            "slowest_minutes": [],
            "not_available": {"threshold_minutes": reason, "count": reason},
        }
    durations = sorted(
        _minutes(p.completed - p.started)
        for p in picks_today
        if p.started is not None and p.completed >= p.started
    )
    if len(durations) < 4:
        return {"threshold_minutes": None, "count": 0, "slowest_minutes": []}
    q1, q3 = _quantile(durations, 0.25), _quantile(durations, 0.75)
    threshold = round(q3 + rules.slow_pick_iqr_k * (q3 - q1), 1)
    over = [d for d in durations if d > threshold]
    before = [
        _minutes(p.completed - p.started)
        for p in picks_before
        if p.started is not None and p.completed >= p.started
    ]
    result: SlowPicks = {
        "threshold_minutes": threshold,
        "median_minutes": round(statistics.median(durations), 1),
        "count": len(over),
        "slowest_minutes": sorted(over, reverse=True)[:5],
        "share_pct": round(len(over) / len(durations) * 100, 1),
        "share_7d_pct": round(sum(1 for d in before if d > threshold) / len(before) * 100, 1)
        if before
        else None,
    }
    if not before:
        reason = _untimed(picks_before) or no_baseline("timed picks")
        result["not_available"] = {"share_7d_pct": reason}
    return result


def data_gaps(
    picks_today: list[_Pick],
    orders: Sequence[Row],
    shipment_rows: Sequence[Row],
    period: _Period,
) -> list[DataGap]:
    """The columns the day's figures read that some (or all) of their rows leave empty."""
    gaps: list[DataGap] = []
    n = len(picks_today)
    of = "picks of the day"
    gaps += _gap("picks.picker_id", sum(1 for p in picks_today if not p.picker_known), n, of)
    gaps += _gap("picks.zone_id", sum(1 for p in picks_today if not p.zone_known), n, of)
    gaps += _gap("picks.quantity", sum(1 for p in picks_today if p.quantity is None), n, of)
    gaps += _gap("picks.started_at", sum(1 for p in picks_today if p.started is None), n, of)
    backwards = sum(1 for p in picks_today if p.started is not None and p.started > p.completed)
    gaps += _gap("picks.started_at", backwards, n, of, "later than completed_at")
    if backwards:
        gaps[-1]["effect"] = "the pick has no duration (as if started_at were empty)"
    gaps += _gap(
        "orders.due_at",
        sum(1 for o in orders if _empty(o.get("due_at"))),
        len(orders),
        "orders read (due or created around the day)",
    )
    due = [
        o
        for o in orders
        if (d := parse_time(o.get("due_at"))) is not None and period.start <= d < period.end
    ]
    gaps += _gap(
        "orders.status", sum(1 for o in due if _empty(o.get("status"))), len(due), "orders due"
    )
    today = [
        r
        for r, s in zip(shipment_rows, _shipments(shipment_rows), strict=True)
        if s in _shipments_of_day([s], period)
    ]
    of = "shipments loading or departing on the day"
    for column in ("order_id", "loading_started_at", "departed_at"):
        empty = sum(1 for r in today if _empty(r.get(column)))
        gaps += _gap(f"shipments.{column}", empty, len(today), of)
    return gaps


def analyse(
    tables: Tables, day: date, rules: Rules | None = None, zone: tzinfo | None = None
) -> DailyAnalysis:
    """Every figure of the daily report for ``day`` from the contract's tables (timestamps
    with an offset are read in ``zone``, the org's time zone). Raises
    :class:`UnreadableData` on a timestamp it cannot read."""
    rules = rules or Rules()
    tables = read_times(tables, zone)
    period = _Period.of(day)
    picks = _picks(tables.get("picks", []))
    picks_today = [p for p in picks if period.start <= p.completed < period.end]
    zone_rows = by_zone(
        picks, picks_today, _names(tables.get("zones", []), "zone_id"), period, rules
    )
    picker_rows = by_picker(
        picks, picks_today, _names(tables.get("pickers", []), "picker_id"), zone_rows, period
    )
    orders = list(tables.get("orders", []))
    shipment_rows = list(tables.get("shipments", []))
    outlier_pickers, pickers_reason = picker_outliers(picker_rows, picks_today, rules)
    zones_slow, zones_reason = slow_zones(zone_rows)
    outliers: Outliers = {
        "pickers": outlier_pickers,
        "slow_zones": zones_slow,
        "slow_picks": slow_picks(
            picks_today,
            [p for p in picks if period.history_start <= p.completed < period.start],
            rules,
        ),
    }
    missing = {
        key: reason
        for key, reason in (("pickers", pickers_reason), ("slow_zones", zones_reason))
        if reason is not None
    }
    return {
        "day": day.isoformat(),
        "history_days": HISTORY_DAYS,
        "rules": asdict(rules),
        "rules_text": rules.describe(),
        "totals": totals(picks, picks_today, period),
        "by_hour": by_hour(picks, period),
        "by_zone": zone_rows,
        "by_picker": picker_rows,
        "late_orders": late_orders(orders, shipment_rows, period, rules),
        "idle_docks": idle_docks(
            picks_today,
            _shipments(shipment_rows),
            _names(tables.get("docks", []), "dock_id"),
            period,
            rules,
        ),
        "outliers": _with_reasons(outliers, missing),
        "data_gaps": data_gaps(picks_today, orders, shipment_rows, period),
    }
