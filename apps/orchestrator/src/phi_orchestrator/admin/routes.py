"""Tasks across every organization, for platform administrators (404 for everyone else)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from phi_orchestrator.tasks import repository as tasks
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
    rows, total = await tasks.page(
        session,
        org_id=org_id,
        status=status,
        type_=type,
        limit=limit,
        offset=offset,
        with_names=True,
    )
    return AdminTaskPage(
        items=[AdminTaskSummary.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/admin/tasks/{task_id}", response_model=TaskDetail)
async def get_any_task(
    task_id: uuid.UUID, request: Request, _: PlatformAdmin, session: SessionDep
) -> TaskDetail:
    """Any task with its events and tool calls."""
    row = await tasks.get(session, task_id)
    if row is None:
        raise NotFound("task not found")
    detail = await service.task_detail(
        session, row, offline_after_seconds=request.app.state.settings.offline_after_seconds
    )
    return TaskDetail.model_validate(detail)
