"""Tasks: creation with a validated input, reads, cancellation, event pages."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from phi_orchestrator import organizations
from phi_orchestrator.results.spec import charts_of
from phi_orchestrator.runtime import org_today
from phi_orchestrator.tasks import repository as tasks
from phi_orchestrator.tasks.events import add_event, events_after
from phi_orchestrator.tool_calls import repository as tool_calls
from phi_orchestrator.workflows.registry import get_workflow, workflows
from phi_service.audit import Actor, Target, record_event
from phi_service.errors import Conflict, InvalidInput, NotFound


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"input.{where}: {err['msg']}")
    return "; ".join(parts)


async def create_task(
    session: AsyncSession,
    agent: Any,
    user_id: uuid.UUID,
    type_: str,
    raw_input: dict[str, Any],
) -> uuid.UUID:
    workflow = get_workflow(type_)
    if workflow is None:
        known = ", ".join(sorted(workflows()))
        raise InvalidInput(f"unknown workflow type '{type_}'; known types: {known}")
    if agent.status != "ACTIVE":
        raise Conflict(f"the agent is {agent.status}: enable it before running tasks")
    try:
        data = workflow.input_model.model_validate(raw_input)
    except ValidationError as exc:
        raise InvalidInput(f"invalid input for {type_}: {_validation_message(exc)}") from exc
    zone = await organizations.time_zone(session, agent.org_id)
    params = workflow.prepare(data, org_today(zone))
    task_id = await tasks.create(
        session,
        agent_id=agent.id,
        org_id=agent.org_id,
        type_=type_,
        input_=params,
        created_by=user_id,
    )
    await add_event(session, task_id, "task_created", {"trigger": "manual", "type": type_})
    await record_event(
        session,
        agent.org_id,
        Actor.user(user_id),
        "task.started",
        Target("task", task_id, type_),
        workflow=type_,
        trigger="manual",
        agent_id=agent.id,
        agent_name=agent.name,
    )
    await session.commit()
    return task_id


async def task_for_member(
    session: AsyncSession, task_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Any:
    """The task if the caller is a member of its org; 404 otherwise (outsiders learn nothing)."""
    row = await tasks.for_member(session, task_id, user_id, lock=lock)
    if row is None:
        raise NotFound("task not found")
    return row


async def task_detail(session: AsyncSession, row: Any) -> dict[str, Any]:
    return {
        **row._mapping,
        "events": await events_after(session, row.id, 0, limit=10_000),
        "tool_calls": await tool_calls.of_task(session, row.id),
        "charts": charts_of(row.output),
    }


async def list_tasks(
    session: AsyncSession,
    agent_id: uuid.UUID,
    *,
    status: str | None,
    type_: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    return await tasks.page(
        session,
        agent_id=agent_id,
        status=status or None,
        type_=type_ or None,
        limit=limit,
        offset=offset,
    )


async def cancel_task(session: AsyncSession, task_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Cancel an unfinished task; its open tool calls are withdrawn from the local agents."""
    row = await task_for_member(session, task_id, user_id, lock=True)
    if row.status in ("SUCCESS", "FAILED", "CANCELLED"):
        raise Conflict(f"the task already finished ({row.status})")
    await tasks.cancel(session, task_id)
    released = await tool_calls.cancel_open(session, task_id)
    await add_event(
        session,
        task_id,
        "task_cancelled",
        {"by": str(user_id), "released_tool_calls": [str(r) for r in released]},
    )
    await record_event(
        session,
        row.org_id,
        Actor.user(user_id),
        "task.cancelled",
        Target("task", task_id, row.type),
        workflow=row.type,
        agent_id=row.agent_id,
    )
    await session.commit()
