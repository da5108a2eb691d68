"""Agents (table ``agents``, model ``phi_platform.db.models.Agent``): the orchestrator only
reads them. The worker's reads, on its psycopg connections, through statements compiled by
:mod:`phi_orchestrator.worker_sql`; each row carries its organization's time zone."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection as PsycopgConnection
from psycopg import AsyncCursor
from psycopg.rows import DictRow
from sqlalchemy import Select, bindparam, select

from phi_orchestrator.worker_sql import worker_sql
from phi_platform.db.models import Agent, AgentTool, Organization, Task, Tool


def _for_run(agent_id: Any) -> Select[Any]:
    return (
        select(
            Agent.id,
            Agent.name,
            Agent.status,
            Agent.system_prompt,
            Agent.config,
            Organization.time_zone,
        )
        .join(Organization, Organization.id == Agent.org_id)
        .where(Agent.id == agent_id)
    )


def _tool_keys(agent_id: Any) -> Select[Any]:
    return (
        select(Tool.key)
        .join(AgentTool, AgentTool.tool_id == Tool.id)
        .where(AgentTool.agent_id == agent_id)
        .order_by(Tool.key)
    )


_FOR_RUN = worker_sql(_for_run(bindparam("agent_id")))
_TOOL_KEYS = worker_sql(_tool_keys(bindparam("agent_id")))
# The same two reads by the id of a task of the agent (sent with a run's start, before the
# task's agent is known).
_OF_TASK = select(Task.agent_id).where(Task.id == bindparam("task_id")).scalar_subquery()
_FOR_RUN_OF_TASK = worker_sql(_for_run(_OF_TASK))
_TOOL_KEYS_OF_TASK = worker_sql(_tool_keys(_OF_TASK))
_SCHEDULED = worker_sql(
    select(Agent.id, Agent.org_id, Agent.name, Agent.config, Organization.time_zone)
    .join(Organization, Organization.id == Agent.org_id)
    .where(Agent.status == "ACTIVE", Agent.config.has_key("workflows"))
)


async def for_run(conn: PsycopgConnection[DictRow], agent_id: uuid.UUID) -> DictRow | None:
    """What a running task sees of its agent (id, name, status, system_prompt, config,
    time_zone), or None if the agent was deleted."""
    return await (await _FOR_RUN.execute(conn, agent_id=agent_id)).fetchone()


async def for_run_cursor(
    conn: PsycopgConnection[DictRow], agent_id: uuid.UUID
) -> AsyncCursor[DictRow]:
    """:func:`for_run` unread (a caller in pipeline mode sends it with the next statement)."""
    return await _FOR_RUN.execute(conn, agent_id=agent_id)


async def scheduled(conn: PsycopgConnection[DictRow]) -> list[DictRow]:
    """The active agents whose config has workflows (id, org_id, name, config, time_zone): the ones
    the scheduler looks at."""
    return await (await _SCHEDULED.execute(conn)).fetchall()


async def tool_keys_cursor(
    conn: PsycopgConnection[DictRow], agent_id: uuid.UUID
) -> AsyncCursor[DictRow]:
    """:func:`tool_keys` unread: rows with the ``key`` of each tool."""
    return await _TOOL_KEYS.execute(conn, agent_id=agent_id)


async def tool_keys(conn: PsycopgConnection[DictRow], agent_id: uuid.UUID) -> list[str]:
    """The keys of the tools the agent has enabled (db, file...)."""
    return [r["key"] for r in await (await _TOOL_KEYS.execute(conn, agent_id=agent_id)).fetchall()]


async def for_run_of_task_cursors(
    conn: PsycopgConnection[DictRow], task_id: uuid.UUID
) -> tuple[AsyncCursor[DictRow], AsyncCursor[DictRow]]:
    """:func:`for_run_cursor` and :func:`tool_keys_cursor` of the task's agent, unread."""
    return (
        await _FOR_RUN_OF_TASK.execute(conn, task_id=task_id),
        await _TOOL_KEYS_OF_TASK.execute(conn, task_id=task_id),
    )
