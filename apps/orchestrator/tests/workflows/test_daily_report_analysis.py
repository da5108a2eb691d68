"""The report's figures on small hand-made data, where every expected number is countable."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from phi_llm.types import BUILTIN_LABEL, ChatRequest
from phi_orchestrator.workflows.daily_warehouse_report.analysis import analyse
from phi_orchestrator.workflows.daily_warehouse_report.contract import (
    ContractError,
    db_payload,
    file_payload,
    tables_from_result,
)
from phi_orchestrator.workflows.daily_warehouse_report.narrative import (
    compose_narrative,
    narrative_facts,
)
from phi_orchestrator.workflows.daily_warehouse_report.report import report_markdown, summary_text

DAY = date(2026, 11, 24)


def _pick(n: int, when: datetime, picker: str = "P1", zone: str = "A", minutes: float = 2):
    return {
        "pick_id": f"k{n}",
        "picker_id": picker,
        "zone_id": zone,
        "quantity": 2,
        "started_at": (when - timedelta(minutes=minutes)).isoformat(),
        "completed_at": when.isoformat(),
    }


def _world() -> dict:
    picks = []
    n = 0
    # 7 history days with 4 picks each in zone A at 09:xx; the previous day has 6.
    for back in range(1, 8):
        d = datetime(2026, 11, 24, 9, 0) - timedelta(days=back)
        for i in range(6 if back == 1 else 4):
            n += 1
            picks.append(_pick(n, d + timedelta(minutes=i)))
    day = datetime(2026, 11, 24, 8, 0)
    # The day: pickers P1..P4 with 12 picks over ~1 h, P5 with 12 picks in 12 minutes.
    for p, gap, took in (("P1", 5, 1.8), ("P2", 4, 2.0), ("P3", 5, 2.2), ("P4", 6, 2.4)):
        for i in range(12):
            n += 1
            when = day + timedelta(minutes=gap * i + 5)
            picks.append(_pick(n, when, picker=p, zone="B", minutes=took))
    for i in range(12):
        n += 1
        picks.append(_pick(n, day + timedelta(minutes=i + 1), picker="P5", zone="B", minutes=0.5))
    # One very slow pick.
    n += 1
    picks.append(_pick(n, day + timedelta(hours=3), picker="P1", zone="B", minutes=90))
    # An unfinished pick is not throughput.
    picks.append({**_pick(0, day), "completed_at": None})
    orders = [
        {"order_id": "O1", "customer": "c", "due_at": "2026-11-24T10:00:00", "status": "SHIPPED"},
        {"order_id": "O2", "customer": "c", "due_at": "2026-11-24T10:00:00", "status": "SHIPPED"},
        {"order_id": "O3", "customer": "c", "due_at": "2026-11-24T22:00:00", "status": "OPEN"},
        {"order_id": "O4", "customer": "c", "due_at": "2026-11-24T12:00", "status": "CANCELLED"},
        {"order_id": "O5", "customer": "c", "due_at": "2026-11-25T09:00:00", "status": "OPEN"},
    ]
    shipments = [
        # O1 on time (left the day before), O2 30 minutes late, O3 never shipped.
        {
            "shipment_id": "S1",
            "order_id": "O1",
            "dock_id": "D1",
            "loading_started_at": "2026-11-23T17:00:00",
            "departed_at": "2026-11-23T18:00:00",
        },
        {
            "shipment_id": "S2",
            "order_id": "O2",
            "dock_id": "D1",
            "loading_started_at": "2026-11-24T09:30:00",
            "departed_at": "2026-11-24T10:30:00",
        },
    ]
    return {
        "zones": [{"zone_id": "A", "name": "Ambient"}, {"zone_id": "B", "name": "Bulk"}],
        "pickers": [{"picker_id": f"P{i}", "name": f"Picker {i}"} for i in range(1, 6)],
        "docks": [{"dock_id": "D1", "name": "Dock 1"}, {"dock_id": "D2", "name": "Dock 2"}],
        "picks": picks,
        "orders": orders,
        "shipments": shipments,
    }


def test_throughput_against_previous_day_and_seven_day_mean() -> None:
    m = analyse(_world(), DAY)
    t = m["totals"]
    assert (t["picks"], t["previous_day_picks"]) == (61, 6)
    # 7-day mean: (6 + 6 * 4) / 7 = 4.3
    assert t["mean_7d_picks"] == 4.3
    assert t["change_vs_previous_day_pct"] == round((61 - 6) / 6 * 100, 1)
    assert t["units"] == 122 and t["active_pickers"] == 5
    zones = {z["zone_id"]: z for z in m["by_zone"]}
    assert (zones["A"]["picks"], zones["B"]["picks"]) == (0, 61)
    assert zones["A"]["change_vs_mean_7d_pct"] == -100.0
    assert zones["B"]["change_vs_mean_7d_pct"] is None  # no history in B
    hours = {h["hour"]: h for h in m["by_hour"]}
    assert hours[8]["picks"] == 4 * 11 + 12 and hours[9]["previous_day_picks"] == 6
    assert sum(h["picks"] for h in m["by_hour"]) == 61


def test_late_orders_by_the_stated_rule() -> None:
    late = analyse(_world(), DAY)["late_orders"]
    assert late["orders_due"] == 3  # O4 cancelled, O5 due the next day
    by_id = {o["order_id"]: o for o in late["orders"]}
    assert set(by_id) == {"O2", "O3"}
    assert by_id["O2"]["minutes_late"] == 30 and by_id["O2"]["shipped"]
    assert by_id["O3"]["minutes_late"] == 120 and not by_id["O3"]["shipped"]
    assert late["late_pct"] == 66.7


def test_idle_docks_and_outliers() -> None:
    m = analyse(_world(), DAY)
    docks = {d["dock_id"]: d for d in m["idle_docks"]["docks"]}
    assert docks["D2"]["idle"] and docks["D2"]["loadings"] == 0
    # D1 loads 09:30-10:30 inside a window 07:58-11:00: its longest gap is 92 minutes.
    assert docks["D1"]["loadings"] == 1 and docks["D1"]["busy_minutes"] == 60
    assert not docks["D1"]["idle"]
    outliers = m["outliers"]["pickers"]
    assert [o["picker_id"] for o in outliers] == ["P5"]
    assert (
        outliers[0]["direction"] == "fast" and outliers[0]["relative_pick_time"] == 0.25
    )  # 30 s / zone median 2 min
    slow = m["outliers"]["slow_picks"]
    assert slow["count"] == 1 and slow["slowest_minutes"] == [90.0]


def test_no_data_gives_zeros_not_invented_figures() -> None:
    m = analyse({"picks": [], "orders": [], "shipments": []}, DAY)
    assert m["totals"]["picks"] == 0 and m["totals"]["change_vs_mean_7d_pct"] is None
    assert m["late_orders"]["late_pct"] is None and m["idle_docks"]["docks"] == []


def test_builtin_narrative_uses_only_the_figures_and_says_so() -> None:
    m = analyse(_world(), DAY)
    facts = narrative_facts(m, [])
    text = compose_narrative(ChatRequest(model="builtin", messages=[], facts=facts))
    assert BUILTIN_LABEL in text
    assert "61 picks" in text and "2 of 3 orders" in text and "Dock 2" in text
    import re

    allowed = set(re.findall(r"\d+(?:\.\d+)?", str(facts)))
    used = set(re.findall(r"\d+(?:\.\d+)?", text))
    assert used <= allowed, used - allowed
    md = report_markdown(m, text, "builtin", "bot", [])
    assert "| Bulk | 61 |" in md and "## Rules" in md


def test_the_sample_warehouse_shows_its_planted_anomalies() -> None:
    from phi_agent_config.warehouse_sample import PLANTED
    from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables

    m = analyse(sample_tables(DAY), DAY)
    assert [d["dock_id"] for d in m["idle_docks"]["docks"] if d["idle"]] == [
        PLANTED["idle_dock"]["dock_id"]
    ]
    assert [z["zone_id"] for z in m["outliers"]["slow_zones"]] == [PLANTED["slow_zone"]["zone_id"]]
    assert [o["picker_id"] for o in m["outliers"]["pickers"]] == [
        PLANTED["picker_outlier"]["picker_id"]
    ]
    assert m["late_orders"]["late_pct"] > 3 * PLANTED["late_order_spike"]["late_share_normal"] * 100


def test_contract_payloads_and_results() -> None:
    payload = db_payload(DAY)
    by_name = {q["name"]: q for q in payload["queries"]}
    assert by_name["picks"]["params"] == {
        # Dates, a day wider than the report needs on each side (offsets; `T` or space).
        "history_start": "2026-11-16",
        "day_end": "2026-11-26",
    }
    for q in payload["queries"]:
        used = set(re.findall(r":(\w+)", q["sql"]))
        assert used == set(q["params"]), q["name"]
    files = [f["path"] for f in file_payload(DAY)["files"]]
    assert "picks_2026-11-17.csv" in files and "orders_2026-11-24.csv" in files
    tables = tables_from_result(
        {
            "results": {
                "picks_2026-11-23": {"columns": ["pick_id"], "rows": [["a"]]},
                "picks_2026-11-24": {"columns": ["pick_id"], "rows": [["b"]]},
                "orders": {"columns": ["order_id"], "rows": []},
                "shipments": {"columns": ["shipment_id"], "rows": []},
            }
        }
    )
    assert tables["picks"] == [{"pick_id": "a"}, {"pick_id": "b"}] and tables["orders"] == []
    for bad in ({}, {"results": {"picks": {"columns": ["a"], "rows": [[1, 2]]}}}):
        try:
            tables_from_result(bad)
        except ContractError:
            continue
        raise AssertionError(f"accepted {bad}")


import re  # noqa: E402


def _departures(n: int, dock: object = "D1") -> list[dict]:
    """``n`` shipments of the day without a loading time, departing every 20 minutes from
    06:00: the first departure is the day's first activity, so the window's start."""
    start = datetime(2026, 11, 24, 6, 0)
    return [
        {
            "shipment_id": f"S{i}",
            "order_id": f"O{i}",
            "dock_id": dock,
            "loading_started_at": None,
            "departed_at": (start + timedelta(minutes=20 * i)).isoformat(),
        }
        for i in range(n)
    ]


def test_a_departure_at_the_window_start_is_a_loading() -> None:
    m = analyse({"picks": [], "orders": [], "shipments": _departures(30)}, DAY)
    assert m["idle_docks"]["window_start"] == "2026-11-24T06:00:00"
    assert [d["loadings"] for d in m["idle_docks"]["docks"]] == [30]


def test_a_shipment_without_a_dock_is_no_dock_named_none() -> None:
    shipments = _departures(3) + _departures(2, dock=None) + _departures(1, dock="")
    m = analyse({"picks": [], "orders": [], "shipments": shipments, "docks": []}, DAY)
    assert [d["dock_id"] for d in m["idle_docks"]["docks"]] == ["D1"]
    assert m["idle_docks"]["shipments_without_dock"] == 3
    report = report_markdown(m, "", "builtin", "bot", [])
    assert "| None |" not in report and "3 shipment(s) of the day name no dock" in report


def test_whole_units_print_as_integers() -> None:
    m = analyse(_world(), DAY)
    assert m["totals"]["units"] == 122 and isinstance(m["totals"]["units"], int)
    facts = narrative_facts(m, [])
    text = compose_narrative(ChatRequest(model="builtin", messages=[], facts=facts))
    assert "(122 units)" in text
    half = _world()
    half["picks"][-2]["quantity"] = 2.5
    assert analyse(half, DAY)["totals"]["units"] == 122.5


def test_relevant_procedures_name_each_document_once() -> None:
    docs = [
        {"document_name": "Dock procedure.pdf", "excerpt": "a"},
        {"document_name": "Dock procedure.pdf", "excerpt": "b"},
        {"document_name": "Targets.docx", "excerpt": "c"},
        {"document_name": "Dock procedure.pdf", "excerpt": "d"},
    ]
    facts = narrative_facts(analyse(_world(), DAY), docs)
    text = compose_narrative(ChatRequest(model="builtin", messages=[], facts=facts))
    assert "Relevant procedures: Dock procedure.pdf, Targets.docx." in text


def test_loadings_without_a_start_give_no_utilisation_nor_idle_gaps() -> None:
    # The case: departures without loading times gave 96-100% utilisation.
    m = analyse({"picks": [], "orders": [], "shipments": _departures(30)}, DAY)
    dock = m["idle_docks"]["docks"][0]
    assert dock["loadings"] == 30 and dock["loadings_without_start"] == 30
    assert [dock[k] for k in ("busy_minutes", "utilisation_pct", "longest_idle_minutes")] == [
        None,
        None,
        None,
    ]
    assert dock["idle"] is None and m["idle_docks"]["idle_unknown"] == 1
    reason = dock["not_available"]["utilisation_pct"]
    assert (reason["column"], reason["empty_rows"], reason["rows"]) == (
        "shipments.loading_started_at",
        30,
        30,
    )
    report = report_markdown(m, "", "builtin", "bot", [])
    assert "- Not available (shipments.loading_started_at is empty): busy minutes" in report
    assert "| D1 | 30 (30 without start) | n/a | n/a | n/a | n/a |" in report


def test_some_loadings_without_a_start_count_the_others_and_leave_gaps_unknown() -> None:
    shipments = _departures(6)  # departing 06:00, 06:20, ... 07:40
    shipments[2]["loading_started_at"] = "2026-11-24T06:30:00"  # departs 06:40
    dock = analyse({"picks": [], "orders": [], "shipments": shipments}, DAY)["idle_docks"]["docks"][
        0
    ]
    assert dock["busy_minutes"] == 10 and dock["loadings_without_start"] == 5
    assert dock["longest_idle_minutes"] is None and dock["idle"] is None
    assert dock["not_available"]["idle"]["text"] == (
        "shipments.loading_started_at is empty in 5 of 6 rows"
    )


def test_units_count_only_stated_quantities_and_the_gap_is_said() -> None:
    world = _world()
    for pick in world["picks"][-4:-1]:  # three picks of the day
        pick["quantity"] = None
    m = analyse(world, DAY)
    assert m["totals"]["units"] == 122 - 3 * 2 and "not_available" not in m["totals"]
    gap = next(g for g in m["data_gaps"] if g["column"] == "picks.quantity")
    assert (gap["rows_affected"], gap["rows"]) == (3, 61)
    report = report_markdown(m, "", "builtin", "bot", [])
    assert "- picks.quantity empty in 3 of 61 picks of the day: the pick counts in picks" in report


def test_all_orders_without_a_due_time_give_no_late_order_figures() -> None:
    world = _world()
    for order in world["orders"]:
        order["due_at"] = None
    m = analyse(world, DAY)
    late = m["late_orders"]
    assert [late[k] for k in ("orders_due", "late", "late_pct", "orders")] == [None] * 4
    assert late["not_available"]["late_pct"]["column"] == "orders.due_at"
    facts = narrative_facts(m, [])
    text = compose_narrative(ChatRequest(model="builtin", messages=[], facts=facts))
    assert "No orders were due" not in text
    assert "Not available (orders.due_at is empty): orders due, late orders" in text
    assert "late orders not available (orders.due_at is empty)" in summary_text(m)


def _orders_with_late(day: date, due: int, late: int) -> tuple[list[dict], list[dict]]:
    """``due`` orders due at noon of ``day``, the first ``late`` of them leaving at 13:00, the
    others at 11:00, each from dock D1."""
    orders, shipments = [], []
    noon = datetime(day.year, day.month, day.day, 12)
    for n in range(due):
        oid = f"O-{day}-{n}"
        orders.append({"order_id": oid, "customer": "c", "due_at": noon.isoformat()})
        left = noon + timedelta(hours=1 if n < late else -1)
        shipments.append(
            {
                "shipment_id": f"S-{oid}",
                "order_id": oid,
                "dock_id": "D1",
                "loading_started_at": (left - timedelta(minutes=20)).isoformat(),
                "departed_at": left.isoformat(),
            }
        )
    return orders, shipments


def test_a_late_order_spike_is_marked_against_the_seven_days_before() -> None:
    orders, shipments = _orders_with_late(DAY, 100, 20)
    for back in range(1, 8):
        o, s = _orders_with_late(DAY - timedelta(days=back), 100, 3)
        orders, shipments = orders + o, shipments + s
    m = analyse({"picks": [], "orders": orders, "shipments": shipments}, DAY)
    late = m["late_orders"]
    assert (late["late_pct"], late["baseline_late_pct"], late["spike"]) == (20.0, 3.0, True)
    assert (late["baseline_orders_due"], late["baseline_late"]) == (700, 21)
    assert "20 of 100 orders late (20.0% against 3.0% over the 7 days before: a spike)" in (
        summary_text(m)
    )
    text = compose_narrative(
        ChatRequest(model="builtin", messages=[], facts=narrative_facts(m, []))
    )
    assert "(20.0% against 3.0% over the 7 days before: a spike)" in text
    # Departures per dock against the dock's own 7-day mean.
    dock = m["idle_docks"]["docks"][0]
    assert (dock["departures"], dock["departures_mean_7d"]) == (100, 100.0)
    # A normal day is no spike.
    normal_orders, normal_shipments = _orders_with_late(DAY, 100, 4)
    history = {"orders": orders[100:], "shipments": shipments[100:]}
    calm = analyse(
        {
            "orders": history["orders"] + normal_orders,
            "shipments": history["shipments"] + normal_shipments,
        },
        DAY,
    )["late_orders"]
    assert calm["late_pct"] == 4.0 and calm["spike"] is False


def test_baselines_without_data_in_the_seven_days_before_are_not_available_never_zero() -> None:
    orders, shipments = _orders_with_late(DAY, 10, 2)
    m = analyse({"picks": [], "orders": orders, "shipments": shipments}, DAY)
    late = m["late_orders"]
    assert late["late_pct"] == 20.0 and late["baseline_late_pct"] is None
    assert late["spike"] is None
    assert late["not_available"]["baseline_late_pct"]["reason"] == "no_baseline"
    dock = m["idle_docks"]["docks"][0]
    assert dock["departures"] == 10 and dock["departures_mean_7d"] is None
    assert dock["not_available"]["departures_mean_7d"]["text"] == (
        "no departures at any dock in the 7 days before"
    )
    assert m["totals"]["mean_7d_picks"] is None
    report = report_markdown(m, "", "builtin", "bot", [])
    assert "the 7 days before: not available (no orders due in the 7 days before)" in report
    assert "| Dock 1 |" not in report and "| D1 | 10 |" in report
    assert "| 10 | n/a |" in report  # departures, then no 7-day mean
