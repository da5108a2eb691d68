"""The whole-task time limit (``PHI_AGENT_TASK_SECONDS``), on a worker of its own whose tasks
have a few seconds each: a model answer that would come too late is not waited for, a task
started by ``run_workflow`` is stopped with its parent's time, and time spent awaiting a
person's approval is not counted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from agent_task_helpers import LIMITS, LOCAL_REPORT, AgentTasks, agent_tenant, calls, events
from orch_factories import sql, worker_env

from phi_llm.testing import FakeOpenAIServer
from phi_orchestrator.settings import OrchestratorSettings
from phi_service.testing import WorkerProcess

TASK_SECONDS = 5


@pytest.fixture(scope="module")
def short_worker(
    orch_settings: Callable[..., OrchestratorSettings], llm_env: dict[str, Any]
) -> Iterator[WorkerProcess]:
    env = worker_env(orch_settings(), **llm_env, **LIMITS, agent_task_seconds=TASK_SECONDS)
    w = WorkerProcess("phi_orchestrator.worker", env).wait_ready()
    yield w
    w.kill()


def test_a_model_answer_past_the_tasks_time_is_not_waited_for(
    agent_tasks: AgentTasks, database_url: str, model: FakeOpenAIServer, short_worker: WorkerProcess
) -> None:
    tenant = agent_tenant(database_url, tools=())
    search = calls(("search_documents", {"query": "late orders"}))
    model.slow_seconds = 30
    try:
        # The second turn's answer would come after 30 seconds.
        task = agent_tasks.give(tenant, "Search", search, "slow", "say:too late").wait(timeout=60)
    finally:
        model.slow_seconds = 3.0
    assert task["status"] == "FAILED", task["output"]
    assert task["error"] == (
        f"time limit: the task ran for its {TASK_SECONDS} seconds without reaching an answer "
        "(time awaiting approval not counted)"
    )
    # What was found is kept; the task ended long before the model's answer.
    assert task["output"]["stopped_by"] == "time" and task["output"]["tool_calls"] == 1
    assert [e["tool"] for e in events(task, "tool_call_finished")] == ["search_documents"]
    ran = _seconds(task["started_at"], task["finished_at"])
    assert ran < 20, f"the task ran {ran:.1f} s"


def test_a_task_it_started_is_stopped_when_its_time_is_up(
    agent_api: httpx.Client, agent_tasks: AgentTasks, database_url: str, short_worker: WorkerProcess
) -> None:
    tenant = agent_tenant(database_url, tools=("db",), workflows=["DAILY_WAREHOUSE_REPORT"])
    # The report reads the customer's database through a local agent, and none is running:
    # the report waits for it longer than the agent task may wait for the report.
    given = agent_tasks.give(
        tenant,
        "Report on the 24th",
        calls(("search_documents", {"query": "late orders"})),
        calls(("run_workflow", LOCAL_REPORT)),
        "say:too late",
    )
    task = given.wait(timeout=60)
    assert task["status"] == "FAILED", task["output"]
    assert task["error"] == (
        f"time limit: the task ran for its {TASK_SECONDS} seconds without reaching an answer "
        "(time awaiting approval not counted)"
    )
    # What was found before is kept; the model is not asked again.
    assert task["output"]["stopped_by"] == "time" and task["output"]["partial"] is True
    assert [e["tool"] for e in events(task, "tool_call_finished")] == ["search_documents"]
    assert len(given.requests()) == 2
    # The report was stopped with it, saying why; nothing is left for a local agent to take.
    ((child_id, status, error),) = sql(
        database_url,
        "SELECT id::text, status, error FROM tasks WHERE parent_task_id = %s",
        given.id,
    )
    assert status == "CANCELLED"
    assert f"the agent task {given.id} that started it could wait" in error
    assert error.endswith("(that task's time limit)")
    child = agent_api.get(f"/tasks/{child_id}", headers=tenant.owner.headers).json()
    (cancelled,) = events(child, "task_cancelled")
    assert cancelled["reason"] == error and cancelled["parent_task_id"] == given.id
    assert [c["status"] for c in child["tool_calls"]] == ["CANCELLED"]
    assert [c["id"] for c in child["tool_calls"]] == cancelled["released_tool_calls"]
    audited = sql(
        database_url,
        "SELECT actor_type, details->>'parent_task_id' FROM audit_events "
        "WHERE action = 'task.cancelled' AND target_id = %s",
        child_id,
    )
    assert audited == [("system", given.id)]
    ran = _seconds(task["started_at"], task["finished_at"])
    assert ran < 20, f"the task ran {ran:.1f} s"


def test_time_awaiting_approval_is_not_counted(
    agent_api: httpx.Client, agent_tasks: AgentTasks, database_url: str, short_worker: WorkerProcess
) -> None:
    tenant = agent_tenant(database_url, tools=(), requires_approval=["search_documents"])
    given = agent_tasks.give(
        tenant,
        "Any dock closed?",
        calls(("search_documents", {"query": "dock closures"})),
        "say:No dock is closed.",
    )
    task = given.wait({"AWAITING_APPROVAL", "FAILED"})
    assert task["status"] == "AWAITING_APPROVAL", task["error"]
    time.sleep(TASK_SECONDS + 1)  # the person answers after longer than the task's time
    r = agent_api.post(
        f"/tasks/{given.id}/approval", json={"decision": "approve"}, headers=tenant.owner.headers
    )
    assert r.status_code == 200, r.text
    task = given.wait()
    assert task["status"] == "SUCCESS", task["error"]
    assert [e["tool"] for e in events(task, "tool_call_finished")] == ["search_documents"]


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
