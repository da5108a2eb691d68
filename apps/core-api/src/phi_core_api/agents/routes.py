from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from phi_core_api.agents import service
from phi_core_api.agents.schemas import AgentIn, AgentOut, AgentPatch, AgentSummary
from phi_core_api.documents.runtime import JobsDep
from phi_service.deps import (
    CurrentUserId,
    DatabaseDep,
    SessionDep,
    TokenUserId,
    agent_access,
    org_access,
)
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["agents"])


@router.post("/orgs/{org_id}/agents", status_code=status.HTTP_201_CREATED, response_model=AgentOut)
async def create_agent(
    org_id: uuid.UUID,
    data: AgentIn,
    session: SessionDep,
    user_id: CurrentUserId,
    idempotency: IdempotencyDep,
) -> AgentOut | JSONResponse:
    """Create an agent from an industry and one of its role templates (OWNER/ADMIN)."""
    access = await org_access(session, org_id, user_id)

    async def create() -> AgentOut:
        agent = await service.create_agent(session, access, data)
        return AgentOut.model_validate(await service.agent_out(session, agent))

    return await idempotency.run(data, create, status_code=status.HTTP_201_CREATED)


@router.get("/orgs/{org_id}/agents", response_model=list[AgentSummary])
async def list_agents(
    org_id: uuid.UUID,
    db: DatabaseDep,
    user_id: TokenUserId,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    body = await service.list_agents_json(db, org_id, user_id, limit, offset)
    return Response(body, media_type="application/json")


@router.get("/agents/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId) -> AgentOut:
    agent, _ = await agent_access(session, agent_id, user_id)
    return AgentOut.model_validate(await service.agent_out(session, agent))


@router.patch("/agents/{agent_id}", response_model=AgentOut)
async def update_agent(
    agent_id: uuid.UUID, data: AgentPatch, session: SessionDep, user_id: CurrentUserId
) -> AgentOut:
    """Rename, enable/disable, edit config, or replace the tool set with validated settings."""
    agent, access = await agent_access(session, agent_id, user_id, write=True)
    agent = await service.update_agent(session, access, agent, data)
    return AgentOut.model_validate(await service.agent_out(session, agent))


@router.delete("/agents/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(
    agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId, jobs: JobsDep
) -> Response:
    """Delete the agent and its documents; their stored files are removed in the background."""
    agent, access = await agent_access(session, agent_id, user_id, write=True)
    await service.delete_agent(session, jobs, access, agent)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
