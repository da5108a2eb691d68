"""Scheduled runs (org time zone, once per slot whatever the workers) and checkpoint pruning."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from orch_factories import make_tenant, run_task, sql, wait_task

from phi_orchestrator.housekeeping import (
    prune_checkpoints,
    purge_audit_events,
    tasks_without_job,
)
from phi_orchestrator.jobs import ADVANCE_TASK
from phi_orchestrator.runtime import open_pool
from phi_orchestrator.schedules import due_runs, latest_slot, start_due_runs


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_slots_are_read_in_the_org_time_zone() -> None:
    now = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)
    # 06:00 in Tokyo (UTC+9) is 21:00 UTC the day before.
    assert latest_slot("0 6 * * *", "Asia/Tokyo", now) == datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    assert latest_slot("0 6 * * *", "UTC", now) == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert latest_slot("30 5 * * *", "UTC", now) == now  # a slot exactly now counts
    agent = {
        "config": {
            "workflows": [
                {"type": "DAILY_WAREHOUSE_REPORT", "schedule": "30 5 * * *"},
                {"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 6 * * *"},  # 23.5 h ago: too old
                {"type": "ASK", "schedule": "30 5 * * *", "enabled": False},
                {"type": "UNKNOWN", "schedule": "30 5 * * *"},
            ]
        },
        "time_zone": "UTC",
    }
    assert [(t, s) for _, t, s in due_runs([agent], now)] == [("DAILY_WAREHOUSE_REPORT", now)]


def test_a_slot_runs_once_however_many_schedulers_race(database_url: str) -> None:
    now = time.time()
    tenant = make_tenant(
        database_url,
        config={"workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "* * * * *"}]},
        time_zone="Europe/Berlin",
    )

    async def race() -> list[Any]:
        pool = open_pool(_libpq(database_url), max_size=8)
        await pool.open()
        try:
            results = await asyncio.gather(*(start_due_runs(pool, now) for _ in range(6)))
        finally:
            await pool.close()
        return [task for created in results for task in created]

    created = asyncio.run(race())
    mine = sql(
        database_url,
        "SELECT id, trigger, input->>'day' FROM tasks WHERE agent_id = %s",
        tenant.agent_id,
    )
    assert len(mine) == 1 and mine[0][0] in created and mine[0][1] == "schedule"
    # One audit event for the one run, by the schedule, in the run's transaction.
    events = sql(
        database_url,
        "SELECT actor_type, actor_id::text, target_id, details->>'trigger' FROM audit_events "
        "WHERE org_id = %s AND action = 'task.started'",
        tenant.org_id,
    )
    assert events == [("schedule", tenant.agent_id, str(mine[0][0]), "schedule")]
    berlin_today = datetime.fromtimestamp(now, UTC).astimezone(ZoneInfo("Europe/Berlin")).date()
    # The report of a scheduled run covers the day before, in the org's time zone.
    assert mine[0][2] == (berlin_today - timedelta(days=1)).isoformat()


def test_scheduled_run_appears_in_the_task_list_and_finishes(
    api: httpx.Client, database_url: str, worker: Any
) -> None:
    tenant = make_tenant(
        database_url,
        config={"workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "* * * * *"}]},
    )
    deadline = time.monotonic() + 40
    items: list[Any] = []
    while time.monotonic() < deadline and not items:
        items = api.get(f"/agents/{tenant.agent_id}/tasks", headers=tenant.owner.headers).json()[
            "items"
        ]
        time.sleep(0.5)
    assert [i["trigger"] for i in items] == ["schedule"]
    task = wait_task(api, tenant, items[0]["id"], {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]


def test_the_agent_page_learns_why_a_schedule_does_not_run(
    api: httpx.Client, database_url: str
) -> None:
    # Stored straight into the database, as a config saved before schedules were checked.
    workflows = [
        {"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 0 31 2 *"},
        {"type": "MONTHLY_FIRST_WORKING_SEND", "schedule": "0 9 1 * *"},
        {"type": "ASK", "schedule": "0 9 * * *"},
        {"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 6 * * *", "enabled": False},
        {"type": "ASK", "schedule": None},
    ]
    tenant = make_tenant(database_url, config={"workflows": workflows}, time_zone="Asia/Tokyo")
    r = api.get(f"/agents/{tenant.agent_id}/schedules", headers=tenant.owner.headers)
    assert r.status_code == 200, r.text
    states = {(s["type"], s["schedule"]): s for s in r.json()}
    assert len(states) == 4  # the on-demand ASK has no schedule
    assert "never runs" in states["DAILY_WAREHOUSE_REPORT", "0 0 31 2 *"]["problem"]
    invented = states["MONTHLY_FIRST_WORKING_SEND", "0 9 1 * *"]
    assert not invented["runs"] and "no workflow type" in invented["problem"]
    assert "only on request" in states["ASK", "0 9 * * *"]["problem"]
    assert "disabled" in states["DAILY_WAREHOUSE_REPORT", "0 6 * * *"]["problem"]
    assert all(s["next_run"] is None for s in states.values())

    sql(
        database_url,
        "UPDATE agents SET config = %s::jsonb WHERE id = %s",
        '{"workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 6 * * *"}]}',
        tenant.agent_id,
    )
    (state,) = api.get(f"/agents/{tenant.agent_id}/schedules", headers=tenant.owner.headers).json()
    assert state["runs"] and state["problem"] is None and state["instruction"] is None
    # 06:00 in Tokyo is 21:00 UTC.
    assert datetime.fromisoformat(state["next_run"]).astimezone(UTC).hour == 21
    sql(database_url, "UPDATE agents SET status = 'DISABLED' WHERE id = %s", tenant.agent_id)
    (state,) = api.get(f"/agents/{tenant.agent_id}/schedules", headers=tenant.owner.headers).json()
    assert not state["runs"] and "DISABLED" in state["problem"]


def test_an_agent_task_is_not_scheduled_without_a_model_that_calls_tools(
    api: httpx.Client, database_url: str, orch_settings: Any
) -> None:
    # The session's orchestrator (and its settings) route only to the builtin provider, which
    # calls no tools: run-task refuses AGENT_TASK (409), and the scheduler does not start it.
    entry = {
        "type": "AGENT_TASK",
        "schedule": "* * * * *",
        "input": {"instruction": "List last week's late orders by zone"},
    }
    tenant = make_tenant(database_url, config={"workflows": [entry]})
    (state,) = api.get(f"/agents/{tenant.agent_id}/schedules", headers=tenant.owner.headers).json()
    assert not state["runs"] and state["next_run"] is None
    assert state["problem"].startswith(
        "AGENT_TASK needs a model that calls tools, and no model is configured: 'heavy' routes "
        "only to the builtin provider"
    )
    assert "PHI_LLM_ROUTES" in state["problem"]
    assert state["instruction"] == "List last week's late orders by zone"

    async def tick() -> list[Any]:
        pool = open_pool(_libpq(database_url), max_size=2)
        await pool.open()
        try:
            return await start_due_runs(pool, time.time(), orch_settings())
        finally:
            await pool.close()

    assert asyncio.run(tick()) == []
    assert sql(database_url, "SELECT count(*) FROM tasks WHERE agent_id = %s", tenant.agent_id) == [
        (0,)
    ]


def test_checkpoints_of_finished_tasks_are_pruned_results_stay(
    api: httpx.Client, database_url: str, worker: Any
) -> None:
    tenant = make_tenant(database_url)
    task_id = run_task(api, tenant, "ASK", {"question": "q"})
    wait_task(api, tenant, task_id, {"SUCCESS"})
    count = "SELECT count(*) FROM checkpoints WHERE thread_id = %s"
    assert sql(database_url, count, task_id)[0][0] > 0

    async def prune(hours: float) -> int:
        pool = open_pool(_libpq(database_url), max_size=2)
        await pool.open()
        try:
            return await prune_checkpoints(pool, hours)
        finally:
            await pool.close()

    asyncio.run(prune(24))  # too recent to prune
    assert sql(database_url, count, task_id)[0][0] > 0
    assert asyncio.run(prune(0)) >= 1
    assert sql(database_url, count, task_id)[0][0] == 0
    for table in ("checkpoint_blobs", "checkpoint_writes"):
        assert (
            sql(database_url, f"SELECT count(*) FROM {table} WHERE thread_id = %s", task_id)[0][0]
            == 0
        )
    task = api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()
    assert task["status"] == "SUCCESS" and task["output"]["answer"] and task["events"]


def test_a_running_task_whose_job_failed_is_queued_again(database_url: str) -> None:
    """A job that failed (or vanished) while its task was RUNNING leaves the task to the
    periodic requeue; a task whose job still runs is left alone."""
    tenant = make_tenant(database_url)

    def running_task(job_status: str | None) -> str:
        (task_id,) = sql(
            database_url,
            "INSERT INTO tasks (agent_id, org_id, type, input, status, started_at) "
            "VALUES (%s, %s, 'ASK', '{\"question\": \"q\"}', 'RUNNING', now()) RETURNING id",
            tenant.agent_id,
            tenant.org_id,
        )[0]
        if job_status:
            sql(
                database_url,
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                "VALUES ('orchestrator', %s, jsonb_build_object('task_id', %s::text), %s)",
                ADVANCE_TASK,
                task_id,
                job_status,
            )
        return str(task_id)

    failed, gone, doing = running_task("failed"), running_task(None), running_task("doing")

    async def found() -> set[str]:
        pool = open_pool(_libpq(database_url), max_size=2)
        await pool.open()
        try:
            return {str(t) for t in await tasks_without_job(pool, ADVANCE_TASK)}
        finally:
            await pool.close()

    queued = asyncio.run(found())
    assert {failed, gone} <= queued and doing not in queued
    sql(database_url, "DELETE FROM procrastinate_jobs WHERE args->>'task_id' = %s", doing)
    sql(database_url, "UPDATE tasks SET status = 'FAILED' WHERE agent_id = %s", tenant.agent_id)


def test_audit_events_past_their_retention_are_removed_in_batches(database_url: str) -> None:
    org_id = str(uuid.uuid4())
    for days in (400, 400, 400, 400, 400, 30):
        sql(
            database_url,
            "INSERT INTO audit_events (org_id, actor_type, action, occurred_at) "
            "VALUES (%s, 'user', 'agent.created', now() - make_interval(days => %s))",
            org_id,
            days,
        )

    async def purge() -> int:
        pool = open_pool(_libpq(database_url), max_size=2)
        await pool.open()
        try:
            return await purge_audit_events(pool, 365, batch_size=2)
        finally:
            await pool.close()

    assert asyncio.run(purge()) >= 5  # three batches; other tests' old events may go too
    left = sql(
        database_url,
        "SELECT (now() - occurred_at) < interval '60 days' FROM audit_events WHERE org_id = %s",
        org_id,
    )
    assert left == [(True,)]
