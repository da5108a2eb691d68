"""The worker as a real ``phi-agent run`` process against a stand-in orchestrator over HTTP:
parallel calls, the durable outbox across restarts and outages, leases, stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import REPORT_DAY, agent_config, fake_key
from fake_orchestrator import FakeOrchestrator

from phi_agent_config.warehouse_sample import generate, write_sqlite

PHI_AGENT = str(Path(sys.executable).parent / "phi-agent")
SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
    "SELECT count(*) AS n FROM c"
)
# SQLite keeps 'now' fixed for the whole statement once it is first read, here in the first
# row: the query reports when it started running, as the database saw it.
TIMED_SQL = (
    "WITH RECURSIVE c(x, started) AS (SELECT 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
    "UNION ALL SELECT x + 1, started FROM c WHERE x < {n}) "
    "SELECT count(*) AS n, min(started) AS started FROM c"
)
# Runs until the connection's statement timeout stops it.
ENDLESS_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"
)
STATEMENT_TIMEOUT_SECONDS = 8
DOCKS = {"queries": [{"name": "docks", "sql": "SELECT dock_id FROM docks ORDER BY dock_id"}]}


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wms") / "wms.sqlite"
    return write_sqlite(generate(date(2026, 11, 24), weeks=1, orders_per_day=40), path)


@pytest.fixture
def fake() -> Iterator[tuple[FakeOrchestrator, str]]:
    orchestrator = FakeOrchestrator()
    server, url = orchestrator.serve()
    yield orchestrator, url
    server.shutdown()


class Agent:
    def __init__(self, directory: Path, url: str, warehouse: Path, parallel: int = 2) -> None:
        self.directory = directory
        (directory / "phi-agent-config.yaml").write_text(yaml.safe_dump(agent_config(url)))
        policy = {
            "policy_version": 1,
            "state_dir": "state",
            "max_parallel_calls": parallel,
            "tools": {
                "db": {
                    "enabled": True,
                    "connections": {
                        "w": {
                            "dsn": f"sqlite:///{warehouse}",
                            "statement_timeout_seconds": STATEMENT_TIMEOUT_SECONDS,
                        }
                    },
                }
            },
        }
        (directory / "policy.yaml").write_text(yaml.safe_dump(policy))
        self.key = fake_key()
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {**os.environ, "PHI_AGENT_KEY": self.key}
        self.process = subprocess.Popen(
            [PHI_AGENT, "run", "--config", "phi-agent-config.yaml", "--policy", "policy.yaml"],
            cwd=self.directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(sig)
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out

    def audit(self) -> list[dict[str, Any]]:
        path = self.directory / "state" / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def agent(tmp_path: Path, fake: tuple[FakeOrchestrator, str], warehouse: Path) -> Iterator[Agent]:
    running = Agent(tmp_path, fake[1], warehouse)
    yield running
    running.kill()


def test_calls_run_in_parallel_and_results_carry_their_attempt(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    slow = [
        orchestrator.add("db", {"queries": [{"name": "n", "sql": TIMED_SQL.format(n=1_000_000)}]})
        for _ in range(2)
    ]
    report = orchestrator.add(
        "db",
        {
            "queries": [
                {
                    "name": "docks",
                    "sql": "SELECT DISTINCT dock_id FROM shipments WHERE loading_started_at "
                    ">= :day_start AND loading_started_at < :day_end ORDER BY dock_id",
                    "params": REPORT_DAY,
                }
            ]
        },
    )
    refused = orchestrator.add("db", {"queries": [{"name": "evil", "sql": "DELETE FROM picks"}]})
    cctv = orchestrator.add("cctv", {})
    files = orchestrator.add("file", {"files": [{"name": "x", "path": "x.csv"}]})
    agent.start()
    for call in (*slow, report, refused, cctv, files):
        wait_for(lambda c=call: orchestrator.results_for(c), what="every result")
    # Both slow queries were running at once: each started before the other had finished.
    runs = []
    for call in slow:
        (result,) = orchestrator.results_for(call)
        ((count, started),) = result["result"]["results"]["n"]["rows"]
        (executed,) = [
            e["at"]
            for e in agent.audit()
            if e["event"] == "executed" and e["tool_call_id"] == call.tool_call_id
        ]
        assert count == 1_000_000
        runs.append((datetime.fromisoformat(started), datetime.fromisoformat(executed)))
    (first_start, first_end), (second_start, second_end) = runs
    assert second_start < first_end and first_start < second_end, runs
    (result,) = orchestrator.results_for(report)
    assert result["attempt"] == 1 and result["error"] is None
    assert [r[0] for r in result["result"]["results"]["docks"]["rows"]] == [
        "D-1",
        "D-2",
        "D-3",
        "D-5",
        "D-6",
    ]
    assert "query 'evil' refused" in orchestrator.results_for(refused)[0]["error"]
    assert orchestrator.results_for(cctv)[0]["error"] == "cctv: not available in this version"
    assert (
        "file tool is off in this machine's local policy"
        in (orchestrator.results_for(files)[0]["error"])
    )
    heartbeat = orchestrator.heartbeats[0]
    assert heartbeat["local_agent_id"] is None and heartbeat["tools"] == [
        "browser",
        "cctv",
        "db",
        "email",
        "file",
    ]
    # The heartbeat repeats on the interval and keeps the registered id.
    wait_for(lambda: len(orchestrator.heartbeats) >= 3, what="heartbeats")
    assert orchestrator.heartbeats[-1]["local_agent_id"] is not None
    # The two refusals go up on a heartbeat, once each (the cloud accepted it): the tool,
    # the reason and a count, never the statement or any data.
    wait_for(lambda: any(h.get("refusals") for h in orchestrator.heartbeats), what="refusals")
    seen = len(orchestrator.heartbeats)
    wait_for(lambda: len(orchestrator.heartbeats) >= seen + 2, what="later heartbeats")
    reported = [r for h in orchestrator.heartbeats for r in h.get("refusals", [])]
    assert sorted((r["tool"], r["count"]) for r in reported) == [("db", 1), ("file", 1)]
    assert all("picks" not in r["reason"] for r in reported), reported
    code, out = agent.stop()
    assert code == 0, out
    events = [e["event"] for e in agent.audit()]
    assert events.count("executed") == 3 and events.count("refused") == 2
    assert events.count("delivered") == 6
    # Each statement's line names the call (and attempt) it ran for, also with calls in parallel.
    queries = [e for e in agent.audit() if e["event"] == "query"]
    assert sorted((e["tool_call_id"], e["attempt"], e["query"]) for e in queries) == sorted(
        [(c.tool_call_id, 1, "n") for c in slow] + [(report.tool_call_id, 1, "docks")]
    )


def test_results_pile_up_offline_and_are_delivered_once_each_after_a_restart(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    # Long leases: with short ones the cloud would rightly offer the calls again while their
    # results wait in the outbox, and the old attempts' results would then be refused.
    orchestrator.lease_seconds = 120
    orchestrator.callbacks_down = True
    calls = [orchestrator.add("db", DOCKS) for _ in range(6)]
    agent.start()
    wait_for(lambda: sum(e["event"] == "executed" for e in agent.audit()) == 6, what="6 runs")
    code, out = agent.stop()
    assert code == 0, out
    assert "6 result(s) kept in the outbox" in out
    assert orchestrator.accepted == []

    orchestrator.callbacks_down = False
    agent.start()
    for call in calls:
        wait_for(lambda c=call: orchestrator.results_for(c), what="delivery after restart")
    time.sleep(1.5)
    agent.stop()
    delivered = [a["tool_call_id"] for a in orchestrator.accepted]
    assert sorted(delivered) == sorted(c.tool_call_id for c in calls)  # once each
    assert all(a["attempt"] == 1 for a in orchestrator.accepted)
    # The restarted agent registered under the id it had kept.
    ids = {h["local_agent_id"] for h in orchestrator.heartbeats if h["local_agent_id"]}
    assert len(ids) == 1


def test_agent_waits_out_a_cloud_outage_with_backoff(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    orchestrator.down = True
    agent.start()
    # Two failed attempts (the second after a backoff), and the agent is still running.
    wait_for(lambda: orchestrator.answered_down >= 2, what="the agent to meet the outage")
    assert agent.process is not None and agent.process.poll() is None
    orchestrator.down = False
    call = orchestrator.add("db", DOCKS)
    wait_for(lambda: orchestrator.results_for(call), what="work after the outage")
    code, out = agent.stop()
    assert code == 0 and "cloud unreachable" in out and "retrying in" in out


def test_a_revoked_key_stops_the_agent_with_a_clear_message(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    agent.start()
    wait_for(lambda: orchestrator.heartbeats, what="first heartbeat")
    orchestrator.revoked = True
    assert agent.process is not None
    code = agent.process.wait(timeout=60)
    out = agent.process.stdout.read() if agent.process.stdout else ""
    assert code == 4
    assert "refused this agent's key (401" in out and "create a new key" in out


def test_a_call_whose_lease_passed_is_not_run(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    stale = orchestrator.add("db", DOCKS, lease_override="2020-01-01T00:00:00Z")
    agent.start()
    wait_for(lambda: any(e["event"] == "skipped" for e in agent.audit()), what="skip")
    agent.stop()
    assert orchestrator.results_for(stale) == []
    assert not any(e["event"] == "executed" for e in agent.audit())


def test_a_wrong_local_clock_does_not_make_fresh_calls_look_stale(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    orchestrator.clock_offset_seconds = -3600  # the cloud is an hour behind this machine
    call = orchestrator.add("db", DOCKS)
    agent.start()
    wait_for(lambda: orchestrator.results_for(call), what="the call to run")
    agent.stop()
    assert not any(e["event"] == "skipped" for e in agent.audit())


def test_a_lost_lease_abandons_the_call(fake: tuple[FakeOrchestrator, str], agent: Agent) -> None:
    orchestrator, _ = fake
    orchestrator.lease_seconds = 3  # renewals every second
    # A query that cannot finish before the first renewal, however fast the machine: only the
    # lost lease can end this call without a result (a timeout would report one).
    call = orchestrator.add("db", {"queries": [{"name": "n", "sql": ENDLESS_SQL}]})
    orchestrator.lease_conflicts.add(call.tool_call_id)
    agent.start()
    (abandoned,) = wait_for(
        lambda: [e for e in agent.audit() if e["event"] == "abandoned"], what="abandon"
    )
    assert abandoned["tool_call_id"] == call.tool_call_id
    assert abandoned["reason"].startswith("lease lost (409")
    # The abandoned query still runs to its statement timeout in its thread; its result is
    # dropped, never delivered.
    code, out = agent.stop()
    assert code == 0, out
    assert orchestrator.results_for(call) == [] and orchestrator.refused == []
    assert not any(e["event"] in ("executed", "failed") for e in agent.audit())


def test_sigterm_lets_a_running_call_finish_and_deliver(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    call = orchestrator.add("db", {"queries": [{"name": "n", "sql": SLOW_SQL.format(n=1_500_000)}]})
    agent.start()
    wait_for(lambda: call.attempt == 1, what="claim")
    code, out = agent.stop(signal.SIGTERM)
    assert code == 0, out
    (result,) = orchestrator.results_for(call)
    assert result["result"]["results"]["n"]["rows"] == [[1_500_000]]


def test_the_last_contract_check_goes_with_the_next_heartbeat(
    fake: tuple[FakeOrchestrator, str], agent: Agent
) -> None:
    orchestrator, _ = fake
    agent.start()
    wait_for(lambda: orchestrator.heartbeats, what="first heartbeat")
    assert orchestrator.heartbeats[0]["contract_check"] is None
    # IT staff run the check beside the running agent (same policy, same state folder).
    done = subprocess.run(
        [PHI_AGENT, "contract", "check", "--policy", "policy.yaml"],
        cwd=agent.directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sent = wait_for(
        lambda: [h["contract_check"] for h in orchestrator.heartbeats if h["contract_check"]],
        what="a heartbeat with the check",
    )
    report = sent[-1][0]
    assert report["contract"] == "warehouse" and report["ok"] is True
    assert [(t["table"], t["source"], t["ok"]) for t in report["tables"]] == [
        (name, "table", True)
        for name in ("zones", "pickers", "docks", "picks", "orders", "shipments")
    ]
    code, out = agent.stop()
    assert code == 0, out
