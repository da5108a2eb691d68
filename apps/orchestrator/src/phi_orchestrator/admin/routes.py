"""Tasks across every organization, for platform administrators (404 for everyone else)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import text

from phi_orchestrator.tasks import service
from phi_orchestrator.tasks.schemas import TaskDetail, TaskStatus, TaskSummary
from phi_service.admin import PlatformAdmin
from phi_service.deps import SessionDep
from phi_service.errors import NotFound

router = APIRouter(tags=["admin"])


class AdminTaskSummary(TaskSummary):
    org_name: str
    agent_name: str


class AdminTaskPage(BaseModel):
    items: list[AdminTaskSummary]
    total: int
    limit: int
    offset: int


@router.get("/admin/tasks", response_model=AdminTaskPage)
async def list_all_tasks(
    _: PlatformAdmin,
    session: SessionDep,
    status: TaskStatus | None = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    org_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AdminTaskPage:
    """Every organization's tasks, newest first, filtered by status, type and organization."""
    where = ["true"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for column, value in (("status", status), ("type", type), ("org_id", org_id)):
        if value is not None:
            where.append(f"t.{column} = :{column}")
            params[column] = value
    condition = " AND ".join(where)
    total = (
        await session.execute(text(f"SELECT count(*) FROM tasks t WHERE {condition}"), params)
    ).scalar_one()
    rows = (
        await session.execute(
            text(
                f"SELECT {service.TASK_COLUMNS}, o.name AS org_name, a.name AS agent_name "
                "FROM tasks t JOIN organizations o ON o.id = t.org_id "
                f"JOIN agents a ON a.id = t.agent_id WHERE {condition} "
                "ORDER BY t.created_at DESC, t.id DESC LIMIT :limit OFFSET :offset"
            ),
            params,
        )
    ).all()
    return AdminTaskPage(
        items=[AdminTaskSummary.model_validate(dict(r._mapping)) for r in rows],
        total=int(total),
        limit=limit,
        offset=offset,
    )


@router.get("/admin/tasks/{task_id}", response_model=TaskDetail)
async def get_any_task(task_id: uuid.UUID, _: PlatformAdmin, session: SessionDep) -> TaskDetail:
    """Any task with its events and tool calls."""
    row = (
        await session.execute(
            text(
                f"SELECT {service.TASK_COLUMNS}, t.input, t.output, t.schedule_slot "
                "FROM tasks t WHERE t.id = :id"
            ),
            {"id": task_id},
        )
    ).first()
    if row is None:
        raise NotFound("task not found")
    return TaskDetail.model_validate(await service.task_detail(session, row))
