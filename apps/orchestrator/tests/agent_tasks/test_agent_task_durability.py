"""Agent tasks survive a worker killed while they wait for an approval and between two tool
calls: the next worker goes on from the last finished step, and no tool call runs twice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from agent_task_helpers import (
    LATE_BY_ZONE,
    AgentTasks,
    OnWarehouse,
    calls,
    data_of,
    events,
    plain_rows,
)
from orch_factories import sql

from phi_llm.testing import FakeOpenAIServer

ZONES = "SELECT zone_id, name FROM zones ORDER BY zone_id"


def _wait_for_step(api: httpx.Client, tenant: Any, task_id: str, step: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()
        if any(e.get("step") == step for e in events(task, "step_started")):
            return
        time.sleep(0.05)
    raise AssertionError(f"{step} never started")


def _ran_once(phi: Any, database_url: str, task_id: str, statements: list[str]) -> None:
    queries = [a for a in phi.audit() if a["event"] == "query"]
    assert [q["sql"] for q in queries] == statements
    assert len({q["tool_call_id"] for q in queries}) == len(statements)
    rows = sql(database_url, "SELECT step, status FROM tool_calls WHERE task_id = %s", task_id)
    assert Counter(status for _, status in rows) == Counter({"DONE": len(statements)})


def test_a_worker_killed_while_a_task_awaits_approval(
    agent_api: httpx.Client,
    agent_tasks: AgentTasks,
    database_url: str,
    on_warehouse: OnWarehouse,
    start_worker: Any,
    worker_settings: dict[str, Any],
    warehouse: Path,
) -> None:
    tenant, phi = on_warehouse(requires_approval=["db_query"])
    first = start_worker(**worker_settings)
    given = agent_tasks.give(
        tenant,
        "Late orders",
        calls(("db_query", {"sql": LATE_BY_ZONE})),
        "say:Z-B had most late orders.",
    )
    given.wait({"AWAITING_APPROVAL"})
    first.kill()
    start_worker(**worker_settings)
    r = agent_api.post(
        f"/tasks/{given.id}/approval", json={"decision": "approve"}, headers=tenant.owner.headers
    )
    assert r.status_code == 200, r.text
    task = given.wait()
    assert task["status"] == "SUCCESS", task["error"]
    assert len(events(task, "approval_requested")) == 1
    _ran_once(phi, database_url, given.id, [LATE_BY_ZONE])
    assert data_of(given.tool_messages()[0])["rows"] == plain_rows(warehouse, LATE_BY_ZONE)


def test_a_worker_killed_between_two_tool_calls(
    agent_api: httpx.Client,
    agent_tasks: AgentTasks,
    database_url: str,
    model: FakeOpenAIServer,
    on_warehouse: OnWarehouse,
    start_worker: Any,
    worker_settings: dict[str, Any],
) -> None:
    tenant, phi = on_warehouse()
    model.slow_seconds = 30
    try:
        first = start_worker(**worker_settings)
        # The second model turn hangs (the worker is killed in it); the next worker asks again.
        given = agent_tasks.give(
            tenant,
            "Late orders by zone name",
            calls(("db_query", {"sql": LATE_BY_ZONE})),
            "slow",
            calls(("db_query", {"sql": ZONES})),
            "say:Z-B (Bulk) had most late orders.",
        )
        _wait_for_step(agent_api, tenant, given.id, "model_2")
        deadline = time.monotonic() + 30
        while len(given.requests()) < 2:  # the turn's request is at the model
            assert time.monotonic() < deadline, "the second model turn never asked the model"
            time.sleep(0.05)
        first.kill()
        start_worker(**worker_settings)
        task = given.wait(timeout=120)
        assert task["status"] == "SUCCESS", task["error"]
        _ran_once(phi, database_url, given.id, [LATE_BY_ZONE, ZONES])
        finished = Counter(e["step"] for e in events(task, "step_finished"))
        assert finished["tool_1"] == 1 and finished["tool_2"] == 1
        assert [e["tool"] for e in events(task, "tool_call_finished")] == ["db_query", "db_query"]
    finally:
        model.slow_seconds = 3.0
