"""deliver_to routes: where an agent's results go, and how a task's deliveries went."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phi_orchestrator.deliveries import service
from phi_orchestrator.deliveries.schemas import (
    DeliveryOut,
    DestinationCreated,
    DestinationIn,
    DestinationOut,
)
from phi_orchestrator.tasks import service as tasks
from phi_service.deps import CurrentUserId, SessionDep, agent_access
from phi_service.errors import Conflict
from phi_service.idempotency import IdempotencyDep

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
    idempotency: IdempotencyDep,
) -> DestinationCreated | JSONResponse:
    """Send the agent's results of a workflow type to an email address or a webhook. A
    webhook gets a secret, shown only in this answer (stored encrypted; a new one with
    ``rotate-secret``): every request carries ``X-Phi-Signature: sha256=<HMAC-SHA256 of the
    body with it>``. Webhooks must resolve to public addresses. A retry with the same
    Idempotency-Key gets this answer again, secret included, while the destination and its
    secret are unchanged (409 once it was removed or its secret rotated)."""
    agent, access = await agent_access(session, agent_id, user_id)
    access.require_write()
    settings = request.app.state.settings

    async def create() -> DestinationCreated:
        row, secret = await service.add_destination(
            session, agent, user_id, body, settings.webhook_allowed_networks, settings.secret_box
        )
        return _created(row, secret)

    async def unchanged(answer: dict[str, Any]) -> None:
        current = await service.current_secret(
            session, agent_id, uuid.UUID(answer["id"]), settings.secret_box
        )
        if current is None or current != (answer.get("secret") or ""):
            raise Conflict(
                f"this Idempotency-Key added the destination {answer['target']}, which was "
                "removed or given a new secret since; add it again with a new key"
            )

    return await idempotency.run(
        body, create, status_code=201, secret_fields=("secret",), on_replay=unchanged
    )


def _created(row: object, secret: str | None) -> DestinationCreated:
    shown = DestinationOut.model_validate(row, from_attributes=True)
    return DestinationCreated(**shown.model_dump(), secret=secret)


@router.post(
    "/agents/{agent_id}/deliver-to/{destination_id}/rotate-secret",
    response_model=DestinationCreated,
    responses={
        404: {"description": "no such destination of this agent"},
        409: {"description": "an email destination (it has no secret)"},
    },
)
async def rotate_destination_secret(
    agent_id: uuid.UUID,
    destination_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user_id: CurrentUserId,
) -> DestinationCreated:
    """Give a webhook a new signing secret, shown only in this answer (OWNER/ADMIN). The
    old one stops at once: every request from now on, retries included, is signed with the
    new one, so update the receiver right after."""
    agent, access = await agent_access(session, agent_id, user_id)
    access.require_write()
    row, secret = await service.rotate_secret(
        session, agent, user_id, destination_id, request.app.state.settings.secret_box
    )
    return _created(row, secret)


@router.delete("/agents/{agent_id}/deliver-to/{destination_id}", status_code=204)
async def remove_destination(
    agent_id: uuid.UUID, destination_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """Stop sending there; deliveries already made keep their record."""
    agent, access = await agent_access(session, agent_id, user_id)
    access.require_write()
    await service.remove_destination(session, agent, user_id, destination_id)
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
