"""The orchestrator's background jobs (procrastinate, queue ``orchestrator``).

``advance_task`` runs a task's graph from its checkpoint; it carries a lock named after the
task (jobs of one task run one after the other, never at once) and a queueing lock (at most
one waiting job per task: a waiting job will see whatever happened since it was queued).
Periodic jobs, each run once per tick whatever the number of workers: expire tool calls
(leases out of attempts, calls nobody claimed, tasks an agent task started that ran past the
time it could wait for them), start scheduled runs, prune checkpoints of
finished tasks, and queue tasks left PENDING without a job.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from phi_orchestrator.settings import OrchestratorSettings
from phi_service.jobs import context_value, create_job_app, job_in_transaction

logger = logging.getLogger(__name__)

QUEUE = "orchestrator"
NAMESPACE = "orchestrator"
ADVANCE_TASK = f"{NAMESPACE}:advance_task"
DELIVER = f"{NAMESPACE}:deliver"


def advance_queueing_lock(task_id: uuid.UUID | str) -> str:
    """The queueing lock of a task's ``advance_task`` jobs: one waiting at most."""
    return f"advance:{task_id}"


def _advance_lock(task_id: uuid.UUID | str) -> str:
    """The lock of a task's ``advance_task`` jobs: one running at a time."""
    return f"task:{task_id}"


async def defer_advance(app: procrastinate.App, task_id: uuid.UUID | str) -> None:
    """Queue a run of the task from its checkpoint (no-op if one is already waiting)."""
    try:
        await app.configure_task(
            ADVANCE_TASK,
            queue=QUEUE,
            lock=_advance_lock(task_id),
            queueing_lock=advance_queueing_lock(task_id),
        ).defer_async(task_id=str(task_id))
    except AlreadyEnqueued:
        pass


def first_advance(task_id: uuid.UUID) -> dict[str, Any]:
    """The parameters of ``DEFER_IN_TRANSACTION_SQL`` queueing a new task's first run, in the
    transaction that creates the task (no job of that task can be waiting yet)."""
    return job_in_transaction(
        ADVANCE_TASK,
        queue=QUEUE,
        lock=_advance_lock(task_id),
        queueing_lock=advance_queueing_lock(task_id),
        task_id=str(task_id),
    )


# The task's waiting advance_task job, deleted once the task has ended (procrastinate's own
# function, which deletes a job only while it is still waiting). A local agent's callback
# queues one even when the run took the answer in place (it cannot know whether the run
# still waits); left, it would hold a worker slot for a run that finds the task finished.
DROP_WAITING_ADVANCE_SQL = """
SELECT procrastinate_cancel_job_v1(j.id, false, true)
  FROM procrastinate_jobs j
 WHERE j.queueing_lock = %(lock)s AND j.status = 'todo'
   AND EXISTS (SELECT 1 FROM tasks t
                WHERE t.id = %(task_id)s AND t.status IN ('SUCCESS', 'FAILED', 'CANCELLED'))
"""


async def defer_delivery(
    app: procrastinate.App, delivery_id: uuid.UUID | str, delay: float | None = None
) -> None:
    """Queue an attempt of the delivery (no-op if one is already waiting)."""
    try:
        await app.configure_task(
            DELIVER,
            queue=QUEUE,
            lock=f"delivery:{delivery_id}",
            queueing_lock=f"deliver:{delivery_id}",
            schedule_in={"seconds": delay} if delay else None,
        ).defer_async(delivery_id=str(delivery_id))
    except AlreadyEnqueued:
        pass


async def advance_task(context: procrastinate.JobContext, task_id: str) -> None:
    runner = context_value(context, "runner")
    outcome = await runner.run(uuid.UUID(task_id))
    logger.info("task %s: %s", task_id, outcome.status)
    # The deliveries were stored with the success; requeue_deliveries covers a worker that
    # dies before these are queued.
    for delivery_id in outcome.deliveries:
        await defer_delivery(context.app, delivery_id)
    if outcome.waiting_parent is not None:
        # A task an agent task started has finished: the agent task reads its result now.
        await defer_advance(context.app, outcome.waiting_parent)


async def deliver(context: procrastinate.JobContext, delivery_id: str) -> None:
    from phi_orchestrator.deliveries import attempts

    settings: OrchestratorSettings = context_value(context, "settings")
    delay = await attempts.attempt(context_value(context, "pool"), settings, uuid.UUID(delivery_id))
    if delay is not None:
        await defer_delivery(context.app, delivery_id, delay)


async def requeue_deliveries(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.deliveries import attempts

    for delivery_id in await attempts.without_job(context_value(context, "pool"), DELIVER):
        await defer_delivery(context.app, delivery_id)


async def expire_tool_calls(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.housekeeping import cancel_overdue_children
    from phi_orchestrator.housekeeping import expire_tool_calls as expire

    settings: OrchestratorSettings = context_value(context, "settings")
    pool = context_value(context, "pool")
    for task_id in await expire(pool, settings):
        await defer_advance(context.app, task_id)
    # The tasks run_workflow calls started are calls whose time can run out too.
    for task_id in await cancel_overdue_children(pool):
        await defer_advance(context.app, task_id)


async def expire_approvals(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.housekeeping import expire_approvals as expire

    settings: OrchestratorSettings = context_value(context, "settings")
    for task_id in await expire(context_value(context, "pool"), settings):
        await defer_advance(context.app, task_id)


async def run_schedules(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.schedules import start_due_runs

    settings: OrchestratorSettings = context_value(context, "settings")
    for task_id in await start_due_runs(context_value(context, "pool"), timestamp, settings):
        await defer_advance(context.app, task_id)


async def prune_checkpoints(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.housekeeping import prune_checkpoints as prune

    settings: OrchestratorSettings = context_value(context, "settings")
    await prune(context_value(context, "pool"), settings.checkpoint_retention_hours)


async def purge_audit_events(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.housekeeping import purge_audit_events as purge

    settings: OrchestratorSettings = context_value(context, "settings")
    await purge(context_value(context, "pool"), settings.audit_retention_days)


async def purge_idempotency_keys(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.housekeeping import purge_idempotency_keys as purge

    await purge(context_value(context, "pool"))


async def requeue_pending_tasks(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_orchestrator.housekeeping import tasks_without_job

    for task_id in await tasks_without_job(context_value(context, "pool"), ADVANCE_TASK):
        logger.warning("queueing task %s that had no job", task_id)
        await defer_advance(context.app, task_id)


def make_blueprint() -> procrastinate.Blueprint:
    bp = procrastinate.Blueprint()
    bp.task(name="advance_task", queue=QUEUE, pass_context=True)(advance_task)
    bp.task(name="deliver", queue=QUEUE, pass_context=True)(deliver)

    def periodic(cron: str, fn: Any) -> None:
        bp.periodic(cron=cron)(
            bp.task(name=fn.__name__, queue=QUEUE, queueing_lock=fn.__name__, pass_context=True)(fn)
        )

    # croniter's sixth field is seconds.
    periodic("* * * * * */2", expire_tool_calls)
    periodic("* * * * * */5", expire_approvals)
    periodic("* * * * * */15", run_schedules)
    periodic("*/10 * * * *", prune_checkpoints)
    periodic("* * * * *", requeue_pending_tasks)
    periodic("* * * * * */20", requeue_deliveries)
    periodic("23 * * * *", purge_audit_events)
    periodic("*/10 * * * *", purge_idempotency_keys)
    return bp


def create_orchestrator_jobs(settings: OrchestratorSettings) -> procrastinate.App:
    # Job fetches, defers and ends are on every task's path: one round trip each, not two.
    return create_job_app(
        settings.libpq_database_url, {NAMESPACE: make_blueprint()}, cheap_check=True
    )
