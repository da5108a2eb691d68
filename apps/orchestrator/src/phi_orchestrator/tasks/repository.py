"""Tasks (table ``tasks``, model ``phi_platform.db.models.Task``): every statement on them,
run in the caller's transaction (the caller commits).

The API runs them on SQLAlchemy sessions; the worker and its periodic jobs on psycopg
connections (the pool the runner shares with LangGraph's checkpointer), through statements
compiled by :mod:`phi_orchestrator.worker_sql`. Some stay in SQL text: a run's start, its
wait and its success, each one statement that changes the task and logs the change (one round
trip per run boundary), and the search for tasks that lost their job, which reads
procrastinate's queue in the same snapshot.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection as PsycopgConnection
from psycopg import AsyncCursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from sqlalchemy import ColumnElement, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from phi_orchestrator.worker_sql import worker_sql
from phi_platform.db.models import (
    TASK_FINISHED_STATUSES,
    Agent,
    Organization,
    OrganizationMember,
    Task,
)

# What a task list shows of each task; its detail adds input, output and schedule slot.
SUMMARY = (
    Task.id,
    Task.agent_id,
    Task.org_id,
    Task.type,
    Task.status,
    Task.trigger,
    Task.error,
    Task.created_at,
    Task.started_at,
    Task.finished_at,
    Task.updated_at,
)
DETAIL = (*SUMMARY, Task.input, Task.output, Task.schedule_slot, Task.parent_task_id)


def _status_in(*statuses: str) -> ColumnElement[bool]:
    # ORs rather than IN: a worker statement cannot carry an IN list (see worker_sql).
    return or_(*(Task.status == s for s in statuses))


_ID = Task.id == bindparam("task_id")

# The worker's statements (psycopg connection of the runner's pool).

# A run starts: the task as it was (locked), made RUNNING with task_started (it was PENDING)
# or task_resumed (WAITING, AWAITING_APPROVAL) logged; a RUNNING task is being run again
# (task_retried, with the reason, when there is one); a finished one is left as it is. A
# PENDING task's first step starts at once: its step_started (first_steps: the first step of
# each workflow type) is written here too, after task_started (rows go in the order listed).
# A task AWAITING_APPROVAL is left as it is until the approval it waits on is decided
# (``can_start`` false): a job that finds nothing to resume (one a local agent's callback
# queued while the run took the answer in place) must not make it RUNNING, even for a
# moment, or the person deciding meanwhile is told it awaits nothing.
_START_RUN = """
WITH before AS (
    SELECT id, org_id, agent_id, type, status, input,
           status <> 'AWAITING_APPROVAL' OR EXISTS (
               SELECT 1 FROM task_events d
                WHERE d.task_id = tasks.id AND d.event_type = 'approval_decided'
                  AND NOT EXISTS (
                      SELECT 1 FROM task_events r
                       WHERE r.task_id = tasks.id AND r.event_type = 'approval_requested'
                         AND r.seq > d.seq)) AS can_start
      FROM tasks WHERE id = %(task_id)s
       FOR UPDATE
), started AS (
    UPDATE tasks t SET status = 'RUNNING', started_at = coalesce(t.started_at, now())
      FROM before b
     WHERE t.id = b.id AND b.status IN ('PENDING', 'WAITING', 'AWAITING_APPROVAL')
       AND b.can_start
), logged AS (
    INSERT INTO task_events (task_id, event_type, payload)
    SELECT b.id, CASE b.status WHEN 'PENDING' THEN 'task_started' ELSE 'task_resumed' END,
           '{}'::jsonb
      FROM before b WHERE b.status IN ('PENDING', 'WAITING', 'AWAITING_APPROVAL')
       AND b.can_start
    UNION ALL
    SELECT b.id, 'task_retried', jsonb_build_object('reason', %(reason)s::text)
      FROM before b WHERE b.status = 'RUNNING' AND %(reason)s::text IS NOT NULL
    UNION ALL
    SELECT b.id, 'step_started', jsonb_build_object('step', %(first_steps)s::jsonb ->> b.type)
      FROM before b WHERE b.status = 'PENDING' AND %(first_steps)s::jsonb ? b.type
)
SELECT id, org_id, agent_id, type, status, input, can_start FROM before
"""
# RUNNING -> WAITING or AWAITING_APPROVAL, with its event; a row when it changed.
_MARK_WAITING_LOGGED = """
WITH waiting AS (
    UPDATE tasks SET status = %(status)s WHERE id = %(task_id)s AND status = 'RUNNING'
    RETURNING id
), logged AS (
    INSERT INTO task_events (task_id, event_type, payload)
    SELECT id, %(event_type)s, %(payload)s FROM waiting
)
SELECT id FROM waiting
"""
# RUNNING with a stored result -> SUCCESS, with task_succeeded; a row when it changed.
_MARK_SUCCEEDED_LOGGED = """
WITH succeeded AS (
    UPDATE tasks SET status = 'SUCCESS', error = NULL, finished_at = now()
     WHERE id = %(task_id)s AND status = 'RUNNING' AND output IS NOT NULL
    RETURNING id
), logged AS (
    INSERT INTO task_events (task_id, event_type, payload)
    SELECT id, 'task_succeeded', '{}'::jsonb FROM succeeded
)
SELECT id FROM succeeded
"""
_SAVE_OUTPUT = worker_sql(
    update(Task)
    .where(_ID, _status_in("RUNNING", "WAITING"))
    .values(output=bindparam("output"))
    .returning(Task.id)
)
_MARK_FAILED = worker_sql(
    update(Task)
    .where(_ID, and_(*(Task.status != s for s in TASK_FINISHED_STATUSES)))
    .values(status="FAILED", error=bindparam("error"), finished_at=func.now())
    .returning(Task.id)
)
_STATUS = worker_sql(select(Task.status).where(_ID))


def _slot_insert(**values: Any) -> ClauseElement:
    """A schedule slot's task, created once: the slot (agent, type, slot, key) takes one task,
    so a second insert for it does nothing and returns no row. ``values`` adds to the row."""
    return (
        pg_insert(Task)
        .values(
            agent_id=bindparam("agent_id"),
            org_id=bindparam("org_id"),
            type=bindparam("type"),
            input=bindparam("input"),
            trigger="schedule",
            schedule_slot=bindparam("slot"),
            schedule_key=bindparam("key"),
            **values,
        )
        .on_conflict_do_nothing(
            index_elements=["agent_id", "type", "schedule_slot", "schedule_key"],
            index_where=Task.schedule_slot.is_not(None),
        )
        .returning(Task.id)
    )


_CREATE_SCHEDULED = worker_sql(_slot_insert())
# A slot of a schedule that is not run (the org's budget is spent): the slot's task, FAILED
# at once with the reason, so the slot is taken (once) and the skip is seen in the task list.
_CREATE_SKIPPED = worker_sql(
    _slot_insert(status="FAILED", error=bindparam("error"), finished_at=func.now())
)
# PENDING for over a minute, RUNNING, WAITING on a call answered or failed (or a task it
# started that finished) over half a minute ago, or AWAITING_APPROVAL with the decision made
# over half a minute ago, with no queued or running job: one statement, so one snapshot.
_WITHOUT_JOB = (
    "SELECT t.id FROM tasks t WHERE ((t.status = 'PENDING' "
    "AND t.created_at < now() - interval '1 minute') OR t.status = 'RUNNING' "
    "OR (t.status = 'WAITING' "
    "AND (EXISTS (SELECT 1 FROM tool_calls c WHERE c.task_id = t.id "
    "AND c.status IN ('DONE', 'FAILED') "
    "AND c.completed_at < now() - interval '30 seconds') "
    "OR EXISTS (SELECT 1 FROM tasks k WHERE k.parent_task_id = t.id "
    "AND k.status IN ('SUCCESS', 'FAILED', 'CANCELLED') "
    "AND k.finished_at < now() - interval '30 seconds'))) "
    "OR (t.status = 'AWAITING_APPROVAL' AND EXISTS (SELECT 1 FROM task_events d "
    "WHERE d.task_id = t.id AND d.event_type = 'approval_decided' "
    "AND d.timestamp < now() - interval '30 seconds' AND NOT EXISTS ("
    "SELECT 1 FROM task_events r WHERE r.task_id = t.id AND r.event_type = 'approval_requested' "
    "AND r.seq > d.seq)))) AND NOT EXISTS ("
    "  SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = %s "
    "  AND j.status IN ('todo', 'doing') AND j.args->>'task_id' = t.id::text)"
)


async def start_run(
    conn: PsycopgConnection[DictRow],
    task_id: uuid.UUID,
    retry_reason: str | None,
    first_steps: dict[str, str] | None = None,
) -> AsyncCursor[DictRow]:
    """Start a run of the task (see ``_START_RUN``); the cursor's row is the task as it was
    before (id, org, agent, type, status, input), none when there is no such task. Returns
    the cursor unread, so that a caller in pipeline mode sends it with what precedes it.
    ``first_steps``: workflow type -> the label of its first step, whose ``step_started``
    is written with the start of a PENDING task of that type."""
    return await conn.execute(
        _START_RUN,
        {"task_id": task_id, "reason": retry_reason, "first_steps": Jsonb(first_steps or {})},
    )


async def mark_waiting_logged(
    conn: PsycopgConnection[DictRow],
    task_id: uuid.UUID,
    status: str,
    event_type: str,
    payload: dict[str, Any],
) -> AsyncCursor[DictRow]:
    """RUNNING -> ``status`` with the event, in one statement; the cursor has a row when the
    task was RUNNING (unread, see :func:`start_run`)."""
    return await conn.execute(
        _MARK_WAITING_LOGGED,
        {"task_id": task_id, "status": status, "event_type": event_type, "payload": Jsonb(payload)},
    )


async def mark_succeeded_logged(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID
) -> AsyncCursor[DictRow]:
    """RUNNING with a stored result -> SUCCESS with ``task_succeeded``, in one statement; the
    cursor has a row when it changed (unread, see :func:`start_run`)."""
    return await conn.execute(_MARK_SUCCEEDED_LOGGED, {"task_id": task_id})


async def save_output(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID, output: dict[str, Any]
) -> bool:
    """Store the result of a RUNNING or WAITING task; False when it is in neither."""
    cur = await _SAVE_OUTPUT.execute(conn, task_id=task_id, output=Jsonb(output))
    return await cur.fetchone() is not None


async def mark_failed(conn: PsycopgConnection[DictRow], task_id: uuid.UUID, error: str) -> bool:
    """Any unfinished status -> FAILED with ``error``; False when the task had finished."""
    cur = await _MARK_FAILED.execute(conn, task_id=task_id, error=error)
    return await cur.fetchone() is not None


async def status(conn: PsycopgConnection[DictRow], task_id: uuid.UUID) -> str | None:
    row = await (await _STATUS.execute(conn, task_id=task_id)).fetchone()
    return row["status"] if row else None


async def create_scheduled(
    conn: PsycopgConnection[DictRow],
    *,
    agent_id: uuid.UUID,
    org_id: uuid.UUID,
    type_: str,
    input_: dict[str, Any],
    slot: datetime,
    key: str = "",
) -> uuid.UUID | None:
    """The run of a schedule's slot (and ``key``), created once: None when it already has
    one."""
    row = await (
        await _CREATE_SCHEDULED.execute(
            conn,
            agent_id=agent_id,
            org_id=org_id,
            type=type_,
            input=Jsonb(input_),
            slot=slot,
            key=key,
        )
    ).fetchone()
    return row["id"] if row else None


async def create_skipped(
    conn: PsycopgConnection[DictRow],
    *,
    agent_id: uuid.UUID,
    org_id: uuid.UUID,
    type_: str,
    input_: dict[str, Any],
    slot: datetime,
    key: str,
    error: str,
) -> uuid.UUID | None:
    """The slot's task, FAILED with ``error`` without running (once: None when the slot
    already has a task)."""
    row = await (
        await _CREATE_SKIPPED.execute(
            conn,
            agent_id=agent_id,
            org_id=org_id,
            type=type_,
            input=Jsonb(input_),
            slot=slot,
            key=key,
            error=error,
        )
    ).fetchone()
    return row["id"] if row else None


async def without_job(conn: PsycopgConnection[DictRow], task_name: str) -> list[uuid.UUID]:
    """Tasks that need a run of job ``task_name`` and have none queued or running."""
    rows = await (await conn.execute(_WITHOUT_JOB, (task_name,))).fetchall()
    return [r["id"] for r in rows]


# The API's statements (SQLAlchemy session).


_CREATE = worker_sql(
    insert(Task).values(
        id=bindparam("id"),
        agent_id=bindparam("agent_id"),
        org_id=bindparam("org_id"),
        type=bindparam("type"),
        input=bindparam("input"),
        created_by=bindparam("created_by"),
    )
)


async def create(
    conn: PsycopgConnection[Any],
    *,
    task_id: uuid.UUID,
    agent_id: uuid.UUID,
    org_id: uuid.UUID,
    type_: str,
    input_: dict[str, Any],
    created_by: uuid.UUID,
) -> None:
    """A manual run, PENDING, with the id the caller chose (nothing to read back: it can go
    in a pipeline with the writes that name it)."""
    await _CREATE.execute(
        conn,
        id=task_id,
        agent_id=agent_id,
        org_id=org_id,
        type=type_,
        input=Jsonb(input_),
        created_by=created_by,
    )


async def for_member(
    session: AsyncSession, task_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Any:
    """The task (DETAIL) if the user is a member of its org, else None; ``lock`` locks it."""
    query = (
        select(*DETAIL)
        .join(
            OrganizationMember,
            and_(OrganizationMember.org_id == Task.org_id, OrganizationMember.user_id == user_id),
        )
        .where(Task.id == task_id)
    )
    if lock:
        query = query.with_for_update(of=Task)
    return (await session.execute(query)).first()


async def get(session: AsyncSession, task_id: uuid.UUID) -> Any:
    """The task (DETAIL) whoever owns it, or None."""
    return (await session.execute(select(*DETAIL).where(Task.id == task_id))).first()


def _filters(
    agent_id: uuid.UUID | None,
    org_id: uuid.UUID | None,
    status: str | None,
    type_: str | None,
) -> list[ColumnElement[bool]]:
    where = []
    for column, value in (
        (Task.agent_id, agent_id),
        (Task.org_id, org_id),
        (Task.status, status),
        (Task.type, type_),
    ):
        if value is not None:
            where.append(column == value)
    return where


async def page(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
    status: str | None = None,
    type_: str | None = None,
    limit: int,
    offset: int,
    with_names: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Tasks (SUMMARY) matching the filters given, newest first, and how many match;
    ``with_names`` adds ``org_name`` and ``agent_name``."""
    where = _filters(agent_id, org_id, status, type_)
    total = (
        await session.execute(select(func.count()).select_from(Task).where(*where))
    ).scalar_one()
    query = select(*SUMMARY)
    if with_names:
        query = (
            query.add_columns(Organization.name.label("org_name"), Agent.name.label("agent_name"))
            .join(Organization, Organization.id == Task.org_id)
            .join(Agent, Agent.id == Task.agent_id)
        )
    rows = (
        await session.execute(
            query.where(*where)
            .order_by(Task.created_at.desc(), Task.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [dict(r._mapping) for r in rows], int(total)


async def cancel(session: AsyncSession, task_id: uuid.UUID) -> None:
    await session.execute(
        update(Task).where(Task.id == task_id).values(status="CANCELLED", finished_at=func.now())
    )
