"""A task as the actor of an audit event: what an agent task or a report changes on its own
(a memory, a task it starts) is recorded as done by the task, with the agent and the person
or schedule that started it in the label, so the line reads right on its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from phi_service.audit import Actor

_OF_TASK = (
    "SELECT t.type, t.trigger, t.parent_task_id, a.name AS agent_name, u.email "
    "FROM tasks t JOIN agents a ON a.id = t.agent_id LEFT JOIN users u ON u.id = t.created_by "
    "WHERE t.id = %s"
)


@dataclass(frozen=True)
class ActingTask:
    actor: Actor
    agent_name: str | None


def _label(task_id: uuid.UUID, row: Any) -> str:
    kind = str(row["type"]).replace("_", " ").lower()
    label = f"{kind} {str(task_id)[:8]} of agent {row['agent_name']}"
    if row["parent_task_id"] is not None:
        label += f", run by agent task {str(row['parent_task_id'])[:8]}"
    if row["trigger"] == "schedule":
        return label + ", started by its schedule"
    if row["email"]:
        return label + f", started by {row['email']}"
    return label


async def acting_task(conn: AsyncConnection[Any], task_id: uuid.UUID) -> ActingTask:
    """The task as an audit actor (``Actor.task``) and its agent's name."""
    return acting_of_row(task_id, await (await acting_task_cursor(conn, task_id)).fetchone())


async def acting_task_cursor(conn: AsyncConnection[Any], task_id: uuid.UUID) -> Any:
    """The read :func:`acting_task` makes, unread (a caller in pipeline mode sends it with
    other statements); :func:`acting_of_row` of its row."""
    return await conn.execute(_OF_TASK, (task_id,))


def acting_of_row(task_id: uuid.UUID, row: Any) -> ActingTask:
    if row is None:  # deleted with its agent meanwhile
        return ActingTask(Actor.task(task_id), None)
    return ActingTask(Actor.task(task_id, _label(task_id, row)), row["agent_name"])
