"""deliver_to routes: where an agent's results go, and how a task's deliveries went."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from phi_orchestrator.deliveries import service
from phi_orchestrator.deliveries.schemas import (
    DeliveryOut,
    DestinationCreated,
    DestinationIn,
    DestinationOut,
)
from phi_orchestrator.tasks import service as tasks
from phi_service.deps import CurrentUserId, SessionDep, agent_access

router = APIRouter(tags=["deliveries"])


@router.get("/agents/{agent_id}/deliver-to", response_model=list[DestinationOut])
async def list_destinations(
    agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> list[DestinationOut]:
    """Where the agent's results go, per workflow type (webhook secrets are never shown
    again)."""
    await agent_access(session, agent_id, user_id)
    rows = await service.list_destinations(session, agent_id)
    return [DestinationOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/agents/{agent_id}/deliver-to", status_code=201, response_model=DestinationCreated)
async def add_destination(
    agent_id: uuid.UUID,
    body: DestinationIn,
    request: Request,
    session: SessionDep,
    user_id: CurrentUserId,
) -> DestinationCreated:
    """Send the agent's results of a workflow type to an email address or a webhook. A
    webhook gets a secret, shown only in this answer: every request carries
    ``X-Phi-Signature: sha256=<HMAC-SHA256 of the body with it>``. Webhooks must resolve to
    public addresses."""
    agent, access = await agent_access(session, agent_id, user_id)
    access.require_write()
    row = await service.add_destination(
        session, agent, user_id, body, request.app.state.settings.webhook_allowed_networks
    )
    return DestinationCreated.model_validate(row, from_attributes=True)


@router.delete("/agents/{agent_id}/deliver-to/{destination_id}", status_code=204)
async def remove_destination(
    agent_id: uuid.UUID, destination_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """Stop sending there; deliveries already made keep their record."""
    _, access = await agent_access(session, agent_id, user_id)
    access.require_write()
    await service.remove_destination(session, agent_id, destination_id)
    return Response(status_code=204)


@router.get("/tasks/{task_id}/deliveries", response_model=list[DeliveryOut])
async def task_deliveries(
    task_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> list[DeliveryOut]:
    """Where the task's result was sent: status (PENDING, DELIVERED, FAILING, GIVEN_UP) and
    every attempt."""
    await tasks.task_for_member(session, task_id, user_id)
    return [
        DeliveryOut.model_validate(d) for d in await service.deliveries_of_task(session, task_id)
    ]
