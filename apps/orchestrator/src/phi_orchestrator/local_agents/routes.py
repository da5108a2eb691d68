"""Local agents: keys (JWT, OWNER/ADMIN), the agent's local agents, and the calls a local
agent makes with its key (heartbeat, long-poll for work)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from phi_orchestrator.local_agents import repository
from phi_orchestrator.local_agents.auth import AgentKey, AgentKeyDep
from phi_orchestrator.local_agents.keys import new_key
from phi_orchestrator.local_agents.refusals import record_refusals
from phi_orchestrator.local_agents.schemas import (
    Heartbeat,
    HeartbeatAnswer,
    KeyCreate,
    KeyCreated,
    KeyList,
    LocalAgentList,
    PendingTasks,
)
from phi_orchestrator.notify import TOOL_CALLS, wait_for
from phi_orchestrator.settings import OrchestratorSettings
from phi_orchestrator.tool_calls.service import claim_pending_tool_calls
from phi_service.audit import Actor, Target, record_event
from phi_service.deps import CurrentUserId, SessionDep, agent_access
from phi_service.errors import Conflict, Forbidden, NotFound
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["local agents"])

# A claimable call that sends no notification (a lease running out) is seen within this.
RECHECK_SECONDS = 1.0


def _settings(request: Request) -> OrchestratorSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


@router.post("/agents/{agent_id}/local-agent-keys", status_code=201, response_model=KeyCreated)
async def create_key(
    agent_id: uuid.UUID,
    body: KeyCreate,
    session: SessionDep,
    user_id: CurrentUserId,
    idempotency: IdempotencyDep,
) -> KeyCreated | JSONResponse:
    """A key for this agent's local agents. The whole key is in this answer only; a retry
    with the same Idempotency-Key (kept 24 hours) gets this answer again, secret included,
    unless the key was revoked since (409): see ``phi_service.idempotency``."""
    agent, _ = await agent_access(session, agent_id, user_id, write=True)

    async def create() -> KeyCreated:
        key = new_key()
        created_at = await repository.create_key(
            session,
            key_id=key.id,
            org_id=agent.org_id,
            agent_id=agent.id,
            name=body.name,
            prefix=key.prefix,
            secret_sha256=key.secret_sha256,
            created_by=user_id,
        )
        await record_event(
            session,
            agent.org_id,
            Actor.user(user_id),
            "local_agent_key.created",
            Target("local_agent_key", key.id, body.name),
            name=body.name,
            prefix=key.prefix,
            agent_id=agent.id,
            agent_name=agent.name,
        )
        await session.commit()
        return KeyCreated(
            id=key.id, name=body.name, prefix=key.prefix, key=key.key, created_at=created_at
        )

    async def still_usable(answer: dict[str, Any]) -> None:
        found = await repository.key_for_auth(session, uuid.UUID(answer["id"]))
        if found is None or found.revoked_at is not None:
            raise Conflict(
                f"this Idempotency-Key created key {answer['prefix']} ({answer['name']!r}), "
                "which was revoked (or deleted) since; create another with a new key"
            )

    return await idempotency.run(
        body, create, status_code=201, secret_fields=("key",), on_replay=still_usable
    )


@router.get("/agents/{agent_id}/local-agent-keys", response_model=KeyList)
async def list_keys(agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId) -> KeyList:
    await agent_access(session, agent_id, user_id, write=True)
    return KeyList(items=await repository.keys_of_agent(session, agent_id))  # type: ignore[arg-type]


@router.delete("/agents/{agent_id}/local-agent-keys/{key_id}", status_code=204)
async def revoke_key(
    agent_id: uuid.UUID, key_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """Revoke a key: the local agent using it gets 401 on its next call."""
    agent, _ = await agent_access(session, agent_id, user_id, write=True)
    revoked = await repository.revoke_key(session, agent_id, key_id)
    if revoked is None:
        raise NotFound("key not found")
    if revoked.newly:
        await record_event(
            session,
            agent.org_id,
            Actor.user(user_id),
            "local_agent_key.revoked",
            Target("local_agent_key", key_id, revoked.name),
            name=revoked.name,
            prefix=revoked.prefix,
            agent_id=agent.id,
            agent_name=agent.name,
        )
    await session.commit()
    return Response(status_code=204)


@router.get("/agents/{agent_id}/local-agents", response_model=LocalAgentList)
async def list_local_agents(
    agent_id: uuid.UUID, request: Request, session: SessionDep, user_id: CurrentUserId
) -> LocalAgentList:
    """The agent's local agents; OFFLINE once the last heartbeat is older than a few intervals."""
    await agent_access(session, agent_id, user_id)
    items = await repository.of_agent(session, agent_id, _settings(request).offline_after_seconds)
    return LocalAgentList(items=items)  # type: ignore[arg-type]


@router.post("/local-agents/heartbeat", response_model=HeartbeatAnswer)
async def heartbeat(
    body: Heartbeat, request: Request, session: SessionDep, key: AgentKeyDep
) -> HeartbeatAnswer:
    """Register (no ``local_agent_id``) or refresh this local agent."""
    settings = _settings(request)
    values = {
        "name": body.name,
        "host": body.host,
        "version": body.version,
        "tools": sorted(set(body.tools)),
        "key_id": key.key_id,
    }
    if body.contract_check is not None:
        values["contract_check"] = [r.model_dump(mode="json") for r in body.contract_check]
    local_agent_id = None
    if body.local_agent_id is not None:
        owner = await repository.owner_for_update(session, body.local_agent_id)
        if owner is not None:
            key.require_agent(owner, "local agent")
            await repository.record_heartbeat(session, body.local_agent_id, **values)
            local_agent_id = body.local_agent_id
    if local_agent_id is None:
        local_agent_id = await _register(session, key, values, settings.max_local_agents_per_key)
    await record_refusals(session, key, local_agent_id, body.name, body.refusals)
    await session.commit()
    return HeartbeatAnswer(
        local_agent_id=local_agent_id,
        agent_id=key.agent_id,
        org_id=key.org_id,
        heartbeat_interval_seconds=settings.heartbeat_interval_seconds,
        lease_seconds=settings.lease_seconds,
    )


async def _register(
    session: AsyncSession, key: AgentKey, values: dict[str, Any], limit: int
) -> uuid.UUID:
    """First contact, or the row was deleted: the agent's local agent of the same name takes
    the heartbeat (an agent that lost its id, or was reinstalled, keeps its row), else a new
    row, up to ``limit`` per key (the agent stores the id it gets back)."""
    # One registration per key at a time, so two first heartbeats cannot both pass the count.
    await repository.lock_key(session, key.key_id)
    existing = await repository.latest_of_name(session, key.agent_id, values["name"])
    if existing is not None:
        fields = {k: v for k, v in values.items() if k != "name"}
        await repository.record_heartbeat(session, existing, **fields)
        return existing
    registered = await repository.count_of_key(session, key.key_id)
    if registered >= limit:
        raise Conflict(
            f"this key already registered {registered} local agents (the limit is {limit}): "
            "reuse a name, send the local_agent_id you were given, or use another key"
        )
    return await repository.register(session, agent_id=key.agent_id, org_id=key.org_id, **values)


@router.get("/local-agents/{local_agent_id}/pending-tasks", response_model=PendingTasks)
async def pending_tasks(
    local_agent_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    key: AgentKeyDep,
    wait: Annotated[int, Query(ge=0, le=30, description="seconds to wait for work")] = 20,
    max: Annotated[int, Query(ge=1, le=20, description="calls to claim at most")] = 1,
) -> PendingTasks:
    """Long poll: claims this agent's open tool calls (for the tools the local agent listed
    in its heartbeat) as soon as there are some, or answers an empty list after ``wait``."""
    settings = _settings(request)
    row = await repository.poll_target(session, local_agent_id)
    if row is None:
        raise NotFound("local agent not found: send a heartbeat without local_agent_id first")
    if row.agent_id != key.agent_id:
        raise Forbidden("this key belongs to another agent; it cannot reach this local agent")
    await session.commit()
    tools = [str(t) for t in row.tools or []]
    deadline = time.monotonic() + min(wait, settings.long_poll_max_seconds)
    with request.app.state.notifier.subscribe(TOOL_CALLS, str(key.agent_id)) as woken:
        while True:
            # A poller that went away (an agent killed mid-wait) must not claim: the calls
            # would go to nobody and wait out a whole lease before anyone could have them.
            if await request.is_disconnected():
                return PendingTasks(tasks=[])
            calls = await claim_pending_tool_calls(
                session, key.agent_id, local_agent_id, tools, max, settings.lease_seconds
            )
            remaining = deadline - time.monotonic()
            if calls or remaining <= 0:
                return PendingTasks(tasks=calls)  # type: ignore[arg-type]
            await wait_for(woken, min(RECHECK_SECONDS, remaining))
