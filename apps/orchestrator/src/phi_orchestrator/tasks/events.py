"""Task events (table ``task_events``, model ``phi_platform.db.models.TaskEvent``): the one
place they are added and read.

The API writes through SQLAlchemy sessions, the worker through the psycopg pool it shares
with LangGraph's checkpointer (a step's end goes in the checkpointer's own transaction), so
:func:`add_event` takes either; both run the same INSERT, built from the model.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from psycopg import AsyncConnection as PsycopgConnection
from psycopg import AsyncCursor
from psycopg.types.json import Jsonb
from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from phi_platform.db.models import TaskEvent

_INSERT = (
    insert(cast(Table, TaskEvent.__table__))
    .inline()
    .values(
        task_id=bindparam("task_id"),
        event_type=bindparam("event_type"),
        payload=bindparam("payload"),
    )
)
# The same statement for a psycopg connection (named %(...)s placeholders).
_INSERT_PSYCOPG = str(_INSERT.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]
# The worker's conditional appends, each one statement (one round trip, no transaction).
_INSERT_IF_OPEN = (
    "INSERT INTO task_events (task_id, event_type, payload) "
    "SELECT id, %(event_type)s, %(payload)s FROM tasks "
    "WHERE id = %(task_id)s AND status <> 'CANCELLED' RETURNING seq"
)
_INSERT_ONCE = (
    "INSERT INTO task_events (task_id, event_type, payload) "
    "SELECT %(task_id)s, %(event_type)s, %(payload)s WHERE NOT EXISTS ("
    "SELECT 1 FROM task_events WHERE task_id = %(task_id)s AND event_type = %(event_type)s "
    "AND payload->>'key' = %(key)s)"
)


async def add_event(
    conn: AsyncSession | AsyncConnection | PsycopgConnection[Any],
    task_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
) -> None:
    """Append an event to the task's log, in the caller's transaction (a trigger notifies
    the task's live streams when it commits)."""
    if isinstance(conn, PsycopgConnection):
        await conn.execute(
            _INSERT_PSYCOPG,
            {"task_id": task_id, "event_type": event_type, "payload": Jsonb(payload)},
        )
    else:
        await conn.execute(
            _INSERT, {"task_id": task_id, "event_type": event_type, "payload": payload}
        )


async def add_event_if_open(
    conn: PsycopgConnection[Any], task_id: uuid.UUID, event_type: str, payload: dict[str, Any]
) -> bool:
    """Append the event unless the task is cancelled (or gone); False when it was not added.
    The check and the append are one statement."""
    cur = await conn.execute(
        _INSERT_IF_OPEN, {"task_id": task_id, "event_type": event_type, "payload": Jsonb(payload)}
    )
    return await cur.fetchone() is not None


async def start_step_cursor(
    conn: PsycopgConnection[Any], task_id: uuid.UUID, step: str
) -> AsyncCursor[Any]:
    """:func:`add_event_if_open` of the step's ``step_started``, unread: a row when it was
    added (a caller in pipeline mode sends it with the statements around it)."""
    return await conn.execute(
        _INSERT_IF_OPEN,
        {"task_id": task_id, "event_type": "step_started", "payload": Jsonb({"step": step})},
    )


async def add_event_once(
    conn: PsycopgConnection[Any],
    task_id: uuid.UUID,
    event_type: str,
    key: str,
    payload: dict[str, Any],
) -> None:
    """Append the event (``key`` added to its payload) unless the task has one of that type
    and key. One statement: only the run holding the task's lock writes such events."""
    await conn.execute(
        _INSERT_ONCE,
        {
            "task_id": task_id,
            "event_type": event_type,
            "key": key,
            "payload": Jsonb({**payload, "key": key}),
        },
    )


def _event(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "event_type": row.event_type,
        "payload": row.payload,
        "timestamp": row.timestamp,
    }


async def events_after(
    session: AsyncSession, task_id: uuid.UUID, after_seq: int, limit: int = 500
) -> list[dict[str, Any]]:
    """The task's events after sequence number ``after_seq``, oldest first."""
    rows = (
        await session.execute(
            select(TaskEvent.seq, TaskEvent.event_type, TaskEvent.payload, TaskEvent.timestamp)
            .where(TaskEvent.task_id == task_id, TaskEvent.seq > after_seq)
            .order_by(TaskEvent.seq)
            .limit(limit)
        )
    ).all()
    return [_event(r) for r in rows]


async def status_and_events_after(
    session: AsyncSession, task_id: uuid.UUID, after_seq: int, limit: int = 500
) -> tuple[str | None, list[dict[str, Any]]]:
    """The task's status (None: no such task) and its events after ``after_seq``, read in one
    statement, so in one snapshot: once the status is final, every event written before it
    (the task's last one in the same transaction) is in the list."""
    rows = (
        await session.execute(
            text(
                "SELECT t.status, e.seq, e.event_type, e.payload, e.timestamp FROM tasks t "
                "LEFT JOIN LATERAL (SELECT seq, event_type, payload, timestamp "
                "FROM task_events WHERE task_id = t.id AND seq > :after "
                "ORDER BY seq LIMIT :limit) e ON true WHERE t.id = :id ORDER BY e.seq"
            ),
            {"id": task_id, "after": after_seq, "limit": limit},
        )
    ).all()
    if not rows:
        return None, []
    return rows[0].status, [_event(r) for r in rows if r.seq is not None]
