"""The sample warehouse: deterministic, in the contract, and its planted anomalies are findable."""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from phi_agent_config.warehouse_sample import (
    COLUMNS,
    PLANTED,
    WarehouseSample,
    generate,
    iter_rows,
    write_csv,
    write_sqlite,
)

END = date(2026, 11, 24)


@pytest.fixture(scope="module")
def sample() -> WarehouseSample:
    return generate(END)


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _pick_seconds(sample: WarehouseSample, day: str, key: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for pick in sample.rows("picks"):
        if pick["completed_at"].startswith(day):
            out[pick[key]].append(_seconds(pick["started_at"], pick["completed_at"]))
    return out


def test_same_inputs_give_the_same_rows_and_a_seed_changes_them() -> None:
    small = generate(END, weeks=1, orders_per_day=40)
    assert small.tables == generate(END, weeks=1, orders_per_day=40).tables
    assert small.tables != generate(END, weeks=1, orders_per_day=40, seed=1).tables


def test_default_size_is_fast_and_covers_whole_weeks(sample: WarehouseSample) -> None:
    started = time.perf_counter()
    generate(END)
    assert time.perf_counter() - started < 5
    assert sample.start_date == END - timedelta(days=27)
    days = {o["created_at"][:10] for o in sample.rows("orders")}
    assert len(days) == 28 and max(days) == END.isoformat()
    assert len(sample.tables["picks"]) > 15_000


def test_rows_match_the_contract(sample: WarehouseSample) -> None:
    for table, row in iter_rows(sample):
        assert len(row) == len(COLUMNS[table])
    statuses = Counter(o["status"] for o in sample.rows("orders"))
    assert set(statuses) <= {"OPEN", "PICKED", "SHIPPED", "CANCELLED"}
    assert 0 < statuses["CANCELLED"] < statuses["SHIPPED"] / 20
    order_ids = {o["order_id"] for o in sample.rows("orders")}
    assert {p["order_id"] for p in sample.rows("picks")} <= order_ids
    for pick in sample.rows("picks"):
        assert pick["started_at"] < pick["completed_at"]
    for ship in sample.rows("shipments"):
        # Everything of a day happens that day, so a report's day window sees it whole.
        assert ship["loading_started_at"] < ship["departed_at"]
        assert ship["departed_at"][:10] == (
            f"{ship['shipment_id'][3:7]}-{ship['shipment_id'][7:9]}-{ship['shipment_id'][9:11]}"
        )


def test_slow_zone_is_planted_on_the_last_day_only(sample: WarehouseSample) -> None:
    zone = PLANTED["slow_zone"]["zone_id"]
    last = _pick_seconds(sample, END.isoformat(), "zone_id")
    before = _pick_seconds(sample, (END - timedelta(days=1)).isoformat(), "zone_id")
    ratios = {z: statistics.median(last[z]) / statistics.median(before[z]) for z in last}
    assert ratios[zone] > 2.0
    assert all(r < 1.3 for z, r in ratios.items() if z != zone)
    assert max(ratios, key=lambda z: ratios[z]) == zone


def test_idle_dock_loads_nothing_on_the_last_day(sample: WarehouseSample) -> None:
    dock = PLANTED["idle_dock"]["dock_id"]
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for ship in sample.rows("shipments"):
        per_day[ship["loading_started_at"][:10]][ship["dock_id"]] += 1
    last = per_day.pop(END.isoformat())
    assert last[dock] == 0
    assert all(last[d] > 20 for d in ("D-1", "D-2", "D-3", "D-5", "D-6"))
    assert all(counts[dock] > 20 for counts in per_day.values())


def test_picker_outlier_stands_out_from_her_zone_only_on_the_last_day(
    sample: WarehouseSample,
) -> None:
    outlier = PLANTED["picker_outlier"]
    for day, expect_outlier in ((END, True), (END - timedelta(days=3), False)):
        medians = {
            p: statistics.median(s)
            for p, s in _pick_seconds(sample, day.isoformat(), "picker_id").items()
        }
        zone_peers = [
            medians[p["picker_id"]]
            for p in sample.rows("pickers")
            if p["home_zone_id"] == outlier["home_zone_id"]
            and p["picker_id"] != outlier["picker_id"]
        ]
        ratio = medians[outlier["picker_id"]] / statistics.median(zone_peers)
        assert (ratio > 3) is expect_outlier, (day, ratio)


def test_late_order_spike_on_the_last_day(sample: WarehouseSample) -> None:
    due = {o["order_id"]: o["due_at"] for o in sample.rows("orders")}
    late: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ship in sample.rows("shipments"):
        day = due[ship["order_id"]][:10]
        total[day] += 1
        late[day] += ship["departed_at"] > due[ship["order_id"]]
    shares = {day: late[day] / total[day] for day in total}
    assert shares.pop(END.isoformat()) > 0.25
    assert max(shares.values()) < 0.09


def test_sqlite_holds_the_tables_and_answers_a_day_query(
    sample: WarehouseSample, tmp_path: Path
) -> None:
    path = write_sqlite(sample, tmp_path / "wms.sqlite")
    con = sqlite3.connect(path)
    for table in COLUMNS:
        (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert count == len(sample.tables[table])
    rows = con.execute(
        "SELECT dock_id, count(*) FROM shipments WHERE loading_started_at >= :day_start "
        "AND loading_started_at < :day_end GROUP BY dock_id",
        sample.day_bounds(),
    ).fetchall()
    con.close()
    assert PLANTED["idle_dock"]["dock_id"] not in dict(rows)
    assert len(rows) == 5
    write_sqlite(sample, path)  # writing again replaces the file instead of failing


def test_csv_exports_follow_the_contract_names(sample: WarehouseSample, tmp_path: Path) -> None:
    written = {p.name for p in write_csv(sample, tmp_path)}
    day = END.isoformat()
    assert {"zones.csv", "pickers.csv", "docks.csv"} <= written
    assert {f"picks_{day}.csv", f"orders_{day}.csv", f"shipments_{day}.csv"} <= written
    header = (tmp_path / f"picks_{day}.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS["picks"])


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="weeks"):
        generate(END, weeks=0)
    with pytest.raises(ValueError, match="orders_per_day"):
        generate(END, orders_per_day=5)
