"""Tasks: creation with a validated input, reads, cancellation, event pages."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_llm.accounting import spent_budget
from phi_orchestrator.agent_tasks import repository as agent_tasks
from phi_orchestrator.agent_tasks.model_check import tool_calling_problem
from phi_orchestrator.jobs import first_advance
from phi_orchestrator.local_agents import repository as local_agents
from phi_orchestrator.results.spec import charts_of
from phi_orchestrator.runtime import org_today
from phi_orchestrator.tasks import repository as tasks
from phi_orchestrator.tasks.events import add_event, events_after
from phi_orchestrator.tool_calls import repository as tool_calls
from phi_orchestrator.workflows.registry import get_workflow, workflows
from phi_platform.db.models import Agent, Organization, OrganizationMember, User
from phi_service.audit import Actor, Target, record_event
from phi_service.db import session_driver_connection
from phi_service.deps import org_access
from phi_service.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from phi_service.jobs import DEFER_IN_TRANSACTION_SQL


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
    settings: Any = None,
    *,
    time_zone: str | None,
    user_email: str | None,
) -> uuid.UUID:
    """Store a manual run of ``agent`` (PENDING) with its event, its audit line and its first
    job, and commit. ``time_zone`` (the org's) and ``user_email`` come with the caller's
    access check (``RUN_TASK_READS``)."""
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
    if workflow.needs_tool_calling and settings is not None:
        problem = await tool_calling_problem(settings)
        if problem:
            raise Conflict(f"{type_} needs a model that calls tools, and {problem}")
        await _refuse_over_budget(session, agent.org_id, type_)
    params = workflow.prepare(data, org_today(time_zone))
    task_id = uuid.uuid4()
    # Four writes in one round trip. The job goes in the task's transaction: a task is never
    # stored without its job, nor a job queued for a task that was not stored.
    async with session_driver_connection(session) as conn, conn.pipeline():
        await tasks.create(
            conn,
            task_id=task_id,
            agent_id=agent.id,
            org_id=agent.org_id,
            type_=type_,
            input_=params,
            created_by=user_id,
        )
        await add_event(conn, task_id, "task_created", {"trigger": "manual", "type": type_})
        await record_event(
            conn,
            agent.org_id,
            Actor.user(user_id, user_email),
            "task.started",
            Target("task", task_id, type_),
            workflow=type_,
            trigger="manual",
            agent_id=agent.id,
            agent_name=agent.name,
        )
        await conn.execute(DEFER_IN_TRANSACTION_SQL, first_advance(task_id))
    await session.commit()
    return task_id


# What run-task reads with the caller's access to the agent (phi_service.deps.
# agent_access_reading), in the same query: the org's time zone (the run's day) and the
# caller's email (the audit line's actor).
RUN_TASK_READS = (
    select(Organization.time_zone).where(Organization.id == Agent.org_id).scalar_subquery(),
    select(User.email).where(User.id == OrganizationMember.user_id).scalar_subquery(),
)


async def _refuse_over_budget(session: AsyncSession, org_id: uuid.UUID, type_: str) -> None:
    """429 when the organization's model calls would be refused (its monthly token budget
    used up, or its calls stopped for the month): a task that needs the model could only
    fail at its first step. (A budget that runs out later ends the task with ``budget
    limit``.)"""
    refusal = await spent_budget(session, org_id)
    if refusal is not None:
        raise TooManyRequests(f"{type_} needs a language model, and the {refusal}")


async def task_for_member(
    session: AsyncSession, task_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Any:
    """The task if the caller is a member of its org; 404 otherwise (outsiders learn nothing)."""
    row = await tasks.for_member(session, task_id, user_id, lock=lock)
    if row is None:
        raise NotFound("task not found")
    return row


async def task_detail(
    session: AsyncSession, row: Any, *, offline_after_seconds: float
) -> dict[str, Any]:
    """The task with its events, its tool calls, the approval it waits on, and, while it is
    unfinished, its agent's local agents (a local agent is OFFLINE after
    ``offline_after_seconds`` without a heartbeat)."""
    unfinished = row.status not in ("SUCCESS", "FAILED", "CANCELLED")
    pending = (
        await agent_tasks.pending_approval(session, row.id)
        if row.status == "AWAITING_APPROVAL"
        else None
    )
    return {
        **row._mapping,
        "pending_approval": pending,
        "events": await events_after(session, row.id, 0, limit=10_000),
        "tool_calls": await tool_calls.of_task(session, row.id),
        "charts": charts_of(row.output),
        "local_agents": (
            await local_agents.of_agent(session, row.agent_id, offline_after_seconds)
            if unfinished
            else []
        ),
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


async def decide_approval(
    session: AsyncSession,
    task_id: uuid.UUID,
    user_id: uuid.UUID,
    decision: str,
    reason: str | None,
) -> None:
    """Approve or reject the call an agent task waits on (OWNER/ADMIN of its org). Checked
    under the task's row lock, so two people deciding at once get one decision and a 409."""
    row = await task_for_member(session, task_id, user_id, lock=True)
    access = await org_access(session, row.org_id, user_id)
    access.require_write()
    if row.status != "AWAITING_APPROVAL":
        raise Conflict(f"the task is not awaiting an approval (it is {row.status})")
    pending = await agent_tasks.pending_approval(session, task_id)
    if pending is None:
        raise Conflict("the task is not awaiting an approval (the call was decided already)")
    await agent_tasks.decide(
        session,
        task_id,
        {
            "key": pending["key"],
            "tool": pending["tool"],
            "decision": "approved" if decision == "approve" else "rejected",
            "by": str(user_id),
            **({"reason": reason} if reason else {}),
        },
    )
    await record_event(
        session,
        row.org_id,
        Actor.user(user_id),
        "approval.granted" if decision == "approve" else "approval.rejected",
        Target("approval", task_id, f"{pending['tool']} call of an agent task"),
        tool=pending["tool"],
        task_id=str(task_id),
        agent_id=row.agent_id,
        **({"reason": reason[:200]} if reason else {}),
    )
    await session.commit()


async def cancel_task(session: AsyncSession, task_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Cancel an unfinished task; its open tool calls are withdrawn from the local agents."""
    row = await task_for_member(session, task_id, user_id, lock=True)
    if row.status in ("SUCCESS", "FAILED", "CANCELLED"):
        raise Conflict(f"the task already finished ({row.status})")
    # With the tasks it started (an agent task's run_workflow calls).
    children = await agent_tasks.open_children(session, task_id)
    released: list[uuid.UUID] = []
    for cancelled in (task_id, *children):
        await tasks.cancel(session, cancelled)
        released += await tool_calls.cancel_open(session, cancelled)
    await add_event(
        session,
        task_id,
        "task_cancelled",
        {
            "by": str(user_id),
            "released_tool_calls": [str(r) for r in released],
            **({"cancelled_tasks": [str(c) for c in children]} if children else {}),
        },
    )
    for child in children:
        await add_event(
            session,
            child,
            "task_cancelled",
            {
                "by": str(user_id),
                "with": str(task_id),
                "reason": f"cancelled with the agent task {task_id} that started it",
            },
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
