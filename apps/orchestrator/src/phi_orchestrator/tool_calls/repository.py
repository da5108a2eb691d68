"""Tool calls (table ``tool_calls``, model ``phi_platform.db.models.ToolCall``): every
statement on them, run in the caller's transaction (the caller commits).

The API runs them on SQLAlchemy sessions; the worker on its psycopg connections (the pool it
shares with LangGraph's checkpointer), through statements compiled by
:mod:`phi_orchestrator.worker_sql`. The claim and the expiry stay in SQL text: each is one
statement whose locking (``FOR UPDATE … SKIP LOCKED`` in a CTE) and messages are its point.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import zstandard
from psycopg import AsyncConnection as PsycopgConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from sqlalchemy import Row, and_, bindparam, func, null, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from phi_orchestrator.worker_sql import worker_sql
from phi_platform.db.models import LocalAgent, Task, ToolCall

# Claimable: never claimed or put back, or claimed with a lease that ran out; attempts left;
# the task still running. SKIP LOCKED: two pollers never get the same call, and neither waits.
CLAIM_SQL = """
WITH picked AS (
    SELECT c.id, c.status AS previous_status
      FROM tool_calls c
      JOIN tasks t ON t.id = c.task_id
     WHERE c.agent_id = :agent_id
       AND c.tool = ANY(:tools)
       AND (c.status = 'PENDING' OR (c.status = 'CLAIMED' AND c.lease_until < now()))
       AND c.attempt < c.max_attempts
       AND t.status IN ('RUNNING', 'WAITING')
     ORDER BY c.created_at
     LIMIT :max
       FOR UPDATE OF c SKIP LOCKED
)
UPDATE tool_calls c
   SET status = 'CLAIMED', attempt = c.attempt + 1, local_agent_id = :local_agent_id,
       lease_until = now() + make_interval(secs => :lease), claimed_at = now()
  FROM picked
 WHERE c.id = picked.id
RETURNING c.id, c.task_id, c.step, c.tool, c.attempt, c.lease_until, c.payload,
          picked.previous_status
"""

# A lease that ran out on the last attempt, or a call nobody claimed for ``unclaimed``
# seconds (since it was created or its last lease ran out). Run on psycopg (%% is a %).
EXPIRE_SQL = """
UPDATE tool_calls c SET status = 'FAILED', lease_until = NULL,
       completed_at = now(),
       error = CASE
         WHEN c.deadline_at < now() THEN
           format('time limit: the %%s call was not answered within its limit of %%s seconds',
                  c.tool, round(extract(epoch FROM c.deadline_at - c.created_at))::int)
         WHEN c.status = 'CLAIMED' AND c.attempt >= c.max_attempts THEN
           format('the local agent took the %%s call %%s times and its lease ran '
                  'out each time', c.tool, c.attempt)
         ELSE format('no local agent picked this up: nobody claimed the %%s call '
                     'within %%s seconds (is phi-agent running with the %%s tool '
                     'enabled?)', c.tool, %(unclaimed)s::int, c.tool)
       END
 WHERE (c.status IN ('PENDING', 'CLAIMED') AND c.deadline_at < now())
    OR (c.status = 'CLAIMED' AND c.lease_until < now()
        AND c.attempt >= c.max_attempts)
    OR (c.status = 'PENDING'
        AND c.created_at < now() - make_interval(secs => %(unclaimed)s))
    OR (c.status = 'CLAIMED' AND c.attempt < c.max_attempts
        AND c.lease_until < now() - make_interval(secs => %(unclaimed)s))
RETURNING c.id, c.task_id, c.error
"""

# A result is stored as its canonical JSON text compressed with zstd (migration 0024): level 1
# packs a report's 2 MB of rows into about 300 kB in 4.5 ms, where PostgreSQL's pglz took
# about 30 ms of the callback's transaction for 424 kB; unpacking takes under 2 ms.
RESULT_ZSTD_LEVEL = 1


def pack_result(result_json: str) -> bytes:
    """The stored form of a result given as its JSON text."""
    return zstandard.compress(result_json.encode(), RESULT_ZSTD_LEVEL)


def unpack_result(stored: bytes | None) -> Any:
    """The result (parsed JSON) from its stored form; None when there is none."""
    if stored is None:
        return None
    return json.loads(zstandard.decompress(stored))


def _unpacked(row: DictRow | None) -> DictRow | None:
    if row is not None:
        row["result"] = unpack_result(row["result"])
    return row


_RESULT_OF_STEP = worker_sql(
    select(ToolCall.result).where(
        ToolCall.task_id == bindparam("task_id"),
        ToolCall.step == bindparam("step"),
        ToolCall.status == "DONE",
    )
)
_STATE = worker_sql(
    select(ToolCall.id, ToolCall.status, ToolCall.result, ToolCall.error).where(
        ToolCall.id == bindparam("call_id")
    )
)
# Withdraw a task's open calls from the local agents.
_CANCEL_OPEN = (
    update(ToolCall)
    .where(
        # Not "task_id": SQLAlchemy keeps column names for the values of an UPDATE.
        ToolCall.task_id == bindparam("of_task"),
        or_(ToolCall.status == "PENDING", ToolCall.status == "CLAIMED"),
    )
    .values(status="CANCELLED", lease_until=null())
    .returning(ToolCall.id)
)
_CANCEL_OPEN_WORKER = worker_sql(_CANCEL_OPEN)


# The worker's statements (psycopg connection of the runner's pool).


# The step's call, created with its tool_call_created event unless it exists: one statement.
# (The new row is not visible to the statement's last SELECT, hence the two branches.)
_OF_STEP_ONCE = """
WITH created AS (
    INSERT INTO tool_calls (task_id, org_id, agent_id, step, tool, payload, max_attempts,
                            deadline_at)
    VALUES (%(task_id)s, %(org_id)s, %(agent_id)s, %(step)s, %(tool)s, %(payload)s,
            %(max_attempts)s, now() + make_interval(secs => %(deadline)s::float8))
    ON CONFLICT (task_id, step) DO NOTHING
    RETURNING id, status, result, error
), logged AS (
    INSERT INTO task_events (task_id, event_type, payload)
    SELECT %(task_id)s, 'tool_call_created', jsonb_build_object(
               'step', %(step)s::text, 'tool', %(tool)s::text, 'tool_call_id', id::text)
      FROM created
)
SELECT id, status, result, error FROM created
UNION ALL
SELECT id, status, result, error FROM tool_calls
 WHERE task_id = %(task_id)s AND step = %(step)s AND NOT EXISTS (SELECT 1 FROM created)
"""


async def of_step_once(
    conn: PsycopgConnection[DictRow],
    *,
    task_id: uuid.UUID,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    step: str,
    tool: str,
    payload: dict[str, Any],
    max_attempts: int,
    deadline_seconds: float | None = None,
) -> DictRow:
    """The step's call (id, status, result, error), created with its ``tool_call_created``
    event unless it exists, in one statement. With ``deadline_seconds`` the call fails when
    it is still unanswered that long after its creation."""
    row = _unpacked(
        await (
            await conn.execute(
                _OF_STEP_ONCE,
                {
                    "task_id": task_id,
                    "org_id": org_id,
                    "agent_id": agent_id,
                    "step": step,
                    "tool": tool,
                    "payload": Jsonb(payload),
                    "max_attempts": max_attempts,
                    "deadline": deadline_seconds,
                },
                binary=True,
            )
        ).fetchone()
    )
    assert row is not None
    return row


async def state(conn: PsycopgConnection[DictRow], call_id: uuid.UUID) -> DictRow | None:
    """The call's id, status, result and error, as :func:`of_step_once` gives them (None:
    deleted, with its task)."""
    return _unpacked(await (await _STATE.execute(conn, binary=True, call_id=call_id)).fetchone())


async def result_of_step(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID, step: str
) -> DictRow | None:
    """The result of the step's call if it is DONE (``result``, parsed), else None."""
    return _unpacked(
        await (
            await _RESULT_OF_STEP.execute(conn, binary=True, task_id=task_id, step=step)
        ).fetchone()
    )


async def expire(conn: PsycopgConnection[DictRow], unclaimed_seconds: float) -> list[DictRow]:
    """Fail the calls that can no longer be answered (see EXPIRE_SQL); returns id, task_id
    and error of each."""
    return await (await conn.execute(EXPIRE_SQL, {"unclaimed": unclaimed_seconds})).fetchall()


async def cancel_open(
    conn: AsyncSession | AsyncConnection | PsycopgConnection[Any], task_id: uuid.UUID
) -> list[uuid.UUID]:
    """Cancel the task's PENDING and CLAIMED calls; returns their ids."""
    if isinstance(conn, PsycopgConnection):
        rows = await (await _CANCEL_OPEN_WORKER.execute(conn, of_task=task_id)).fetchall()
        return [r["id"] if isinstance(r, dict) else r[0] for r in rows]
    return list((await conn.execute(_CANCEL_OPEN, {"of_task": task_id})).scalars())


# The API's statements (SQLAlchemy session).


async def claim(
    session: AsyncSession,
    agent_id: uuid.UUID,
    local_agent_id: uuid.UUID,
    tools: list[str],
    max_calls: int,
    lease_seconds: int,
) -> Sequence[Row[Any]]:
    """Claim up to ``max_calls`` open calls of the agent for this local agent, in one
    statement (see CLAIM_SQL)."""
    return (
        await session.execute(
            text(CLAIM_SQL),
            {
                "agent_id": agent_id,
                "tools": tools,
                "max": max_calls,
                "local_agent_id": local_agent_id,
                "lease": lease_seconds,
            },
        )
    ).all()


async def get_for_update(session: AsyncSession, tool_call_id: uuid.UUID) -> Any:
    """The call, locked, with the status of its task (``task_status``)."""
    return (
        await session.execute(
            select(
                ToolCall.id,
                ToolCall.task_id,
                ToolCall.agent_id,
                ToolCall.tool,
                ToolCall.status,
                ToolCall.attempt,
                ToolCall.result_sha256,
                Task.status.label("task_status"),
            )
            .join(Task, Task.id == ToolCall.task_id)
            .where(ToolCall.id == tool_call_id)
            .with_for_update(of=ToolCall)
        )
    ).first()


async def extend_lease(
    session: AsyncSession, tool_call_id: uuid.UUID, lease_seconds: int
) -> datetime | None:
    """Give the call a lease of ``lease_seconds`` from now; returns its end (the column may
    be NULL, so typed as such; this statement always sets it)."""
    return (
        await session.execute(
            update(ToolCall)
            .where(ToolCall.id == tool_call_id)
            .values(lease_until=func.now() + timedelta(seconds=lease_seconds))
            .returning(ToolCall.lease_until)
        )
    ).scalar_one()


async def record_outcome(
    session: AsyncSession,
    tool_call_id: uuid.UUID,
    *,
    status: str,
    result: bytes | None,
    error: str | None,
    digest: str,
) -> None:
    """Store the call's answer (``status`` DONE or FAILED; the result packed by
    :func:`pack_result`); its lease ends."""
    await session.execute(
        update(ToolCall)
        .where(ToolCall.id == tool_call_id)
        .values(
            status=status,
            result=result,
            error=error,
            result_sha256=digest,
            completed_at=func.now(),
            lease_until=null(),
        )
    )


async def of_task(session: AsyncSession, task_id: uuid.UUID) -> list[dict[str, Any]]:
    """The task's calls, oldest first, as the task's detail shows them."""
    rows = (
        await session.execute(
            select(
                ToolCall.id,
                ToolCall.step,
                ToolCall.tool,
                ToolCall.status,
                ToolCall.attempt,
                ToolCall.max_attempts,
                ToolCall.lease_until,
                ToolCall.claimed_at,
                LocalAgent.name.label("claimed_by"),
                LocalAgent.host.label("claimed_by_host"),
                ToolCall.error,
                ToolCall.created_at,
                ToolCall.completed_at,
            )
            # The local agent that took the call last: the same agent's, by construction.
            .outerjoin(
                LocalAgent,
                and_(
                    LocalAgent.id == ToolCall.local_agent_id,
                    LocalAgent.agent_id == ToolCall.agent_id,
                ),
            )
            .where(ToolCall.task_id == task_id)
            .order_by(ToolCall.created_at)
        )
    ).all()
    return [dict(r._mapping) for r in rows]
