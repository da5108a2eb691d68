"""``phi-agent contract check`` as IT staff run it (a real subprocess): good, partly wrong and
wrong mappings of the warehouse contract, each with the lines it prints and its exit code."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_cli import phi_agent

from phi_agent_config.data_contract import WAREHOUSE
from phi_agent_config.own_naming_sample import MAPPING, write_own_naming_sqlite
from phi_agent_config.warehouse_sample import generate

FOOTER = "(kept in {state}/contract-check.json for the running agent to report)"


@pytest.fixture(scope="module")
def wms_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = generate(date(2026, 11, 24), weeks=1, orders_per_day=40)
    return write_own_naming_sqlite(sample, tmp_path_factory.mktemp("wms") / "wms.sqlite")


def _setup(tmp_path: Path, wms_file: Path, mapping: dict[str, str] | None) -> Path:
    shutil.copy(wms_file, tmp_path / "wms.sqlite")
    data: dict[str, Any] = {
        "state_dir": "state",
        "tools": {"db": {"enabled": True, "connections": {"wms": {"dsn": "sqlite:///wms.sqlite"}}}},
    }
    if mapping is not None:
        data["contracts"] = {"warehouse": mapping}
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(data))
    return policy


def _check(policy: Path, *extra: str) -> tuple[int, list[str]]:
    done = phi_agent("contract", "check", "--policy", str(policy), *extra)
    assert not done.stderr or done.returncode == 2, done.stderr
    return done.returncode, done.stdout.splitlines()


def test_a_good_mapping_passes_every_table(tmp_path: Path, wms_file: Path) -> None:
    policy = _setup(tmp_path, wms_file, MAPPING)
    code, lines = _check(policy, "--contract", "warehouse")
    assert lines == [
        "Contract 'warehouse' on connection 'wms' (up to 200 rows per table)",
        "  ok   zones (mapped in the policy): 5 rows read",
        "  ok   pickers (mapped in the policy): 25 rows read",
        "  ok   docks (mapped in the policy): 6 rows read",
        "  ok   picks (mapped in the policy): 200 rows read",
        "  ok   orders (mapped in the policy): 200 rows read",
        "  ok   shipments (mapped in the policy): 200 rows read",
        "All 6 tables of 'warehouse' are fine.",
        FOOTER.format(state=tmp_path / "state"),
    ]
    assert code == 0
    saved = json.loads((tmp_path / "state" / "contract-check.json").read_text())
    assert saved[0]["contract"] == "warehouse" and saved[0]["ok"] is True
    assert [t["table"] for t in saved[0]["tables"] if t["ok"]] == [
        "zones", "pickers", "docks", "picks", "orders", "shipments"
    ]  # fmt: skip


def test_a_partly_wrong_mapping_names_each_column_and_a_sample_value(
    tmp_path: Path, wms_file: Path
) -> None:
    policy = _setup(
        tmp_path,
        wms_file,
        {
            **MAPPING,
            # Forgot to name the columns as the contract does.
            "docks": "SELECT * FROM gate",
            # Forgot that the WMS writes its states in lower case.
            "orders": MAPPING["orders"].replace("UPPER(state)", "state"),
        },
    )
    con = sqlite3.connect(tmp_path / "wms.sqlite")
    with con:
        con.execute("UPDATE pick_log SET t_done = NULL WHERE id <= 3")
        con.execute("UPDATE pick_log SET t_start = '24.11.2026 08:01' WHERE id = 7")
        con.execute("UPDATE dispatch SET load_start = NULL")
    con.close()
    code, lines = _check(policy)
    # What the report does then is the contract's to say (and the report's tests to check).
    empty_loading = next(
        c.when_null for c in WAREHOUSE.table("shipments").columns if c.name == "loading_started_at"
    )
    assert lines == [
        "Contract 'warehouse' on connection 'wms' (up to 200 rows per table)",
        "  ok   zones (mapped in the policy): 5 rows read",
        "  ok   pickers (mapped in the policy): 25 rows read",
        "  FAIL docks (mapped in the policy): 6 rows read",
        "       wrong: docks.dock_id: no such column (the rows have: gate_no, label)",
        "       wrong: docks.name: no such column (the rows have: gate_no, label)",
        "  FAIL picks (mapped in the policy): 200 rows read",
        "       wrong: picks.started_at: '24.11.2026 08:01' is not a timestamp the report reads "
        "(ISO 8601, e.g. 2026-11-24 09:15:00) (1 of 200 rows)",
        "       wrong: picks.completed_at: empty in 3 of 200 rows; the contract requires a value",
        "  FAIL orders (mapped in the policy): 200 rows read",
        "       wrong: orders.status: 'shipped' is not one of OPEN, PICKED, SHIPPED, CANCELLED "
        "(200 of 200 rows)",
        "  ok   shipments (mapped in the policy): 200 rows read",
        f"       note:  shipments.loading_started_at: empty in 200 of 200 rows: {empty_loading}",
        "3 of 6 tables of 'warehouse' have problems: docks, picks, orders",
        FOOTER.format(state=tmp_path / "state"),
    ]
    assert code == 1
    saved = json.loads((tmp_path / "state" / "contract-check.json").read_text())
    assert saved[0]["ok"] is False
    assert [t["table"] for t in saved[0]["tables"] if not t["ok"]] == ["docks", "picks", "orders"]


def test_no_mapping_on_a_warehouse_named_otherwise_fails_every_table(
    tmp_path: Path, wms_file: Path
) -> None:
    code, lines = _check(_setup(tmp_path, wms_file, None))
    assert code == 1
    assert lines[1] == "  FAIL zones (view or table): 0 rows read"
    assert lines[2] == (
        "       wrong: zones: cannot be read: query 'zones' failed: no such table: zones (no "
        "mapping of 'zones' in the policy's contracts: section, so a view or table of that "
        "name is read)"
    )
    assert lines[-2] == (
        "6 of 6 tables of 'warehouse' have problems: zones, pickers, docks, picks, orders, "
        "shipments"
    )


def test_tables_named_as_the_contract_pass_without_a_mapping(tmp_path: Path) -> None:
    done = phi_agent("demo-data", str(tmp_path), "--end-date", "2026-11-24", "--weeks", "1")
    assert done.returncode == 0, done.stderr
    code, lines = _check(tmp_path / "policy.yaml")
    assert code == 0, lines
    assert "  ok   picks (view or table): 200 rows read" in lines
    assert lines[-2] == "All 6 tables of 'warehouse' are fine."


def test_an_unknown_contract_or_a_policy_without_the_db_tool_exit_2(
    tmp_path: Path, wms_file: Path
) -> None:
    done = phi_agent(
        "contract", "check", "--policy", str(_setup(tmp_path, wms_file, MAPPING)),
        "--contract", "warehous",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--contract: no data contract 'warehous' (known: warehouse)" in done.stderr
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump({"tools": {"file": {"enabled": True, "roots": ["."]}}}))
    done = phi_agent("contract", "check", "--policy", str(off))
    assert done.returncode == 2 and "the db tool is off" in done.stderr


def test_keys_must_be_unique_and_ids_may_be_integers() -> None:
    from phi_agent.contract_check import check_rows
    from phi_agent_config.data_contract import WAREHOUSE

    result = check_rows(
        WAREHOUSE.table("docks"), ["dock_id", "name"], [[1, "A"], [1, "B"], [2, None]]
    )
    assert result.problems == ["docks.dock_id: 1 is in more than one row; it must be unique"]
    assert result.notes == ["docks.name: empty in 1 of 3 rows: the id is shown instead"]


def test_policy_test_shows_the_statement_as_it_would_run_through_the_mapping(
    tmp_path: Path, wms_file: Path
) -> None:
    policy = str(_setup(tmp_path, wms_file, MAPPING))
    sql = "SELECT dock_id, count(*) AS n FROM shipments GROUP BY dock_id"
    done = phi_agent("policy", "test", "--policy", policy, "--contract", "warehouse", "--sql", sql)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "allowed: one read-only SELECT on connection 'wms'",
        "it would run as: WITH phi_contract_shipments AS (SELECT dispatch_no AS shipment_id, "
        "order_no AS order_id, gate_no AS dock_id, haulier AS carrier, load_start AS "
        "loading_started_at, left_at AS departed_at FROM dispatch) SELECT dock_id, COUNT(*) AS n "
        "FROM phi_contract_shipments AS shipments GROUP BY dock_id",
    ]
    # Without --contract the names are the database's own: here there is no such table, and
    # nothing runs either way.
    done = phi_agent("policy", "test", "--policy", policy, "--sql", sql)
    assert done.returncode == 0 and "it would run as" not in done.stdout
