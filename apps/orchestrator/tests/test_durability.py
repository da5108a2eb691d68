"""Durability with real worker processes and the real database: a worker killed mid-task,
two workers at once, a callback posted twice at the same moment."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest
from orch_factories import (
    ScriptedLocalAgent,
    contract_result,
    create_key,
    make_tenant,
    plain_url,
    run_task,
    sql,
    wait_task,
)

from phi_orchestrator.jobs import advance_queueing_lock

DAY = "2026-11-24"
STEPS = [
    "load_agent_config",
    "fetch_data",
    "fetch_docs",
    "analysis",
    "report_formatter",
    "remember_day",
    "save_result",
]


def _events(task: dict[str, Any], kind: str) -> Counter[str]:
    return Counter(e["payload"]["step"] for e in task["events"] if e["event_type"] == kind)


def _wait_event(api: httpx.Client, tenant: Any, task_id: str, kind: str, step: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()["events"]
        if any(e["event_type"] == kind and e["payload"].get("step") == step for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {kind} {step}")


def test_worker_killed_mid_task_another_finishes_it_with_one_result(
    api: httpx.Client, database_url: str, start_worker: Any
) -> None:
    tenant = make_tenant(database_url)
    first = start_worker()
    # A fresh worker builds the sample data set inside fetch_data (seconds): kill it there.
    task_id = run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": "2026-11-20"})
    _wait_event(api, tenant, task_id, "step_started", "fetch_data")
    first.kill()
    assert api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()["status"] == "RUNNING"
    start_worker()
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    # Steps checkpointed before the kill were not run again; fetch_data started twice and
    # finished once; one result, one success.
    assert _events(task, "step_finished") == Counter(STEPS)
    assert _events(task, "step_started")["load_agent_config"] == 1
    assert _events(task, "step_started")["fetch_data"] == 2
    kinds = Counter(e["event_type"] for e in task["events"])
    assert kinds["task_succeeded"] == 1 and task["output"]["metrics"]["day"] == "2026-11-20"


# Makes a session wait on advisory lock HOLD_KEY, for as long as the test holds it, while it
# stores the first step's end: the checkpoint after it, which applies its state update (the
# step's writes are not stored apart), in the transaction of its step_finished.
HOLD_KEY = 7_317_001
HOLD_WRITES = f"""
CREATE FUNCTION test_hold_step_writes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock_shared({HOLD_KEY}); RETURN NEW; END $$;
CREATE TRIGGER test_hold_step_writes BEFORE INSERT ON checkpoints FOR EACH ROW
WHEN (NEW.metadata->>'step' = '1') EXECUTE FUNCTION test_hold_step_writes();
"""
RELEASE_WRITES = """
DROP TRIGGER IF EXISTS test_hold_step_writes ON checkpoints;
DROP FUNCTION IF EXISTS test_hold_step_writes();
"""


def test_a_worker_killed_between_a_steps_end_and_its_checkpoint_never_runs_it_again(
    api: httpx.Client, database_url: str, start_worker: Any
) -> None:
    """load_agent_config ends, but the test keeps the checkpoint after it from being stored;
    the worker is killed there. Whatever the task's events say has finished must not run
    again: a step's end is recorded in the transaction of the checkpoint applying it."""
    tenant = make_tenant(database_url)
    with psycopg.connect(plain_url(database_url), autocommit=True) as holder:
        holder.execute(HOLD_WRITES)
        try:
            holder.execute("SELECT pg_advisory_lock(%s)", (HOLD_KEY,))
            first = start_worker()
            task_id = run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY})
            _wait_event(api, tenant, task_id, "step_started", "load_agent_config")
            deadline = time.monotonic() + 30
            while not _waiting_on(holder, HOLD_KEY):
                assert time.monotonic() < deadline, "the step's writes never reached the hold"
                time.sleep(0.05)
            first.kill()
            # What the dead worker had sent but the server had not run yet is dropped too.
            holder.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND NOT granted AND objid = %s",
                (HOLD_KEY,),
            )
        finally:
            holder.execute("SELECT pg_advisory_unlock_all()")
            holder.execute(RELEASE_WRITES)
    start_worker()
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    assert _events(task, "step_finished") == Counter(STEPS)
    finished: set[str] = set()
    for e in task["events"]:
        step = e["payload"].get("step")
        if e["event_type"] == "step_finished":
            finished.add(step)
        if e["event_type"] == "step_started":
            assert step not in finished, f"{step} started again after it had finished"


def _waiting_on(conn: psycopg.Connection[Any], key: int) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
        (key,),
    ).fetchone()
    return bool(row and row[0])


def test_two_workers_never_run_the_same_step_twice(
    api: httpx.Client, database_url: str, orchestrator: Any, start_worker: Any
) -> None:
    start_worker()
    start_worker()
    tenant = make_tenant(database_url)
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    agent.heartbeat()
    sample = [run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY}) for _ in range(6)]
    local = [
        run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY, "data_source": "local_agent"})
        for _ in range(3)
    ]
    asks = [run_task(api, tenant, "ASK", {"question": f"q{i}"}) for i in range(4)]
    for _ in local:
        call = agent.claim(wait=30)
        assert agent.callback(call, contract_result(call["payload"], DAY)).status_code == 200
    for task_id in sample + local + asks:
        task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=180)
        assert task["status"] == "SUCCESS", task["error"]
        finished, started = _events(task, "step_finished"), _events(task, "step_started")
        waited = _events(task, "step_waiting")
        assert set(finished.values()) == {1}, (task_id, finished)
        assert started == finished + waited, (task_id, started, finished, waited)
        assert Counter(e["event_type"] for e in task["events"])["task_succeeded"] == 1
    agent.close()


@pytest.mark.parametrize("in_place", [False, True], ids=["task-waiting", "run-waiting-in-place"])
def test_the_same_callback_posted_twice_at_once_is_applied_once(
    api: httpx.Client, database_url: str, orchestrator: Any, start_worker: Any, in_place: bool
) -> None:
    """Both while the task is WAITING (the answer resumes it through a job) and while its run
    still waits in place for the answer (the run reads it and goes on). Waiting in place,
    the task runs in its first job only: the job the callback queued (it cannot know the run
    still waits) is dropped with the task's success rather than run for nothing."""
    worker = start_worker(tool_call_wait_seconds=30 if in_place else 0)
    tenant = make_tenant(database_url)
    key = create_key(api, tenant)
    agent = ScriptedLocalAgent(orchestrator.url, key)
    agent.heartbeat()
    task_id = run_task(
        api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY, "data_source": "local_agent"}
    )
    call = agent.claim()
    if not in_place:
        wait_task(api, tenant, task_id, {"WAITING"})
    result = contract_result(call["payload"], DAY)
    answers: list[str] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        client = ScriptedLocalAgent(orchestrator.url, key)
        barrier.wait()
        answers.append(client.callback(call, result).json()["status"])
        client.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == ["accepted", "duplicate"]
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})
    assert task["status"] == "SUCCESS"
    kinds = Counter(e["event_type"] for e in task["events"])
    assert kinds["tool_call_completed"] == 1 and kinds["task_succeeded"] == 1
    assert kinds["task_resumed"] == (0 if in_place else 1), kinds
    assert _events(task, "step_finished")["fetch_data"] == 1
    time.sleep(1.0)  # time for a job left after the success to be run
    # This task's jobs, as the worker logged them: its metrics would also count jobs other
    # tests left in the shared database (a killed worker's, retried once it is found
    # stalled).
    runs = [line for line in worker.output.splitlines() if f"task {task_id}: " in line]
    assert len(runs) == (1 if in_place else 2), runs
    queued = "SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock = %s"
    assert sql(database_url, queued, advance_queueing_lock(task_id)) == [(0,)]
    agent.close()


def _task_events(database_url: str, task_id: str) -> list[str]:
    rows = sql(
        database_url, "SELECT event_type FROM task_events WHERE task_id = %s ORDER BY seq", task_id
    )
    return [kind for (kind,) in rows]


@pytest.mark.parametrize("answered", ["while-no-worker-lives", "to-the-next-worker"])
def test_a_worker_killed_while_its_run_waits_in_place_for_a_tool_call(
    api: httpx.Client, database_url: str, orchestrator: Any, start_worker: Any, answered: str
) -> None:
    """The run waits in place for the local agent's answer (no interrupt, the task RUNNING)
    and its worker is killed there. The next worker takes the task over from its last
    checkpoint and finds the same call: answered while no worker lived (the callback's job
    resumes it), or answered later while the new run waits for it. The call is created and
    handed out once, the step whose run was cut off finishes once, one result."""
    tenant = make_tenant(database_url)
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    agent.heartbeat()
    first = start_worker(tool_call_wait_seconds=30)
    task_id = run_task(
        api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY, "data_source": "local_agent"}
    )
    call = agent.claim(wait=30)
    time.sleep(0.5)
    # Waiting in place: still RUNNING, nothing says it stopped.
    assert api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()["status"] == "RUNNING"
    assert "task_waiting" not in _task_events(database_url, task_id)
    first.kill()
    result = contract_result(call["payload"], DAY)
    if answered == "while-no-worker-lives":
        assert agent.callback(call, result).json() == {"status": "accepted"}
        start_worker(tool_call_wait_seconds=30)
    else:
        start_worker(tool_call_wait_seconds=30)
        # The new run has started the step again and waits on the same call.
        deadline = time.monotonic() + 60
        while _task_events(database_url, task_id).count("step_started") < 3:
            assert time.monotonic() < deadline, _task_events(database_url, task_id)
            time.sleep(0.05)
        assert agent.callback(call, result).json() == {"status": "accepted"}
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    assert sql(
        database_url, "SELECT step, status, attempt FROM tool_calls WHERE task_id = %s", task_id
    ) == [("fetch_data", "DONE", 1)]
    kinds = Counter(_task_events(database_url, task_id))
    assert kinds["tool_call_created"] == 1 and kinds["tool_call_claimed"] == 1
    assert kinds["tool_call_completed"] == 1 and kinds["task_succeeded"] == 1
    assert _events(task, "step_started")["fetch_data"] == 2
    assert _events(task, "step_finished") == Counter(STEPS)
    agent.close()
