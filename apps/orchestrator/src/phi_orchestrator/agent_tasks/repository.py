"""What agent tasks keep beside their checkpoints: approvals (as task events: the request
showing the exact call, then one decision) and the child tasks a ``run_workflow`` call starts.

Statements on the worker's psycopg connections (SQL text, %-style parameters) and, for the
API, on SQLAlchemy sessions.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from psycopg import AsyncConnection as PsycopgConnection
from psycopg import AsyncCursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_orchestrator.tasks.events import add_event
from phi_service.audit import Actor, Target, record_event

APPROVAL_REQUESTED = "approval_requested"
APPROVAL_DECIDED = "approval_decided"

_APPROVAL_EVENTS = (
    "SELECT event_type, payload, timestamp FROM task_events WHERE task_id = %s "
    "AND event_type IN ('approval_requested', 'approval_decided') AND payload->>'key' = %s "
    "ORDER BY seq"
)


async def approval_state(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID, key: str
) -> tuple[DictRow | None, DictRow | None]:
    """The request and the decision (each None when absent) of the approval ``key``."""
    rows = await (await conn.execute(_APPROVAL_EVENTS, (task_id, key))).fetchall()
    requested = next((r for r in rows if r["event_type"] == APPROVAL_REQUESTED), None)
    decided = next((r for r in rows if r["event_type"] == APPROVAL_DECIDED), None)
    return requested, decided


async def request_approval(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID, payload: dict[str, Any]
) -> None:
    await add_event(conn, task_id, APPROVAL_REQUESTED, payload)


_CREATE_CHILD = (
    "INSERT INTO tasks (agent_id, org_id, type, input, trigger, parent_task_id, parent_step, "
    "created_by, deadline_at) SELECT agent_id, org_id, %s, %s, 'agent_task', id, %s, created_by, "
    "now() + make_interval(secs => %s) FROM tasks WHERE id = %s "
    "ON CONFLICT (parent_task_id, parent_step) WHERE parent_task_id IS NOT NULL "
    "DO NOTHING RETURNING id"
)
# ``past_deadline``: the parent's wait for it ran out (it was cancelled for that, or finished
# too late for it to matter).
_CHILD_OF_STEP = (
    "SELECT id, type, status, output, error, coalesce(deadline_at <= now(), false) "
    "AS past_deadline FROM tasks WHERE parent_task_id = %s AND parent_step = %s"
)


async def create_child(
    conn: PsycopgConnection[DictRow],
    parent_id: uuid.UUID,
    step: str,
    type_: str,
    input_: dict[str, Any],
    wait_seconds: float,
) -> tuple[bool, DictRow]:
    """The task started by the parent's ``step`` (created unless it exists; True when this
    created it), with its status, output and error. The parent waits for it ``wait_seconds``
    from its creation; unfinished then, it is cancelled (:func:`cancel_overdue_children`)."""
    created = await (
        await conn.execute(_CREATE_CHILD, (type_, Jsonb(input_), step, wait_seconds, parent_id))
    ).fetchone()
    row = await (await conn.execute(_CHILD_OF_STEP, (parent_id, step))).fetchone()
    assert row is not None
    return created is not None, row


async def child_of_step(
    conn: PsycopgConnection[DictRow], parent_id: uuid.UUID, step: str
) -> DictRow | None:
    return await (await conn.execute(_CHILD_OF_STEP, (parent_id, step))).fetchone()


_WAITING_PARENT = (
    "SELECT p.id FROM tasks c JOIN tasks p ON p.id = c.parent_task_id "
    "WHERE c.id = %s AND p.status = 'WAITING'"
)


async def waiting_parent_cursor(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID
) -> AsyncCursor[DictRow]:
    """The task that started this one and waits for it (a row with its ``id``, if any),
    unread: a caller in pipeline mode sends it with the statements around it."""
    return await conn.execute(_WAITING_PARENT, (task_id,))


_OVERDUE_CHILDREN = """
SELECT c.id, c.org_id, c.agent_id, c.type, c.parent_task_id, c.deadline_at, a.name AS agent_name
  FROM tasks c JOIN agents a ON a.id = c.agent_id
 WHERE c.deadline_at < now() AND c.status NOT IN ('SUCCESS', 'FAILED', 'CANCELLED')
   FOR UPDATE OF c SKIP LOCKED
"""
_CANCEL_CHILD = (
    "UPDATE tasks SET status = 'CANCELLED', error = %s, finished_at = now() WHERE id = %s"
)


async def cancel_overdue_children(conn: PsycopgConnection[DictRow]) -> list[uuid.UUID]:
    """Cancel every task started by an agent task that has not finished by the time its
    parent could wait for it (its ``deadline_at``): its open tool calls are withdrawn, a
    ``task_cancelled`` event and an audit event (by the platform) say why. Returns the
    parents, to be advanced (they end with their time limit)."""
    from phi_orchestrator.tool_calls import repository as tool_calls

    rows = await (await conn.execute(_OVERDUE_CHILDREN)).fetchall()
    for row in rows:
        until = row["deadline_at"].astimezone(UTC)
        reason = (
            f"stopped because the agent task {row['parent_task_id']} that started it could "
            f"wait for its result only until {until:%Y-%m-%d %H:%M:%S} UTC "
            "(that task's time limit)"
        )
        await conn.execute(_CANCEL_CHILD, (reason, row["id"]))
        released = await tool_calls.cancel_open(conn, row["id"])
        await add_event(
            conn,
            row["id"],
            "task_cancelled",
            {
                "reason": reason,
                "parent_task_id": str(row["parent_task_id"]),
                "released_tool_calls": [str(r) for r in released],
            },
        )
        await record_event(
            conn,
            row["org_id"],
            Actor.system(),
            "task.cancelled",
            Target("task", row["id"], row["type"]),
            workflow=row["type"],
            agent_id=row["agent_id"],
            agent_name=row["agent_name"],
            parent_task_id=row["parent_task_id"],
            reason="time limit of the agent task that started it",
        )
    return [r["parent_task_id"] for r in rows]


_EXPIRE_APPROVALS = """
SELECT t.id AS task_id, t.org_id, t.agent_id, a.name AS agent_name,
       r.payload->>'key' AS key, r.payload->>'tool' AS tool
  FROM tasks t
  JOIN agents a ON a.id = t.agent_id
  JOIN LATERAL (
        SELECT payload, timestamp FROM task_events e
         WHERE e.task_id = t.id AND e.event_type = 'approval_requested'
         ORDER BY seq DESC LIMIT 1) r ON true
 WHERE t.status = 'AWAITING_APPROVAL'
   AND r.timestamp < now() - make_interval(secs => %s)
   AND NOT EXISTS (SELECT 1 FROM task_events d WHERE d.task_id = t.id
                   AND d.event_type = 'approval_decided' AND d.payload->>'key' = r.payload->>'key')
   FOR UPDATE OF t SKIP LOCKED
"""


async def expire_approvals(
    conn: PsycopgConnection[DictRow], timeout_seconds: float
) -> list[uuid.UUID]:
    """Decide every approval waited on longer than ``timeout_seconds`` as ``expired``, with
    its audit event (by the platform) in the same transaction; returns the tasks (to be
    advanced, which fails them naming the limit)."""
    rows = await (await conn.execute(_EXPIRE_APPROVALS, (timeout_seconds,))).fetchall()
    for row in rows:
        reason = f"no decision within {timeout_seconds:g} seconds"
        await add_event(
            conn,
            row["task_id"],
            APPROVAL_DECIDED,
            {"key": row["key"], "tool": row["tool"], "decision": "expired", "reason": reason},
        )
        await record_event(
            conn,
            row["org_id"],
            Actor.system(),
            "approval.expired",
            Target("approval", row["task_id"], f"{row['tool']} call of an agent task"),
            tool=row["tool"],
            task_id=row["task_id"],
            agent_id=row["agent_id"],
            agent_name=row["agent_name"],
            reason=reason,
        )
    return [r["task_id"] for r in rows]


# The API's statements.


async def pending_approval(session: AsyncSession, task_id: uuid.UUID) -> dict[str, Any] | None:
    """The approval the task waits on: its request's payload, when no decision followed."""
    row = (
        await session.execute(
            text(
                "SELECT r.payload FROM task_events r WHERE r.task_id = :id "
                "AND r.event_type = 'approval_requested' AND NOT EXISTS ("
                "SELECT 1 FROM task_events d WHERE d.task_id = r.task_id "
                "AND d.event_type = 'approval_decided' AND d.payload->>'key' = r.payload->>'key') "
                "ORDER BY r.seq DESC LIMIT 1"
            ),
            {"id": task_id},
        )
    ).first()
    return dict(row.payload) if row else None


async def decide(session: AsyncSession, task_id: uuid.UUID, payload: dict[str, Any]) -> None:
    await add_event(session, task_id, APPROVAL_DECIDED, payload)


async def open_children(session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
    """Unfinished tasks this task started (cancelled with it)."""
    rows = await session.execute(
        text(
            "SELECT id FROM tasks WHERE parent_task_id = :id "
            "AND status NOT IN ('SUCCESS', 'FAILED', 'CANCELLED')"
        ),
        {"id": task_id},
    )
    return [r.id for r in rows]
