"""Task routes: run a workflow, read tasks, cancel, and follow a task's events live."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from phi_llm.accounting import spent_budget
from phi_orchestrator import organizations
from phi_orchestrator.agent_tasks.model_check import tool_calling_problem
from phi_orchestrator.jobs import defer_advance
from phi_orchestrator.notify import TASK_EVENTS, wait_for
from phi_orchestrator.runtime import FINISHED
from phi_orchestrator.schedules import needs_tool_calling, schedule_states
from phi_orchestrator.tasks import events, service
from phi_orchestrator.tasks.schemas import (
    ApprovalIn,
    RunTask,
    ScheduleState,
    TaskCreated,
    TaskDetail,
    TaskPage,
    TaskStatus,
    WorkflowOut,
)
from phi_orchestrator.workflows.registry import workflows
from phi_service.deps import CurrentUserId, SessionDep, agent_access, agent_access_reading
from phi_service.errors import InvalidInput
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["tasks"])

# A stream looks at its task again at least this often, even if no notification came.
RECHECK_SECONDS = 15.0
WATCH_PAGE = (Path(__file__).parent / "watch.html").read_text()


@router.get("/watch", response_class=HTMLResponse, tags=["workflows"])
async def watch_page() -> HTMLResponse:
    """A page that follows a task's events live in the browser (give it the access token and
    the task id; ``/watch?task_id=...`` fills the id in). It holds no data itself."""
    return HTMLResponse(WATCH_PAGE)


@router.get("/workflows", response_model=list[WorkflowOut], tags=["workflows"])
async def list_workflows() -> list[WorkflowOut]:
    """The workflow types a task can run, with the JSON schema of their input and the data
    contract of what they read from the customer's data."""
    return [
        WorkflowOut(
            type=t,
            description=w.description,
            input_schema=w.input_model.model_json_schema(),
            data_contract=w.data_contract,
        )
        for t, w in sorted(workflows().items())
    ]


@router.post("/agents/{agent_id}/run-task", status_code=202, response_model=TaskCreated)
async def run_task(
    agent_id: uuid.UUID,
    body: RunTask,
    request: Request,
    session: SessionDep,
    user_id: CurrentUserId,
    idempotency: IdempotencyDep,
) -> TaskCreated | JSONResponse:
    """Start a workflow run; follow it with GET /tasks/{task_id} or its event stream."""
    agent, _, (zone, email) = await agent_access_reading(
        session, agent_id, user_id, *service.RUN_TASK_READS
    )

    async def create() -> TaskCreated:
        # Queues the task's first run with it (one transaction).
        task_id = await service.create_task(
            session,
            agent,
            user_id,
            body.type,
            body.input,
            request.app.state.settings,
            time_zone=zone,
            user_email=email,
        )
        return TaskCreated(task_id=task_id)

    return await idempotency.run(body, create, status_code=202)


@router.get("/agents/{agent_id}/tasks", response_model=TaskPage)
async def list_agent_tasks(
    agent_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    status: TaskStatus | None = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TaskPage:
    """The agent's tasks, newest first, manual and scheduled alike."""
    await agent_access(session, agent_id, user_id)
    items, total = await service.list_tasks(
        session, agent_id, status=status, type_=type, limit=limit, offset=offset
    )
    return TaskPage(items=items, total=total, limit=limit, offset=offset)  # type: ignore[arg-type]


@router.get("/agents/{agent_id}/schedules", response_model=list[ScheduleState])
async def list_agent_schedules(
    agent_id: uuid.UUID, request: Request, session: SessionDep, user_id: CurrentUserId
) -> list[ScheduleState]:
    """The scheduled workflows of the agent's config: which the scheduler runs, when next,
    and why it skips the others (a type that does not exist or runs only on request, a cron
    that never fires, a disabled workflow or agent, an agent task where no model that calls
    tools is configured), or skips their slots for now (an agent task while the
    organization's monthly token budget is spent)."""
    agent, _ = await agent_access(session, agent_id, user_id)
    zone = await organizations.time_zone(session, agent.org_id)
    refusal = await spent_budget(session, agent.org_id)
    entries = (agent.config or {}).get("workflows") or []
    needs_model = any(
        isinstance(wf, dict) and wf.get("schedule") and needs_tool_calling(wf) for wf in entries
    )
    states = schedule_states(
        agent.config,
        agent.status,
        zone or "UTC",
        datetime.now(UTC),
        None if refusal is None else str(refusal),
        await tool_calling_problem(request.app.state.settings) if needs_model else None,
    )
    return [ScheduleState.model_validate(s) for s in states]


@router.get("/tasks/{task_id}", response_model=TaskDetail)
async def get_task(
    task_id: uuid.UUID, request: Request, session: SessionDep, user_id: CurrentUserId
) -> TaskDetail:
    """The task with its events and tool calls; while it is unfinished, also the agent's
    local agents, so a task WAITING on a call can say who took it or why nobody has."""
    row = await service.task_for_member(session, task_id, user_id)
    detail = await service.task_detail(
        session, row, offline_after_seconds=request.app.state.settings.offline_after_seconds
    )
    return TaskDetail.model_validate(detail)


@router.post("/tasks/{task_id}/cancel", response_model=TaskDetail)
async def cancel_task(
    task_id: uuid.UUID, request: Request, session: SessionDep, user_id: CurrentUserId
) -> TaskDetail:
    """Cancel a task that has not finished; a call its local agent holds is withdrawn (the
    agent's lease extension and callback then get 409)."""
    await service.cancel_task(session, task_id, user_id)
    row = await service.task_for_member(session, task_id, user_id)
    detail = await service.task_detail(
        session, row, offline_after_seconds=request.app.state.settings.offline_after_seconds
    )
    return TaskDetail.model_validate(detail)


@router.post("/tasks/{task_id}/approval", response_model=TaskDetail)
async def decide_approval(
    task_id: uuid.UUID,
    body: ApprovalIn,
    request: Request,
    session: SessionDep,
    user_id: CurrentUserId,
) -> TaskDetail:
    """Approve or reject the tool call an agent task waits on (``pending_approval`` of the
    task; OWNER or ADMIN). A rejection goes back to the model as the call's error, with the
    reason; either way the task goes on."""
    await service.decide_approval(session, task_id, user_id, body.decision, body.reason)
    try:
        await defer_advance(request.app.state.jobs, task_id)
    except Exception:  # noqa: BLE001 - requeue_pending_tasks resumes it
        pass
    row = await service.task_for_member(session, task_id, user_id)
    detail = await service.task_detail(
        session, row, offline_after_seconds=request.app.state.settings.offline_after_seconds
    )
    return TaskDetail.model_validate(detail)


async def _stream_start(
    task_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> int:
    """Checks made before the stream starts (so they still get their 404/422): the caller's
    access to the task, and the event to resume after."""
    await service.task_for_member(session, task_id, user_id)
    await session.close()  # no connection held while the stream waits
    if not last_event_id:
        return 0
    if not last_event_id.isdigit():
        raise InvalidInput("Last-Event-ID must be the id of an event (a number)")
    return int(last_event_id)


@router.get(
    "/tasks/{task_id}/events/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def stream_task_events(
    task_id: uuid.UUID,
    request: Request,
    after: Annotated[int, Depends(_stream_start)],
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: every event of the task as it is written (``id`` is its sequence
    number; reconnect with ``Last-Event-ID`` to resume), then an ``end`` event once the task
    has finished. FastAPI sends a keep-alive comment while nothing happens."""
    db, notifier = request.app.state.db, request.app.state.notifier
    seq = after
    with notifier.subscribe(TASK_EVENTS, str(task_id)) as woken:
        while True:
            async with db.sessionmaker() as s:
                status, batch = await events.status_and_events_after(s, task_id, seq)
            for e in batch:
                seq = e["seq"]
                yield ServerSentEvent(
                    id=str(seq), event=e["event_type"], data={**e, "task_id": str(task_id)}
                )
            if batch:
                continue
            if status is None or status in FINISHED:
                yield ServerSentEvent(event="end", data={"status": status})
                return
            if await request.is_disconnected():
                return
            await wait_for(woken, RECHECK_SECONDS)
