"""A sample warehouse (WMS) in the warehouse data contract, with anomalies planted on its last day.

Both sides of the local-agent protocol need the same sample data: the orchestrator serves it
for the cloud-only ``data_source: "sample"``, and ``phi-agent demo-data`` writes it as SQLite and
file exports for a customer to try the product. So it lives here, in pure Python with the
standard library only, and is deterministic: the same ``end_date``, size and ``seed`` give the
same rows on every machine. A day's rows depend only on the day, the size, the seed and whether
the anomalies are planted on it, not on how many weeks are generated: two weeks and four weeks
ending on the same day hold the same rows for the days they share.

The data covers ``weeks`` whole weeks of days ending on ``end_date`` (inclusive). Timestamps are
ISO 8601 text without a zone (``2026-11-24T09:15:00``, warehouse local time), so a report's
``completed_at >= :day_start AND completed_at < :day_end`` compares correctly as text.

Each normal day: about ``orders_per_day`` orders created between 05:00 and 13:00, each due
8 hours after creation (so everything of a day, late departures included, happens that day),
with 1-5 lines in the zones of their SKUs. Every line is picked by a
picker (mostly from the line's zone), the order is loaded at one of six docks after its last
pick and departs. About 3 % of orders ship after ``due_at``, about 1 % are cancelled (lines, no
picks, no shipment). Inventory is one snapshot per SKU and day at 22:00.

Planted anomalies, all on ``end_date`` only (the report's day); :data:`PLANTED` holds the same
facts as data so tests can check that a report names them:

- **slow zone** ``Z-C`` (Cold chain): every pick there takes 2.4x its usual time (median
  about 200 s a pick against about 90 s on the previous days).
- **idle dock** ``D-4`` (Dock 4): no shipment is loaded there; on normal days it loads about a
  sixth of the shipments like the other five docks.
- **picker outlier** ``P-03`` (Ana Lindqvist, home zone ``Z-A``): every pick takes 4x the
  usual; her median pick time is more than 3x the median of the other pickers of her zone
  that day (on other days she is within their normal spread).
- **late-order spike**: about 35 % of the day's orders depart after their ``due_at`` (about
  3 % on normal days).
"""

from __future__ import annotations

import csv
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

#: The contract's tables and their columns, in order (docs/local-agent-protocol.md).
COLUMNS: dict[str, tuple[str, ...]] = {
    "zones": ("zone_id", "name"),
    "pickers": ("picker_id", "name", "home_zone_id"),
    "docks": ("dock_id", "name"),
    "orders": ("order_id", "customer", "created_at", "due_at", "status"),
    "order_lines": ("order_id", "line_no", "sku", "quantity", "zone_id"),
    "picks": (
        "pick_id",
        "order_id",
        "line_no",
        "picker_id",
        "zone_id",
        "sku",
        "quantity",
        "started_at",
        "completed_at",
    ),
    "shipments": (
        "shipment_id",
        "order_id",
        "dock_id",
        "carrier",
        "loading_started_at",
        "departed_at",
    ),
    "inventory": ("sku", "zone_id", "on_hand", "as_of"),
}

_INTEGER_COLUMNS = {"line_no", "quantity", "on_hand"}
_KEYS = {
    "zones": "zone_id",
    "pickers": "picker_id",
    "docks": "dock_id",
    "orders": "order_id",
    "picks": "pick_id",
    "shipments": "shipment_id",
}
#: Tables exported as one file per day, and the column that places a row in its day.
DAY_COLUMN: dict[str, str] = {
    "orders": "created_at",
    "order_lines": "order_id",  # the order's day, see write_csv
    "picks": "completed_at",
    "shipments": "departed_at",
    "inventory": "as_of",
}

_ZONES = [
    ("Z-A", "Ambient A", 70.0),
    ("Z-B", "Ambient B", 75.0),
    ("Z-C", "Cold chain", 80.0),
    ("Z-D", "Bulk", 90.0),
    ("Z-E", "Mezzanine", 75.0),
]
_DOCKS = [(f"D-{n}", f"Dock {n}") for n in range(1, 7)]
_PICKER_NAMES = [
    "Maria Santos", "Jonas Weber", "Ana Lindqvist", "Tom Becker", "Lena Kowalski",
    "Omar Haddad", "Sofia Rossi", "Piotr Nowak", "Chloe Martin", "Yusuf Demir",
    "Emma Jansen", "Luca Bianchi", "Nora Berg", "Ivan Petrov", "Aisha Khan",
    "David Cohen", "Mia Novak", "Felix Braun", "Sara Costa", "Ben Murphy",
    "Hana Sato", "Leo Dubois", "Eva Horvat", "Marek Dvorak", "Zoe Clarke",
]  # fmt: skip
_CUSTOMERS = [
    "Nordic Retail", "Alpine Foods", "Baltic Home", "Central Pharma", "Delta Garden",
    "Euro Outdoor", "Fresh Market", "Greenline Bio", "Harbor Tools", "Iberia Wines",
]  # fmt: skip
_CARRIERS = ["DHL Freight", "DB Schenker", "Kuehne+Nagel", "GLS", "DPD"]

SLOW_ZONE_FACTOR = 2.4
PICKER_OUTLIER_FACTOR = 4.0
LATE_SHARE_ON_DAY = 0.35
LATE_SHARE_NORMAL = 0.03

#: The anomalies planted on the last day (``end_date``); see the module docstring.
PLANTED: dict[str, dict[str, Any]] = {
    "slow_zone": {"zone_id": "Z-C", "name": "Cold chain", "pick_time_factor": SLOW_ZONE_FACTOR},
    "idle_dock": {"dock_id": "D-4", "name": "Dock 4", "shipments_on_day": 0},
    "picker_outlier": {
        "picker_id": "P-03",
        "name": "Ana Lindqvist",
        "home_zone_id": "Z-A",
        "pick_time_factor": PICKER_OUTLIER_FACTOR,
    },
    "late_order_spike": {
        "late_share_on_day": LATE_SHARE_ON_DAY,
        "late_share_normal": LATE_SHARE_NORMAL,
    },
}

Row = tuple[Any, ...]


@dataclass(frozen=True)
class WarehouseSample:
    """The generated tables: rows are tuples in :data:`COLUMNS` order."""

    start_date: date
    end_date: date
    tables: dict[str, list[Row]] = field(repr=False)

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """The rows of ``table`` as dicts keyed by column name."""
        columns = COLUMNS[table]
        for row in self.tables[table]:
            yield dict(zip(columns, row, strict=True))

    def day_bounds(self, day: date | None = None) -> dict[str, str]:
        """``day_start``/``day_end`` parameters of the report for ``day`` (default: the last)."""
        day = day or self.end_date
        start = datetime.combine(day, datetime.min.time())
        return {"day_start": _iso(start), "day_end": _iso(start + timedelta(days=1))}


def _iso(moment: datetime) -> str:
    # Every moment here is whole seconds, so isoformat() has no fraction (and is fast).
    return moment.isoformat()


def generate(
    end_date: date,
    *,
    weeks: int = 4,
    orders_per_day: int = 240,
    seed: int = 20261125,
) -> WarehouseSample:
    """Generate the sample warehouse for ``weeks`` weeks ending on ``end_date`` (inclusive)."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    if orders_per_day < 20:
        raise ValueError("orders_per_day must be at least 20 for the anomalies to show")

    # Every day draws from its own generator, seeded by the day itself and whether the
    # anomalies are planted on it: a day's rows do not depend on how many weeks come before
    # it, so the in-app sample (two weeks) and `phi-agent demo-data` (four by default) hold
    # the same rows for the report's day and the 7 days before it.
    def day_rng(day: date) -> random.Random:
        kind = "planted" if day == end_date else "normal"
        return random.Random(f"{seed}:{orders_per_day}:{day.isoformat()}:{kind}")

    steady = random.Random(f"{seed}:{orders_per_day}")  # what holds across days: paces, stock
    start_date = end_date - timedelta(days=7 * weeks - 1)

    zones: list[Row] = [(zid, name) for zid, name, _ in _ZONES]
    zone_seconds = {zid: seconds for zid, _, seconds in _ZONES}
    zone_ids = [z[0] for z in zones]
    pickers: list[Row] = [
        (f"P-{i + 1:02d}", name, zone_ids[i // 5]) for i, name in enumerate(_PICKER_NAMES)
    ]
    pickers_by_zone: dict[str, list[str]] = {zid: [] for zid in zone_ids}
    for picker_id, _, home in pickers:
        pickers_by_zone[home].append(picker_id)
    all_pickers = [p[0] for p in pickers]
    # Each picker has a steady personal pace; the outlier's is ordinary until the last day.
    pace = {pid: steady.uniform(0.88, 1.12) for pid in all_pickers}
    docks: list[Row] = list(_DOCKS)
    dock_ids = [d[0] for d in docks]

    skus = [(f"SKU-{n:05d}", zone_ids[n % len(zone_ids)]) for n in range(1, 401)]
    stock_level = {sku: steady.randint(300, 900) for sku, _ in skus}
    on_hand = dict(stock_level)

    slow_zone = PLANTED["slow_zone"]["zone_id"]
    idle_dock = PLANTED["idle_dock"]["dock_id"]
    outlier = PLANTED["picker_outlier"]["picker_id"]

    orders: list[Row] = []
    order_lines: list[Row] = []
    picks: list[Row] = []
    shipments: list[Row] = []
    inventory: list[Row] = []

    day = start_date
    while day <= end_date:
        last_day = day == end_date
        rng = day_rng(day)
        midnight = datetime.combine(day, datetime.min.time())
        stamp = f"{day:%Y%m%d}"
        count = max(1, round(orders_per_day * rng.uniform(0.9, 1.1)))
        created_times = sorted(
            midnight + timedelta(seconds=rng.randint(5 * 3600, 13 * 3600)) for _ in range(count)
        )
        picked_today: dict[str, int] = {}
        late_share = LATE_SHARE_ON_DAY if last_day else LATE_SHARE_NORMAL
        for n, created in enumerate(created_times, start=1):
            order_id = f"SO-{stamp}-{n:04d}"
            due = created + timedelta(hours=8)
            cancelled = rng.random() < 0.01
            status = "CANCELLED" if cancelled else "SHIPPED"
            orders.append((order_id, rng.choice(_CUSTOMERS), _iso(created), _iso(due), status))
            last_completed = created
            for line_no in range(1, rng.randint(1, 5) + 1):
                sku, zone_id = rng.choice(skus)
                quantity = rng.randint(1, 6)
                order_lines.append((order_id, line_no, sku, quantity, zone_id))
                if cancelled:
                    continue
                if last_day:
                    # On the report's day every picker stays in their home zone, so the picker
                    # outlier is compared with the same zone's pickers.
                    picker_id = rng.choice(pickers_by_zone[zone_id])
                elif rng.random() < 0.9:
                    picker_id = rng.choice(pickers_by_zone[zone_id])
                else:
                    picker_id = rng.choice(all_pickers)
                seconds = (zone_seconds[zone_id] + 6 * quantity) * pace[picker_id]
                seconds *= rng.lognormvariate(0, 0.2)
                if last_day and zone_id == slow_zone:
                    seconds *= SLOW_ZONE_FACTOR
                if last_day and picker_id == outlier:
                    seconds *= PICKER_OUTLIER_FACTOR
                started = created + timedelta(seconds=rng.randint(10 * 60, 90 * 60))
                completed = started + timedelta(seconds=round(seconds))
                last_completed = max(last_completed, completed)
                picks.append(
                    (
                        f"PK-{stamp}-{n:04d}-{line_no}",
                        order_id,
                        line_no,
                        picker_id,
                        zone_id,
                        sku,
                        quantity,
                        _iso(started),
                        _iso(completed),
                    )
                )
                picked_today[sku] = picked_today.get(sku, 0) + quantity
            if cancelled:
                continue
            loading = last_completed + timedelta(seconds=rng.randint(10 * 60, 40 * 60))
            departed = loading + timedelta(seconds=rng.randint(15 * 60, 35 * 60))
            if rng.random() < late_share:
                # A late order departs 20 minutes to 2.5 hours after it was due (still that day).
                departed = due + timedelta(seconds=rng.randint(20 * 60, 150 * 60))
                loading = min(loading, departed - timedelta(minutes=15))
            usable = [d for d in dock_ids if not (last_day and d == idle_dock)]
            shipments.append(
                (
                    f"SH-{stamp}-{n:04d}",
                    order_id,
                    rng.choice(usable),
                    rng.choice(_CARRIERS),
                    _iso(loading),
                    _iso(departed),
                )
            )
        as_of = _iso(midnight + timedelta(hours=22))
        for sku, zone_id in skus:
            level = on_hand[sku] - picked_today.get(sku, 0)
            if level < 60:
                level = stock_level[sku]  # replenished overnight
            on_hand[sku] = level
            inventory.append((sku, zone_id, level, as_of))
        day += timedelta(days=1)

    return WarehouseSample(
        start_date=start_date,
        end_date=end_date,
        tables={
            "zones": zones,
            "pickers": pickers,
            "docks": docks,
            "orders": orders,
            "order_lines": order_lines,
            "picks": picks,
            "shipments": shipments,
            "inventory": inventory,
        },
    )


def iter_rows(sample: WarehouseSample) -> Iterator[tuple[str, Row]]:
    """Every row of every table as ``(table, row)``, tables in :data:`COLUMNS` order."""
    for table in COLUMNS:
        for row in sample.tables[table]:
            yield table, row


def create_table_sql(table: str, dialect: str = "sqlite") -> str:
    """A ``CREATE TABLE`` for SQLite and PostgreSQL (text, integers, text timestamps), or for
    MySQL/MariaDB (``dialect="mysql"``: VARCHAR instead of TEXT, which MySQL cannot index
    or compare as a key without a length)."""
    text_kind = "VARCHAR(100)" if dialect == "mysql" else "TEXT"
    columns = []
    for column in COLUMNS[table]:
        kind = "INTEGER" if column in _INTEGER_COLUMNS else text_kind
        key = " PRIMARY KEY" if _KEYS.get(table) == column else ""
        columns.append(f"{column} {kind}{key}")
    return f"CREATE TABLE {table} ({', '.join(columns)})"


def write_sqlite(sample: WarehouseSample, path: str | Path) -> Path:
    """Write the sample as a new SQLite database at ``path`` (replacing an existing file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        fill_sqlite(sample, con)
    finally:
        con.close()
    return path


def fill_sqlite(sample: WarehouseSample, con: sqlite3.Connection) -> None:
    """Create the sample's tables and indexes in an empty SQLite database and fill them (the
    in-app sample reads an in-memory one with the report's own queries)."""
    with con:
        for table, columns in COLUMNS.items():
            con.execute(create_table_sql(table))
            marks = ", ".join("?" for _ in columns)
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", sample.tables[table])
        # The report filters by day on these; indexes keep it fast on bigger samples.
        con.execute("CREATE INDEX picks_completed_at ON picks (completed_at)")
        con.execute("CREATE INDEX orders_due_at ON orders (due_at)")
        con.execute("CREATE INDEX shipments_departed_at ON shipments (departed_at)")
        con.execute("CREATE INDEX order_lines_order ON order_lines (order_id)")


def write_csv(sample: WarehouseSample, directory: str | Path) -> list[Path]:
    """Write the contract's file exports: one CSV per table and day, one per reference table.

    ``picks``, ``orders``, ``shipments``, ``order_lines`` (by their order's day) and
    ``inventory`` go to ``<table>_YYYY-MM-DD.csv``; ``zones``, ``pickers``, ``docks`` to
    ``<table>.csv``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    order_day = {row[0]: row[2][:10] for row in sample.tables["orders"]}
    written: list[Path] = []
    for table, columns in COLUMNS.items():
        if table not in DAY_COLUMN:
            written.append(_write_one(directory / f"{table}.csv", columns, sample.tables[table]))
            continue
        by_day: dict[str, list[Row]] = {}
        index = columns.index(DAY_COLUMN[table])
        for row in sample.tables[table]:
            day = order_day[row[0]] if table == "order_lines" else str(row[index])[:10]
            by_day.setdefault(day, []).append(row)
        for day, rows in sorted(by_day.items()):
            written.append(_write_one(directory / f"{table}_{day}.csv", columns, rows))
    return written


def _write_one(path: Path, columns: tuple[str, ...], rows: list[Row]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


__all__ = [
    "COLUMNS",
    "DAY_COLUMN",
    "PLANTED",
    "WarehouseSample",
    "create_table_sql",
    "fill_sqlite",
    "generate",
    "iter_rows",
    "write_csv",
    "write_sqlite",
]
