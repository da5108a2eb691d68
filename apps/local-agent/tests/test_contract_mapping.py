"""Contract mappings in the local policy (``contracts:``): the workflow's queries read the
customer's own tables through them, inside the read-only guard, and a mapping that could never
run is refused when the policy is loaded, naming the table and the problem."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from phi_agent.audit import AuditLog
from phi_agent.policy import PolicyFileError, load_policy
from phi_agent.registry import ToolFailed, ToolRefused
from phi_agent.tools.db import DbTool
from phi_agent_config.data_contract import WAREHOUSE
from phi_agent_config.own_naming_sample import MAPPING, write_own_naming_sqlite
from phi_agent_config.warehouse_sample import generate

SAMPLE = generate(date(2026, 11, 24), weeks=1, orders_per_day=30)
DAY = {"day_start": "2026-11-24", "day_end": "2026-11-25"}
# The shape of the report's own queries: contract names, named parameters, a subquery.
SHIPMENTS = (
    f"SELECT {', '.join(WAREHOUSE.table('shipments').column_names())} FROM shipments "
    "WHERE (departed_at >= :day_start AND departed_at < :day_end) "
    "OR order_id IN (SELECT order_id FROM orders WHERE due_at >= :day_start AND due_at < :day_end)"
)


def _policy_file(tmp_path: Path, db: Path, contracts: Any, **conn: Any) -> Path:
    data = {
        "policy_version": 1,
        "state_dir": "state",
        "tools": {
            "db": {"enabled": True, "connections": {"wms": {"dsn": f"sqlite:///{db}", **conn}}}
        },
        "contracts": contracts,
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def wms(tmp_path: Path) -> Path:
    return write_own_naming_sqlite(SAMPLE, tmp_path / "wms.sqlite")


def _tool(path: Path) -> DbTool:
    policy = load_policy(path)
    return DbTool(policy, AuditLog(policy.audit_path))


def _run(tool: DbTool, sql: str, contract: str | None = "warehouse") -> dict[str, Any]:
    payload = {"contract": contract, "queries": [{"name": "q", "sql": sql, "params": DAY}]}
    return dict(json.loads(tool.run(payload))["results"]["q"])


def test_the_report_query_reads_the_customer_tables_through_the_mapping(
    tmp_path: Path, wms: Path
) -> None:
    tool = _tool(_policy_file(tmp_path, wms, {"warehouse": MAPPING}))
    result = _run(tool, SHIPMENTS)
    assert result["columns"] == list(WAREHOUSE.table("shipments").column_names())
    con = sqlite3.connect(wms)
    expected = con.execute(
        "SELECT dispatch_no, order_no, gate_no, haulier, load_start, left_at FROM dispatch "
        "WHERE (left_at >= ? AND left_at < ?) OR order_no IN (SELECT order_no FROM "
        "customer_order WHERE promised >= ? AND promised < ?)",
        ("2026-11-24", "2026-11-25", "2026-11-24", "2026-11-25"),
    ).fetchall()
    con.close()
    assert sorted(map(tuple, result["rows"])) == sorted(expected) and len(expected) > 20
    # The audit line shows the statement that really ran, mapping and all.
    line = json.loads(tool.audit.path.read_text().splitlines()[-1])
    assert line["contract"] == "warehouse"
    assert "phi_contract_shipments AS (SELECT dispatch_no AS shipment_id" in line["sql"]
    assert "FROM dispatch" in line["sql"] and "FROM customer_order" in line["sql"]
    # A mapping computes columns the customer stores otherwise (lower-case states here).
    statuses = _run(tool, "SELECT DISTINCT status FROM orders ORDER BY status")["rows"]
    assert statuses == [["CANCELLED"], ["SHIPPED"]]


def test_a_call_without_the_contract_reads_the_tables_as_they_are(
    tmp_path: Path, wms: Path
) -> None:
    tool = _tool(_policy_file(tmp_path, wms, {"warehouse": MAPPING}))
    assert _run(tool, "SELECT count(*) FROM gate", contract=None)["rows"] == [[6]]
    with pytest.raises(ToolFailed, match="no such table: shipments"):
        _run(tool, "SELECT count(*) FROM shipments", contract=None)


def test_a_mapping_may_read_a_table_of_the_contract_tables_name(tmp_path: Path, wms: Path) -> None:
    con = sqlite3.connect(wms)
    with con:
        con.execute("ALTER TABLE gate RENAME TO docks")
    con.close()
    mapping = {**MAPPING, "docks": "SELECT gate_no AS dock_id, label AS name FROM docks"}
    tool = _tool(_policy_file(tmp_path, wms, {"warehouse": mapping}))
    rows = _run(tool, "SELECT dock_id, name FROM docks ORDER BY dock_id")["rows"]
    assert rows[0] == ["D-1", "Dock 1"] and len(rows) == 6


def test_allowed_tables_hold_at_run_time_for_the_mapping_too(tmp_path: Path, wms: Path) -> None:
    allowed = ["area", "staff", "gate", "pick_log", "customer_order", "dispatch"]
    tool = _tool(_policy_file(tmp_path, wms, {"warehouse": MAPPING}, allowed_tables=allowed))
    assert _run(tool, "SELECT count(*) FROM zones")["rows"] == [[5]]
    # The policy is checked when loaded; a mapping that slipped past (edited in memory here)
    # is still refused when a call would run it.
    tool.contracts = {"warehouse": {**MAPPING, "zones": "SELECT code AS zone_id, x AS name "
                                    "FROM area JOIN secrets ON 1 = 1"}}  # fmt: skip
    with pytest.raises(ToolRefused, match="query 'q' refused: table 'secrets' is not in"):
        _run(tool, "SELECT count(*) FROM zones")


@pytest.mark.parametrize(
    ("contracts", "conn", "says"),
    [
        ({"warehouse": {"picks": "SELECT * FROM pick_log JOIN payroll ON 1 = 1"}},
         {"allowed_tables": ["pick_log"]},
         "field contracts.warehouse.picks: the mapping is refused: table 'payroll' is not in "
         "the policy's allowed_tables"),
        ({"warehouse": {"picks": "DELETE FROM pick_log"}}, {},
         "field contracts.warehouse.picks: the mapping is refused: only SELECT"),
        ({"warehouse": {"picks": "SELECT * FROM pick_log; DROP TABLE pick_log"}}, {},
         "field contracts.warehouse.picks: the mapping is refused: exactly one statement"),
        ({"warehouse": {"picks": "SELECT * FROM pick_log WHERE t_done > :since"}}, {},
         "field contracts.warehouse.picks: the mapping is refused: a mapping takes no "
         "parameters"),
        ({"warehouse": {"pick": "SELECT * FROM pick_log"}}, {},
         "field contracts.warehouse.pick: the contract 'warehouse' has no table 'pick' "
         "(its tables: zones, pickers, docks, picks, orders, shipments)"),
        ({"wharehouse": {"picks": "SELECT * FROM pick_log"}}, {},
         "field contracts.wharehouse: no data contract of that name"),
        ({"warehouse": {"docks": "SELECT gate_no AS dock_id FROM gate"}}, {},
         "field contracts.warehouse.docks: the mapping gives no column name (select it AS "
         "that name, or NULL AS it where the contract lets it be empty)"),
    ],
)  # fmt: skip
def test_a_mapping_that_could_never_run_stops_the_policy_naming_it(
    tmp_path: Path, wms: Path, contracts: Any, conn: dict[str, Any], says: str
) -> None:
    path = _policy_file(tmp_path, wms, contracts, **conn)
    with pytest.raises(PolicyFileError) as caught:
        load_policy(path)
    assert str(caught.value) == f"{path}: {says}" or str(caught.value).startswith(f"{path}: {says}")


def test_the_documented_example_is_the_tested_mapping(tmp_path: Path) -> None:
    # docs/local-agent.md walks a customer through this policy; the end-to-end test runs it.
    doc = (Path(__file__).resolve().parents[3] / "docs" / "local-agent.md").read_text()
    _, marker, rest = doc.partition("<!-- example mapping: tested")
    assert marker, "docs/local-agent.md lost its example mapping"
    block = rest.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(block)["contracts"]["warehouse"] == MAPPING
    (tmp_path / "policy.yaml").write_text(block)
    assert load_policy(tmp_path / "policy.yaml").contracts == {"warehouse": MAPPING}
