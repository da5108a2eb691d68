"""run-task stores a task with everything that goes with it in one transaction: the task,
its ``task_created`` event, its audit line and its first job. No worker runs in this module,
so the job stays queued for the tests to read."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from orch_factories import make_tenant, sql


def _jobs(database_url: str, task_id: str) -> list[tuple[Any, ...]]:
    return sql(
        database_url,
        "SELECT task_name, queue_name, status, lock, queueing_lock, args FROM procrastinate_jobs "
        "WHERE args->>'task_id' = %s",
        task_id,
    )


def test_the_task_is_stored_with_its_event_audit_line_and_job(
    api: httpx.Client, database_url: str
) -> None:
    tenant = make_tenant(database_url)
    request_id = f"run-task-{uuid.uuid4().hex}"
    r = api.post(
        f"/agents/{tenant.agent_id}/run-task",
        json={"type": "ASK", "input": {"question": "How many pallets?"}},
        headers={**tenant.owner.headers, "X-Request-ID": request_id},
    )
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]

    ((status, created_by, input_),) = sql(
        database_url, "SELECT status, created_by::text, input FROM tasks WHERE id = %s", task_id
    )
    assert (status, created_by, input_["question"]) == (
        "PENDING",
        tenant.owner.user_id,
        "How many pallets?",
    )
    events = sql(
        database_url, "SELECT event_type, payload FROM task_events WHERE task_id = %s", task_id
    )
    assert events == [("task_created", {"trigger": "manual", "type": "ASK"})]
    ((label, audit_request_id),) = sql(
        database_url,
        "SELECT actor_label, request_id FROM audit_events "
        "WHERE action = 'task.started' AND target_id = %s",
        task_id,
    )
    # The caller's email, read with the access check.
    ((email,),) = sql(database_url, "SELECT email FROM users WHERE id = %s", tenant.owner.user_id)
    assert (label, audit_request_id) == (email, request_id)

    ((name, queue, job_status, lock, queueing_lock, args),) = _jobs(database_url, task_id)
    assert (name, queue, job_status) == ("orchestrator:advance_task", "orchestrator", "todo")
    assert (lock, queueing_lock) == (f"task:{task_id}", f"advance:{task_id}")
    # The request's ids go with the job, for the worker's log lines.
    assert args["_log"]["request_id"] == request_id
    assert (args["_log"]["org_id"], args["_log"]["agent_id"]) == (tenant.org_id, tenant.agent_id)


def test_a_value_the_database_refuses_is_a_422_and_stores_nothing(
    api: httpx.Client, database_url: str
) -> None:
    tenant = make_tenant(database_url)
    # Valid for the input model; PostgreSQL's jsonb refuses the NUL character.
    r = api.post(
        f"/agents/{tenant.agent_id}/run-task",
        json={"type": "ASK", "input": {"question": "pallets\u0000?"}},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "invalid value in request"
    assert sql(database_url, "SELECT id FROM tasks WHERE agent_id = %s", tenant.agent_id) == []
    assert (
        sql(
            database_url,
            "SELECT id FROM audit_events WHERE org_id = %s AND action = 'task.started'",
            tenant.org_id,
        )
        == []
    )
    assert (
        sql(
            database_url,
            "SELECT j.id FROM procrastinate_jobs j WHERE j.args->'_log'->>'agent_id' = %s",
            tenant.agent_id,
        )
        == []
    )
    # The next request on the same connections works.
    ok = api.post(
        f"/agents/{tenant.agent_id}/run-task",
        json={"type": "ASK", "input": {"question": "pallets?"}},
        headers=tenant.owner.headers,
    )
    assert ok.status_code == 202, ok.text


def test_a_replayed_request_queues_no_second_job(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url)
    headers = {**tenant.owner.headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"type": "ASK", "input": {"question": "How many pallets?"}}
    first = api.post(f"/agents/{tenant.agent_id}/run-task", json=body, headers=headers)
    again = api.post(f"/agents/{tenant.agent_id}/run-task", json=body, headers=headers)
    assert first.status_code == again.status_code == 202, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    task_id = first.json()["task_id"]
    assert again.json()["task_id"] == task_id
    assert len(_jobs(database_url, task_id)) == 1
