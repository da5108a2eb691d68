"""Memories: the same six routes for an agent's namespace
(/orgs/{org_id}/agents/{agent_id}/memories) and the organization's (/orgs/{org_id}/memories),
each written out with its own path; only how the scope is found differs (both answer 404 to
outsiders). Rights: ``memories/service.py``. The store is ``phi_search.memory``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse

from phi_core_api.deps import SettingsDep
from phi_core_api.documents.runtime import EmbedderDep, PassageEmbedderDep
from phi_core_api.memories.schemas import (
    MemoryIn,
    MemoryPage,
    MemoryPatch,
    MemorySearchIn,
    MemorySearchOut,
)
from phi_core_api.memories.service import MemoryScope
from phi_search import memory as store
from phi_search.memory import BeforeCommit, MemoryLimits, MemoryRecord, MemorySource
from phi_service.audit import Actor, Target, record_event
from phi_service.deps import CurrentUserId, SessionDep, agent_access, org_access
from phi_service.errors import NotFound
from phi_service.idempotency import Idempotency, IdempotencyDep

router = APIRouter(tags=["memories"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


async def _agent_scope(
    org_id: uuid.UUID, agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> MemoryScope:
    agent, access = await agent_access(session, agent_id, user_id)
    if agent.org_id != org_id:
        raise NotFound("agent not found")
    return MemoryScope(access, agent.id)


async def _org_scope(org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId) -> MemoryScope:
    return MemoryScope(await org_access(session, org_id, user_id), None)


AgentScope = Annotated[MemoryScope, Depends(_agent_scope)]
OrgScope = Annotated[MemoryScope, Depends(_org_scope)]

ADD_RESPONSES: dict[int | str, dict[str, str]] = {
    409: {"description": "the namespace already has a memory with this text"},
    422: {"description": "empty or too long text, past valid_until, or the organization full"},
}
ADD_DESCRIPTION = (
    "Remember a fact {whose}. It is embedded at once (searchable by meaning when this answers "
    "with embedded=true; otherwise by its words until a worker embeds it)."
)
AGENTS_OWN = "in the agent's own namespace (any member)"
ORG_WIDE = "in the organization's namespace, recalled by every agent (OWNER/ADMIN)"
CHANGE = "Members may change only memories they added; OWNER/ADMIN any."


def _audit(session: SessionDep, scope: MemoryScope, action: str, **details: Any) -> BeforeCommit:
    """The audit event of a memory write, recorded in the write's transaction."""

    async def record(memory_id: uuid.UUID) -> None:
        await record_event(
            session,
            scope.access.org_id,
            Actor.user(scope.access.user_id),
            action,
            Target("memory", memory_id),
            scope="agent" if scope.agent_id else "org",
            agent_id=scope.agent_id,
            **details,
        )

    return record


# -- the bodies both scopes share --------------------------------------------------------------


async def _list(scope: MemoryScope, session: SessionDep, limit: int, offset: int) -> MemoryPage:
    items, total = await store.list_memories(
        session, scope.access.org_id, scope.agent_id, limit=limit, offset=offset
    )
    return MemoryPage(items=items, total=total, limit=limit, offset=offset)


async def _add(
    scope: MemoryScope,
    data: MemoryIn,
    session: SessionDep,
    settings: SettingsDep,
    embedder: PassageEmbedderDep,
    idempotency: Idempotency,
) -> MemoryRecord | JSONResponse:
    scope.require_add()

    async def create() -> MemoryRecord:
        # The connection goes back to the pool while the text is embedded.
        await session.commit()
        return await store.add_memory(
            session,
            embedder,
            org_id=scope.access.org_id,
            agent_id=scope.agent_id,
            text_=data.text,
            source=MemorySource.user(scope.access.user_id),
            limits=MemoryLimits.from_settings(settings),
            valid_until=data.valid_until,
            before_commit=_audit(session, scope, "memory.added", source="user"),
        )

    return await idempotency.run(data, create, status_code=status.HTTP_201_CREATED)


async def _search(
    scope: MemoryScope,
    data: MemorySearchIn,
    session: SessionDep,
    settings: SettingsDep,
    embedder: EmbedderDep,
) -> MemorySearchOut:
    await session.commit()
    hits = await store.search_memories(
        session,
        embedder,
        scope.access.org_id,
        scope.agent_id,
        data.query,
        data.top_k,
        include_org=data.include_org,
        ef_search=settings.search_ef_search,
        candidates=settings.search_candidates,
        hybrid=settings.search_hybrid,
    )
    return MemorySearchOut(query=data.query, results=hits)


async def _get(scope: MemoryScope, memory_id: uuid.UUID, session: SessionDep) -> MemoryRecord:
    return await store.get_memory(session, scope.access.org_id, scope.agent_id, memory_id)


async def _edit(
    scope: MemoryScope,
    memory_id: uuid.UUID,
    data: MemoryPatch,
    session: SessionDep,
    settings: SettingsDep,
    embedder: PassageEmbedderDep,
) -> MemoryRecord:
    current = await store.get_memory(session, scope.access.org_id, scope.agent_id, memory_id)
    scope.require_change(current)
    changes = {}
    if "valid_until" in data.model_fields_set:
        changes["valid_until"] = data.valid_until
    return await store.update_memory(
        session,
        embedder,
        scope.access.org_id,
        scope.agent_id,
        memory_id,
        updated_by=scope.access.user_id,
        limits=MemoryLimits.from_settings(settings),
        text_=data.text,
        **changes,
        before_commit=_audit(
            session,
            scope,
            "memory.changed",
            text_changed=data.text is not None and data.text.strip() != current.text,
            valid_until=(data.valid_until.isoformat() if data.valid_until else None),
        ),
    )


async def _delete(scope: MemoryScope, memory_id: uuid.UUID, session: SessionDep) -> Response:
    current = await store.get_memory(session, scope.access.org_id, scope.agent_id, memory_id)
    scope.require_change(current)
    await store.delete_memory(
        session,
        scope.access.org_id,
        scope.agent_id,
        memory_id,
        before_commit=_audit(session, scope, "memory.deleted"),
    )
    return Response(status_code=204)


# -- an agent's namespace ----------------------------------------------------------------------


@router.get(
    "/orgs/{org_id}/agents/{agent_id}/memories",
    response_model=MemoryPage,
    description="The agent's own memories, newest first",
)
async def list_agent_memories(
    scope: AgentScope, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> MemoryPage:
    return await _list(scope, session, limit, offset)


@router.post(
    "/orgs/{org_id}/agents/{agent_id}/memories",
    status_code=status.HTTP_201_CREATED,
    response_model=MemoryRecord,
    responses=ADD_RESPONSES,
    description=ADD_DESCRIPTION.format(whose=AGENTS_OWN),
)
async def add_agent_memory(
    scope: AgentScope,
    data: MemoryIn,
    session: SessionDep,
    settings: SettingsDep,
    embedder: PassageEmbedderDep,
    idempotency: IdempotencyDep,
) -> MemoryRecord | JSONResponse:
    return await _add(scope, data, session, settings, embedder, idempotency)


@router.post(
    "/orgs/{org_id}/agents/{agent_id}/memories/search",
    response_model=MemorySearchOut,
    description="What the agent recalls for a question: its memories and (include_org) its "
    "organization's, by meaning fused with exact words; a day the question names comes first",
)
async def search_agent_memories(
    scope: AgentScope,
    data: MemorySearchIn,
    session: SessionDep,
    settings: SettingsDep,
    embedder: EmbedderDep,
) -> MemorySearchOut:
    return await _search(scope, data, session, settings, embedder)


@router.get("/orgs/{org_id}/agents/{agent_id}/memories/{memory_id}", response_model=MemoryRecord)
async def get_agent_memory(
    scope: AgentScope, memory_id: uuid.UUID, session: SessionDep
) -> MemoryRecord:
    return await _get(scope, memory_id, session)


@router.patch(
    "/orgs/{org_id}/agents/{agent_id}/memories/{memory_id}",
    response_model=MemoryRecord,
    description=CHANGE,
)
async def edit_agent_memory(
    scope: AgentScope,
    memory_id: uuid.UUID,
    data: MemoryPatch,
    session: SessionDep,
    settings: SettingsDep,
    embedder: PassageEmbedderDep,
) -> MemoryRecord:
    return await _edit(scope, memory_id, data, session, settings, embedder)


@router.delete(
    "/orgs/{org_id}/agents/{agent_id}/memories/{memory_id}", status_code=204, description=CHANGE
)
async def delete_agent_memory(
    scope: AgentScope, memory_id: uuid.UUID, session: SessionDep
) -> Response:
    return await _delete(scope, memory_id, session)


# -- the organization's namespace --------------------------------------------------------------


@router.get(
    "/orgs/{org_id}/memories",
    response_model=MemoryPage,
    description="The organization's memories, newest first",
)
async def list_org_memories(
    scope: OrgScope, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> MemoryPage:
    return await _list(scope, session, limit, offset)


@router.post(
    "/orgs/{org_id}/memories",
    status_code=status.HTTP_201_CREATED,
    response_model=MemoryRecord,
    responses=ADD_RESPONSES,
    description=ADD_DESCRIPTION.format(whose=ORG_WIDE),
)
async def add_org_memory(
    scope: OrgScope,
    data: MemoryIn,
    session: SessionDep,
    settings: SettingsDep,
    embedder: PassageEmbedderDep,
    idempotency: IdempotencyDep,
) -> MemoryRecord | JSONResponse:
    return await _add(scope, data, session, settings, embedder, idempotency)


@router.post("/orgs/{org_id}/memories/search", response_model=MemorySearchOut)
async def search_org_memories(
    scope: OrgScope,
    data: MemorySearchIn,
    session: SessionDep,
    settings: SettingsDep,
    embedder: EmbedderDep,
) -> MemorySearchOut:
    """Search the organization's memories by meaning fused with exact words."""
    return await _search(scope, data, session, settings, embedder)


@router.get("/orgs/{org_id}/memories/{memory_id}", response_model=MemoryRecord)
async def get_org_memory(
    scope: OrgScope, memory_id: uuid.UUID, session: SessionDep
) -> MemoryRecord:
    return await _get(scope, memory_id, session)


@router.patch(
    "/orgs/{org_id}/memories/{memory_id}", response_model=MemoryRecord, description="OWNER/ADMIN"
)
async def edit_org_memory(
    scope: OrgScope,
    memory_id: uuid.UUID,
    data: MemoryPatch,
    session: SessionDep,
    settings: SettingsDep,
    embedder: PassageEmbedderDep,
) -> MemoryRecord:
    return await _edit(scope, memory_id, data, session, settings, embedder)


@router.delete("/orgs/{org_id}/memories/{memory_id}", status_code=204, description="OWNER/ADMIN")
async def delete_org_memory(scope: OrgScope, memory_id: uuid.UUID, session: SessionDep) -> Response:
    return await _delete(scope, memory_id, session)
