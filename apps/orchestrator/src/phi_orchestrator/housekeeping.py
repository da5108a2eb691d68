"""Periodic clean-up run by the workers: tool calls whose time ran out, checkpoints of
finished tasks, tasks that lost their job, audit events past their retention, Idempotency-Keys
past their window (with the sealed secrets some of them keep)."""

from __future__ import annotations

import logging
import uuid

from phi_orchestrator.runtime import Pool
from phi_orchestrator.settings import OrchestratorSettings
from phi_orchestrator.tasks import repository as tasks
from phi_orchestrator.tasks.events import add_event
from phi_orchestrator.tool_calls import repository as tool_calls

logger = logging.getLogger(__name__)


async def expire_tool_calls(pool: Pool, settings: OrchestratorSettings) -> list[uuid.UUID]:
    """Fail the calls that can no longer be answered; returns their tasks (to be advanced,
    which fails them with the call's reason).

    - a lease that ran out on the last attempt: the local agent took the call and never
      answered, ``max_attempts`` times;
    - a call nobody claimed for ``tool_call_unclaimed_seconds`` (since it was created or its
      last lease ran out): no local agent of this agent is polling for that tool.
    """
    unclaimed = settings.tool_call_unclaimed_seconds
    async with pool.connection() as conn, conn.transaction():
        rows = await tool_calls.expire(conn, unclaimed)
        for row in rows:
            await add_event(
                conn,
                row["task_id"],
                "tool_call_failed",
                {"tool_call_id": str(row["id"]), "error": row["error"]},
            )
    for row in rows:
        logger.warning("tool call %s failed: %s", row["id"], row["error"])
    return [row["task_id"] for row in rows]


async def cancel_overdue_children(pool: Pool) -> list[uuid.UUID]:
    """Tasks started by an agent task's ``run_workflow`` that have not finished by the time
    their parent could wait (``tasks.deadline_at``) are cancelled, saying why; returns the
    parents (advanced, they end naming their time limit)."""
    from phi_orchestrator.agent_tasks.repository import cancel_overdue_children as cancel

    async with pool.connection() as conn, conn.transaction():
        parents = await cancel(conn)
    for parent in parents:
        logger.warning("task %s: a task it started ran past its time and was cancelled", parent)
    return parents


async def expire_approvals(pool: Pool, settings: OrchestratorSettings) -> list[uuid.UUID]:
    """Agent tasks that waited for an approval longer than ``approval_timeout_seconds``: the
    approval is decided ``expired``; returns the tasks (advanced, they fail naming it)."""
    from phi_orchestrator.agent_tasks.repository import expire_approvals as expire

    async with pool.connection() as conn, conn.transaction():
        tasks_ = await expire(conn, settings.approval_timeout_seconds)
    for task_id in tasks_:
        logger.warning("task %s: approval expired", task_id)
    return tasks_


async def prune_checkpoints(pool: Pool, retention_hours: float) -> int:
    """Delete LangGraph checkpoints of tasks finished more than ``retention_hours`` ago;
    the task, its events and its result stay. Returns the number of threads pruned."""
    async with pool.connection() as conn, conn.transaction():
        threads = [
            r["thread_id"]
            for r in await (
                await conn.execute(
                    "SELECT DISTINCT c.thread_id FROM checkpoints c "
                    "JOIN tasks t ON t.id::text = c.thread_id "
                    "WHERE t.finished_at < now() - make_interval(secs => %s) LIMIT 1000",
                    (retention_hours * 3600,),
                )
            ).fetchall()
        ]
        if threads:
            for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
                await conn.execute(f"DELETE FROM {table} WHERE thread_id = ANY(%s)", (threads,))
    if threads:
        logger.info("pruned the checkpoints of %d finished task(s)", len(threads))
    return len(threads)


async def purge_audit_events(
    pool: Pool, retention_days: int, batch_size: int = 5000, max_batches: int = 200
) -> int:
    """Remove audit events older than ``retention_days``, ``batch_size`` per transaction
    (short locks, no long-held snapshot), at most ``max_batches`` per run; returns how many.

    The rows go through the database's ``purge_audit_events()`` only: the table refuses every
    other DELETE (migration 0012)."""
    removed = 0
    for _ in range(max_batches):
        async with pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "SELECT purge_audit_events(%s, %s) AS n", (retention_days, batch_size)
                )
            ).fetchone()
        batch = int(row["n"]) if row else 0
        removed += batch
        if batch < batch_size:
            break
    if removed:
        logger.info("removed %d audit event(s) older than %d days", removed, retention_days)
    return removed


async def purge_idempotency_keys(pool: Pool, batch_size: int = 5000) -> int:
    """Remove the Idempotency-Keys whose window has ended (a request only clears its own
    account's, so an account that stops sending would keep its rows, and the sealed secrets
    of local-agent keys, forever); returns how many."""
    removed = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
                "idempotency_keys WHERE expires_at < now() LIMIT %s))",
                (batch_size,),
            )
        removed += cur.rowcount
        if cur.rowcount < batch_size:
            break
    if removed:
        logger.info("removed %d expired Idempotency-Key(s)", removed)
    return removed


async def tasks_without_job(pool: Pool, task_name: str) -> list[uuid.UUID]:
    """Tasks that need a run but have no queued or running job: PENDING for over a minute
    (the API stored the task but could not reach the queue), RUNNING (its job failed, e.g.
    the database stayed away longer than the job retries, or was lost), or WAITING on a call
    that was answered or failed over half a minute ago (the resume could not be queued).

    One statement, so one snapshot: a task is RUNNING only while a job runs it, and that job
    ends only after the task has left RUNNING."""
    async with pool.connection() as conn:
        return await tasks.without_job(conn, task_name)
