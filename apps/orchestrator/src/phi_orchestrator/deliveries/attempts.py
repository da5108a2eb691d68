"""Delivering a task's result: rows created with the task's success, then one attempt per job.

Exactly once per task and destination:
- the deliveries are inserted in the transaction that marks the task SUCCESS, unique per
  (task, destination), so a task run again after a crash, or two workers, add none twice;
- an attempt runs under a PostgreSQL advisory lock on the delivery (released by the server if
  the worker dies), and first reads the delivery's status: a DELIVERED one is never sent again;
- the attempt row is committed before anything is sent, with no outcome; the next attempt marks
  an attempt still without one as ``interrupted`` (the worker died while sending). Whether that
  message arrived cannot be known, so it is sent again with the same ``Idempotency-Key`` /
  ``X-Phi-Delivery`` header (and, for email, the same Message-ID): a receiver that keeps the
  keys it has acknowledged takes it once.

A failed attempt schedules the next after ``delivery_retry_base_seconds`` x 4^(n-1) (capped at
an hour) until ``delivery_max_attempts``; then GIVEN_UP. A delivery never changes its task.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from phi_orchestrator.deliveries.sending import Outcome, send_email, send_webhook
from phi_orchestrator.results.document import result_document
from phi_orchestrator.settings import OrchestratorSettings
from phi_platform.secret_box import SecretUnreadable

logger = logging.getLogger(__name__)

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]
MAX_DELAY_SECONDS = 3600.0

_CREATE_FOR_TASK = """
INSERT INTO deliveries (org_id, task_id, destination_id, kind, target, format)
SELECT d.org_id, t.id, d.id, d.kind, d.target, d.format
FROM tasks t JOIN delivery_destinations d
  ON d.agent_id = t.agent_id AND d.workflow_type = t.type AND d.org_id = t.org_id
WHERE t.id = %s AND t.status = 'SUCCESS'
ON CONFLICT (task_id, destination_id) DO NOTHING
RETURNING id
"""
# Deliveries due (or never queued) with no job waiting or running: queued again.
_WITHOUT_JOB = """
SELECT d.id FROM deliveries d
WHERE d.status IN ('PENDING', 'FAILING')
  AND coalesce(d.next_attempt_at, d.created_at) < now() - interval '30 seconds'
  AND NOT EXISTS (
    SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = %s
    AND j.status IN ('todo', 'doing') AND j.args->>'delivery_id' = d.id::text)
LIMIT 500
"""
_FOR_ATTEMPT = """
SELECT d.id, d.org_id, d.task_id, d.destination_id, d.kind, d.target, d.format, d.status,
       d.attempts, dest.secret_encrypted, t.id AS t_id, t.agent_id, t.type, t.status AS task_status,
       t.output
FROM deliveries d JOIN tasks t ON t.id = d.task_id
LEFT JOIN delivery_destinations dest ON dest.id = d.destination_id
WHERE d.id = %s
FOR UPDATE OF d
"""


def advisory_key(delivery_id: uuid.UUID) -> int:
    # A different half of the id than the task lock uses, and a tag, so the two never meet.
    return int.from_bytes(delivery_id.bytes[:8], "big", signed=True) ^ 0x5DE1


def retry_delay(settings: OrchestratorSettings, attempt: int) -> float:
    return min(settings.delivery_retry_base_seconds * 4 ** (attempt - 1), MAX_DELAY_SECONDS)


async def create_for_task(
    conn: AsyncConnection[DictRow], task_id: uuid.UUID
) -> AsyncCursor[DictRow]:
    """Insert the deliveries of a task that is SUCCESS (one per destination of its agent and
    type); the cursor's rows are the ids of the new ones (unread: a caller in pipeline mode
    sends it with the statements around it). Run in the transaction that marks the task
    SUCCESS; queue a job for each (``requeue_deliveries`` finds any left without one)."""
    return await conn.execute(_CREATE_FOR_TASK, (task_id,))


async def without_job(pool: Pool, job_name: str) -> list[uuid.UUID]:
    async with pool.connection() as conn:
        rows = await (await conn.execute(_WITHOUT_JOB, (job_name,))).fetchall()
    return [r["id"] for r in rows]


async def attempt(
    pool: Pool, settings: OrchestratorSettings, delivery_id: uuid.UUID
) -> float | None:
    """Make one attempt; returns the delay before the next one, or None when there is none
    to make (delivered, given up, or another worker is on it)."""
    async with pool.connection() as lock_conn:
        got = await (
            await lock_conn.execute(
                "SELECT pg_try_advisory_lock(%s) AS got", (advisory_key(delivery_id),)
            )
        ).fetchone()
        if not got or not got["got"]:
            return None  # another live worker holds it and will schedule what follows
        try:
            return await _attempt_locked(pool, settings, delivery_id)
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock(%s)", (advisory_key(delivery_id),))


async def _attempt_locked(
    pool: Pool, settings: OrchestratorSettings, delivery_id: uuid.UUID
) -> float | None:
    async with pool.connection() as conn, conn.transaction():
        row = await (await conn.execute(_FOR_ATTEMPT, (delivery_id,))).fetchone()
        if row is None or row["status"] in ("DELIVERED", "GIVEN_UP"):
            return None
        await conn.execute(
            "UPDATE delivery_attempts SET outcome = 'interrupted', finished_at = now(), "
            "error = 'the worker stopped during this attempt; whether it arrived is unknown' "
            "WHERE delivery_id = %s AND outcome IS NULL",
            (delivery_id,),
        )
        number = row["attempts"] + 1
        await conn.execute(
            "INSERT INTO delivery_attempts (org_id, delivery_id, attempt) VALUES (%s, %s, %s)",
            (row["org_id"], delivery_id, number),
        )
        await conn.execute(
            "UPDATE deliveries SET attempts = %s WHERE id = %s", (number, delivery_id)
        )
    outcome = await _send(settings, row, str(delivery_id))
    given_up = not outcome.delivered and (outcome.final or number >= settings.delivery_max_attempts)
    delay = None if outcome.delivered or given_up else retry_delay(settings, number)
    status = "DELIVERED" if outcome.delivered else "GIVEN_UP" if given_up else "FAILING"
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE delivery_attempts SET outcome = %s, finished_at = now(), status_code = %s, "
            "error = %s WHERE delivery_id = %s AND attempt = %s",
            (
                "delivered" if outcome.delivered else "failed",
                outcome.status_code,
                outcome.error,
                delivery_id,
                number,
            ),
        )
        await conn.execute(
            "UPDATE deliveries SET status = %s, last_error = %s, "
            "delivered_at = CASE WHEN %s THEN now() END, "
            "next_attempt_at = CASE WHEN %s::float8 IS NULL THEN NULL "
            "ELSE now() + make_interval(secs => %s::float8) END WHERE id = %s",
            (status, outcome.error, outcome.delivered, delay, delay, delivery_id),
        )
    logger.info("delivery %s attempt %s: %s %s", delivery_id, number, status, outcome.error or "")
    return delay


async def _send(settings: OrchestratorSettings, row: Any, delivery_id: str) -> Outcome:
    if row["destination_id"] is None:
        return Outcome(False, "the destination was removed", final=True)
    task = {
        "id": row["t_id"],
        "agent_id": row["agent_id"],
        "type": row["type"],
        "status": row["task_status"],
        "output": row["output"],
    }
    doc = result_document(task, settings.public_web_url)
    try:
        if row["kind"] == "email":
            return await send_email(settings, doc, row["target"], delivery_id)
        secret = None
        if row["secret_encrypted"]:
            try:
                secret = settings.secret_box.open(row["secret_encrypted"])
            except SecretUnreadable as exc:
                # Not sent unsigned: the receiver would be right to refuse it.
                return Outcome(False, f"{exc}; or rotate the webhook's secret", final=True)
        return await send_webhook(settings, doc, row["target"], row["format"], secret, delivery_id)
    except Exception as exc:  # noqa: BLE001 - recorded on the attempt, never fails the task
        logger.exception("delivery %s failed unexpectedly", delivery_id)
        return Outcome(False, f"internal error ({type(exc).__name__}): {exc}")
