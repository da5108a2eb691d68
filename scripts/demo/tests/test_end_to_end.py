"""The product end to end with real processes: the `make dev` stack (PostgreSQL, core API,
orchestrator and its worker, router) and real `phi-agent` processes on the sample warehouse.

- a daily report read through the agent names the warehouse's planted anomalies;
- `make demo`'s script runs against the stack and prints them;
- a revoked key stops the agent with a clear message;
- an agent killed mid-call loses nothing: the call is claimed again under a new attempt,
  and the killed attempt's late result is refused;
- an agent cut off from the cloud while results pile up delivers each once when it is back.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from run import (
    DEMO_PASSWORD,
    ROOT,
    DemoAgent,
    create_demo_agent,
    ok,
    run_report,
    start_phi_agent,
    start_report,
    stop,
    wait_task,
    wait_until,
    write_agent_files,
    write_config_and_key,
)
from tcp_proxy import CuttableProxy

from phi_agent_config.own_naming_sample import MAPPING, write_own_naming_sqlite
from phi_agent_config.warehouse_sample import PLANTED, generate
from phi_platform.settings import PlatformSettings
from phi_platform.testing import AUDIT_SECRETS, audit_events_with_secrets

DAY = date(2026, 11, 24)
LEASE_SECONDS = 15


@dataclass
class Stack:
    core: httpx.Client
    orch: httpx.Client
    env: dict[str, str]
    orchestrator_port: int


@pytest.fixture(scope="module")
def stack(stack_ports: Callable[[], dict[str, str]]) -> Iterator[Stack]:
    # Outside pytest's tmp root: see scripts/dev/tests/conftest.py (PostgreSQL runs as its own
    # system user and must keep access to its data).
    data = Path(tempfile.mkdtemp(prefix="phi-e2e-"))
    # A free port for everything the stack binds, the workers' pages and the web app included:
    # a developer's `make dev` holds the default ones.
    ports = stack_ports()
    env = {
        **os.environ,
        **ports,
        "PHI_DATA_DIR": str(data),
        "PHI_ORCHESTRATOR_URL": f"http://127.0.0.1:{ports['PHI_ORCHESTRATOR_PORT']}",
        "PHI_LEASE_SECONDS": str(LEASE_SECONDS),
        "PHI_HEARTBEAT_INTERVAL_SECONDS": "1",
    }
    log = data / "stack.log"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "dev" / "run.py")],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    core = httpx.Client(base_url=f"http://127.0.0.1:{ports['PHI_CORE_API_PORT']}", timeout=60)
    orch = httpx.Client(base_url=f"http://127.0.0.1:{ports['PHI_ORCHESTRATOR_PORT']}", timeout=60)

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()[-5000:]
        try:
            return core.get("/health").status_code == 200 and orch.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 180, "the stack")
        yield Stack(core, orch, env, int(ports["PHI_ORCHESTRATOR_PORT"]))
        # The tests stop agents, never the stack's own processes: none of them may have died
        # (a port taken, a crash) and been restarted behind the tests' back.
        restarts = [line for line in log.read_text().splitlines() if "; restarting in" in line]
        assert restarts == [], log.read_text()[-5000:]
        # The stack's database is its own, out of reach of the run's end-of-run scan: its
        # audit log must not hold the demo's password, a key or a token either.
        AUDIT_SECRETS.add(DEMO_PASSWORD)
        url = PlatformSettings(
            data_dir=data, pg_port=int(ports["PHI_PG_PORT"]), database_url=None
        ).resolved_database_url
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            keys = conn.execute(
                "SELECT count(*) FROM audit_events WHERE action = 'local_agent_key.created'"
            ).fetchone()
        assert keys and keys[0] > 0, "the demo made a key: its event must be there to scan"
        leaks = audit_events_with_secrets(url)
        assert not leaks, "audit events carry secrets:\n" + "\n".join(leaks)
    finally:
        stop(process, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(stack: Stack) -> DemoAgent:
    return create_demo_agent(stack.core, stack.orch)


def _audit(work: Path) -> list[dict[str, Any]]:
    return _audit_at(work / "warehouse")


def _audit_at(folder: Path) -> list[dict[str, Any]]:
    path = folder / ".phi-agent" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _new_key(stack: Stack, demo: DemoAgent, name: str) -> DemoAgent:
    key = ok(
        stack.orch.post(
            f"/agents/{demo.agent_id}/local-agent-keys", json={"name": name}, headers=demo.headers
        ),
        201,
    )
    return DemoAgent(
        demo.headers, demo.org_id, demo.agent_id, key["key"], key["id"], demo.config_yaml
    )


def _slow_warehouse(policy: Path, steps: int = 4_000_000) -> None:
    """Make every read of ``picks`` take a few seconds (a view over a slow subquery), so a
    test can act while the agent is in the middle of a call."""
    con = sqlite3.connect(policy.parent / "warehouse.sqlite")
    with con:
        con.execute("ALTER TABLE picks RENAME TO picks_data")
        con.execute(
            "CREATE VIEW picks AS SELECT * FROM picks_data WHERE (SELECT count(*) FROM "
            f"(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {steps}) "
            "SELECT x FROM c)) > 0"
        )
    con.close()


def _set_parallel(policy: Path, parallel: int) -> None:
    data = yaml.safe_load(policy.read_text())
    data["max_parallel_calls"] = parallel
    policy.write_text(yaml.safe_dump(data))


def _log_has(log: Path, text: str, count: int = 1) -> bool:
    return log.exists() and log.read_text().count(text) >= count


def test_report_through_phi_agent_names_the_planted_anomalies(
    stack: Stack, demo: DemoAgent, tmp_path: Path
) -> None:
    policy = write_agent_files(tmp_path, demo, DAY)
    agent = start_phi_agent(tmp_path, policy, tmp_path / "agent.log")
    try:
        task = run_report(stack.orch, demo, DAY)
    finally:
        stop(agent)
    assert task["status"] == "SUCCESS", (task.get("error"), (tmp_path / "agent.log").read_text())
    metrics = task["output"]["metrics"]
    slow = [z["zone_id"] for z in metrics["outliers"]["slow_zones"]]
    idle = [d["dock_id"] for d in metrics["idle_docks"]["docks"] if d["idle"]]
    pickers = [p["picker_id"] for p in metrics["outliers"]["pickers"]]
    assert slow == [PLANTED["slow_zone"]["zone_id"]]
    assert idle == [PLANTED["idle_dock"]["dock_id"]]
    assert PLANTED["picker_outlier"]["picker_id"] in pickers
    assert metrics["late_orders"]["late_pct"] > 25
    report = task["output"]["full_report_md"]
    for kind in ("slow_zone", "idle_dock", "picker_outlier"):
        assert PLANTED[kind]["name"] in report
    # Read through the agent: its audit log holds the executed db call and its queries.
    events = _audit(tmp_path)
    assert any(e["event"] == "executed" and e["tool"] == "db" for e in events)
    assert {e["query"] for e in events if e["event"] == "query"} >= {"picks", "orders", "shipments"}
    agents = ok(stack.orch.get(f"/agents/{demo.agent_id}/local-agents", headers=demo.headers))
    assert agents["items"] and agents["items"][0]["tools"]


# The second sample warehouse: a WMS with its own table and column names and SQLite's
# space-separated timestamps, read only through the policy's contract mappings.
OWN_TABLES = ["area", "staff", "gate", "pick_log", "customer_order", "dispatch"]


def _own_naming_policy(work: Path, database: Path) -> Path:
    policy = work / "policy.yaml"
    policy.write_text(
        yaml.safe_dump(
            {
                "policy_version": 1,
                "name": "nordlager-wms",
                "state_dir": ".phi-agent",
                "tools": {
                    "db": {
                        "enabled": True,
                        "connections": {
                            "wms": {"dsn": f"sqlite:///{database}", "allowed_tables": OWN_TABLES}
                        },
                    }
                },
                "contracts": {"warehouse": MAPPING},
            },
            sort_keys=False,
        )
    )
    return policy


def _plain_sql_figures(database: Path) -> dict[str, Any]:
    """The report's figures computed straight from the WMS's own tables."""
    day, next_day = DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        picks, units = con.execute(
            "SELECT count(*), sum(qty) FROM pick_log WHERE t_done >= ? AND t_done < ?",
            (day, next_day),
        ).fetchone()
        due, late = con.execute(
            "SELECT count(*), sum(CASE WHEN d.first_left IS NULL OR d.first_left > o.promised "
            "THEN 1 ELSE 0 END) FROM customer_order o LEFT JOIN (SELECT order_no, "
            "min(left_at) AS first_left FROM dispatch GROUP BY order_no) d "
            "ON d.order_no = o.order_no "
            "WHERE o.promised >= ? AND o.promised < ? AND o.state <> 'cancelled'",
            (day, next_day),
        ).fetchone()
        loadings = dict(
            con.execute(
                "SELECT g.gate_no, count(d.dispatch_no) FROM gate g LEFT JOIN dispatch d "
                "ON d.gate_no = g.gate_no AND ((d.load_start >= ? AND d.load_start < ?) "
                "OR (d.left_at >= ? AND d.left_at < ?)) GROUP BY g.gate_no",
                (day, next_day, day, next_day),
            ).fetchall()
        )
    finally:
        con.close()
    return {"picks": picks, "units": units, "due": due, "late": late, "loadings": loadings}


def _write(database: Path, statement: str) -> None:
    """Change the WMS's data as its own system would (the agent only ever reads it)."""
    database.chmod(0o644)
    con = sqlite3.connect(database)
    with con:
        con.execute(statement)
    con.close()
    database.chmod(0o444)


def test_a_warehouse_with_its_own_naming_mapped_in_the_policy_only(
    stack: Stack, demo: DemoAgent, tmp_path: Path
) -> None:
    sample = generate(DAY, weeks=2, orders_per_day=150)
    database = write_own_naming_sqlite(sample, tmp_path / "wms" / "nordlager.sqlite")
    assert "T" not in sqlite3.connect(database).execute("SELECT t_done FROM pick_log").fetchone()[0]
    database.chmod(0o444)  # no views, no DDL: the file itself cannot be written
    write_config_and_key(tmp_path, demo)
    policy = _own_naming_policy(tmp_path / "wms", database)
    log = tmp_path / "agent.log"
    agent = start_phi_agent(tmp_path, policy, log)
    try:
        task = run_report(stack.orch, demo, DAY)
        assert task["status"] == "SUCCESS", (task.get("error"), log.read_text()[-3000:])
        metrics = task["output"]["metrics"]
        plain = _plain_sql_figures(database)
        assert metrics["totals"]["picks"] == plain["picks"] > 0
        assert metrics["totals"]["units"] == plain["units"]
        assert metrics["late_orders"]["orders_due"] == plain["due"] > 0
        assert metrics["late_orders"]["late"] == plain["late"]
        assert {d["dock_id"]: d["loadings"] for d in metrics["idle_docks"]["docks"]} == plain[
            "loadings"
        ]
        # The planted anomalies, found through the mapping.
        assert [z["zone_id"] for z in metrics["outliers"]["slow_zones"]] == [
            PLANTED["slow_zone"]["zone_id"]
        ]
        idle = [d["dock_id"] for d in metrics["idle_docks"]["docks"] if d["idle"]]
        assert PLANTED["idle_dock"]["dock_id"] in idle and plain["loadings"]["D-4"] == 0
        assert PLANTED["picker_outlier"]["picker_id"] in [
            p["picker_id"] for p in metrics["outliers"]["pickers"]
        ]
        assert metrics["late_orders"]["late_pct"] > 25
        # Every statement ran through the mapping, on the WMS's own tables.
        queries = [e for e in _audit_at(tmp_path / "wms") if e["event"] == "query"]
        assert {e["query"] for e in queries} >= {"picks", "orders", "shipments"}
        assert all(e["contract"] == "warehouse" for e in queries)
        assert any("FROM pick_log" in e["sql"] for e in queries)

        # The same data with the loading-start column emptied: the figures that need it are
        # "not available", never a number; the others stay as they were.
        _write(database, "UPDATE dispatch SET load_start = NULL")
        emptied = run_report(stack.orch, demo, DAY)
        assert emptied["status"] == "SUCCESS", emptied.get("error")
        without = emptied["output"]["metrics"]
        used = [d for d in without["idle_docks"]["docks"] if d["loadings"]]
        assert len(used) == 5
        for dock in used:
            assert dock["utilisation_pct"] is None and dock["longest_idle_minutes"] is None
            assert dock["idle"] is None
            reason = dock["not_available"]["utilisation_pct"]
            assert reason["column"] == "shipments.loading_started_at"
        report = emptied["output"]["full_report_md"]
        assert "not available (shipments.loading_started_at is empty)" in report.lower()
        dock_lines = [line for line in report.splitlines() if line.startswith("| Dock ")]
        unknown = [line for line in dock_lines if "without start" in line]
        assert len(unknown) == 5 and not any("%" in line for line in unknown), dock_lines
        assert without["totals"]["picks"] == plain["picks"]
        assert without["late_orders"]["late"] == plain["late"]

        # One value the report cannot read: the task fails naming the column and the value.
        database.chmod(0o644)
        con = sqlite3.connect(database)
        with con:
            con.execute(
                "UPDATE customer_order SET promised = '24.11.2026 14:00' WHERE order_no = "
                "(SELECT min(order_no) FROM customer_order WHERE promised LIKE ?)",
                (f"{DAY.isoformat()}%",),
            )
        con.close()
        database.chmod(0o444)
        failed = run_report(stack.orch, demo, DAY)
    finally:
        stop(agent)
    assert failed["status"] == "FAILED", failed.get("output")
    assert "orders.due_at" in failed["error"] and "24.11.2026 14:00" in failed["error"]


def test_make_demo_prints_the_report_and_its_anomalies(stack: Stack) -> None:
    env = {
        **stack.env,
        "PHI_CORE_API_PORT": stack.env["PHI_CORE_API_PORT"],
        "PHI_ORCHESTRATOR_PORT": stack.env["PHI_ORCHESTRATOR_PORT"],
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo" / "run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "using the running stack" in done.stdout
    assert "# Daily warehouse report" in done.stdout
    assert "slow zone Z-C" in done.stdout and "idle dock D-4" in done.stdout
    assert "picker outlier P-03" in done.stdout and "late orders:" in done.stdout
    print(f"make demo against a running stack: {time.monotonic() - started:.1f} s")


def test_a_revoked_key_stops_the_agent_clearly(
    stack: Stack, demo: DemoAgent, tmp_path: Path
) -> None:
    mine = _new_key(stack, demo, "to-revoke")
    policy = write_agent_files(tmp_path, mine, DAY)
    log = tmp_path / "agent.log"
    agent = start_phi_agent(tmp_path, policy, log)
    try:
        wait_until(lambda: _log_has(log, "connected as local agent"), 60, "the agent to connect")
        r = stack.orch.delete(
            f"/agents/{demo.agent_id}/local-agent-keys/{mine.key_id}", headers=demo.headers
        )
        assert r.status_code == 204
        assert agent.wait(timeout=60) == 4
    finally:
        stop(agent)
    text = log.read_text()
    assert "refused this agent's key (401" in text and "create a new key" in text


def test_an_agent_killed_mid_call_loses_nothing(
    stack: Stack, demo: DemoAgent, tmp_path: Path
) -> None:
    policy = write_agent_files(tmp_path, demo, DAY)
    _slow_warehouse(policy)
    log = tmp_path / "agent.log"
    first = start_phi_agent(tmp_path, policy, log)
    try:
        task_id = start_report(stack.orch, demo, DAY)
        wait_until(lambda: _log_has(log, "running db call"), 60, "the agent to take the call")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    # Restarted on the same machine (same state dir): it claims the call again once the
    # killed attempt's lease has lapsed, normally as attempt 2.
    second = start_phi_agent(tmp_path, policy, log)
    try:
        task = wait_task(stack.orch, demo, task_id, timeout=120)
    finally:
        stop(second)
    assert task["status"] == "SUCCESS", (task.get("error"), log.read_text())
    audit = _audit(tmp_path)
    executed = [e for e in audit if e["event"] == "executed"]
    claims = [
        e["payload"]["attempt"] for e in task["events"] if e["event_type"] == "tool_call_claimed"
    ]
    seen = (audit, task["events"], log.read_text()[-6000:])
    # Run to the end exactly once, by a later attempt than the killed one; the cloud used the
    # result of the last claim. (On a loaded machine a lease can lapse once more before the
    # new agent gets to run the call, which makes it attempt 3: every attempt is a claim.)
    assert len(executed) == 1 and executed[0]["attempt"] >= 2, seen
    assert claims == list(range(1, executed[0]["attempt"] + 1)), seen
    call_id = executed[0]["tool_call_id"]
    # The killed attempt's result, arriving late, is refused.
    late = httpx.post(
        f"{stack.env['PHI_ORCHESTRATOR_URL']}/tool-callbacks",
        json={
            "tool_call_id": call_id,
            "task_id": task_id,
            "attempt": 1,
            "tool": "db",
            "result": {"results": {}},
            "error": None,
        },
        headers={"Authorization": f"Bearer {demo.key}"},
        timeout=30,
    )
    assert late.status_code == 409, late.text


def test_an_agent_offline_delivers_every_result_once_when_back(
    stack: Stack, demo: DemoAgent, tmp_path: Path
) -> None:
    mine = _new_key(stack, demo, "offline")
    proxy = CuttableProxy(stack.orchestrator_port)
    proxy.start()
    config = yaml.safe_load(demo.config_yaml)
    config["orchestrator_url"] = proxy.url
    policy = write_agent_files(
        tmp_path,
        DemoAgent(
            mine.headers, mine.org_id, mine.agent_id, mine.key, mine.key_id, yaml.safe_dump(config)
        ),
        DAY,
    )
    _slow_warehouse(policy)
    _set_parallel(policy, 3)
    log = tmp_path / "agent.log"
    agent = start_phi_agent(tmp_path, policy, log)
    try:
        wait_until(lambda: _log_has(log, "connected as local agent"), 60, "the agent to connect")
        tasks = [start_report(stack.orch, demo, DAY) for _ in range(3)]
        wait_until(lambda: _log_has(log, "running db call", 3), 90, "three calls running")
        proxy.cut()
        wait_until(
            lambda: sum(e["event"] == "executed" for e in _audit(tmp_path)) == 3,
            90,
            "the three calls to finish offline",
        )
        for task_id in tasks:
            status = ok(stack.orch.get(f"/tasks/{task_id}", headers=demo.headers))["status"]
            assert status not in ("SUCCESS", "FAILED"), status
        proxy.start()
        finished = [wait_task(stack.orch, demo, t, timeout=120) for t in tasks]
    finally:
        stop(agent)
        proxy.cut()
    assert [t["status"] for t in finished] == ["SUCCESS"] * 3, log.read_text()
    delivered = [e for e in _audit(tmp_path) if e["event"] == "delivered"]
    assert sorted(e["status"] for e in delivered) == ["accepted"] * 3
    assert len({e["tool_call_id"] for e in delivered}) == 3
    assert "cannot deliver results" in log.read_text()
