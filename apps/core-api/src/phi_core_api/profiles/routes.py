from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from phi_agent_config import dump_json, dump_yaml
from phi_core_api.deps import SettingsDep
from phi_core_api.documents.runtime import JobsDep
from phi_core_api.profiles import config_export, policy_starter, service
from phi_core_api.profiles.schemas import (
    ConfigFormat,
    GenerationOut,
    ProfileVersionOut,
    ProfileVersionSummary,
)
from phi_platform.db.models import AgentProfileVersion, ProfileGeneration
from phi_service.audit import Actor, Target, record_event
from phi_service.deps import CurrentUserId, SessionDep, agent_access
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["profiles"])


def _generation_out(g: ProfileGeneration) -> GenerationOut:
    return GenerationOut(
        id=g.id,
        agent_id=g.agent_id,
        status=g.status,  # type: ignore[arg-type]
        error=g.error,
        profile_version_id=g.profile_version_id,
        created_at=g.created_at,
        updated_at=g.updated_at,
    )


def _summary(v: AgentProfileVersion) -> dict[str, object]:
    return {
        "id": v.id,
        "agent_id": v.agent_id,
        "version": v.version,
        "provider": v.provider,
        "model": v.model,
        "produced_without_llm": bool(v.profile.get("produced_without_llm")),
        "restored_from": v.profile.get("restored_from"),
        "created_at": v.created_at,
    }


@router.post(
    "/agents/{agent_id}/generate-profile",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=GenerationOut,
    responses={
        409: {"description": "documents of the agent are still being processed"},
        429: {"description": "the organization's monthly token budget is used up"},
    },
)
async def generate_profile(
    agent_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    jobs: JobsDep,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> GenerationOut | JSONResponse:
    """Generate the agent's profile in the background (OWNER/ADMIN); poll the returned status.

    Uses the industry, the role template and the agent's documents (JDs and SOPs first).
    Works with no documents and with no model configured (the builtin composer). Waits up to
    PHI_PROFILE_DOCUMENTS_WAIT_SECONDS for documents still processing, then answers 409 naming
    them; answers 429 when a model would generate it and the org's token budget is used up.
    With an Idempotency-Key, a retry gets the first answer even after that generation ended
    (without one, a request after it ended starts another)."""
    agent, access = await agent_access(session, agent_id, user_id)

    async def create() -> GenerationOut:
        generation = await service.request_generation(
            session, jobs, agent, access, settings.profile_documents_wait_seconds
        )
        return _generation_out(generation)

    return await idempotency.run(None, create, status_code=status.HTTP_202_ACCEPTED)


@router.get("/agents/{agent_id}/profile-generations/{generation_id}", response_model=GenerationOut)
async def get_generation(
    agent_id: uuid.UUID, generation_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> GenerationOut:
    agent, _ = await agent_access(session, agent_id, user_id)
    return _generation_out(await service.get_generation(session, agent, generation_id))


@router.get("/agents/{agent_id}/profile-versions", response_model=list[ProfileVersionSummary])
async def list_profile_versions(
    agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> list[ProfileVersionSummary]:
    agent, _ = await agent_access(session, agent_id, user_id)
    rows = await service.list_versions(session, agent)
    return [ProfileVersionSummary.model_validate(_summary(v)) for v in rows]


@router.get("/agents/{agent_id}/profile-versions/{version}", response_model=ProfileVersionOut)
async def get_profile_version(
    agent_id: uuid.UUID,
    version: int,
    session: SessionDep,
    user_id: CurrentUserId,
) -> ProfileVersionOut:
    agent, _ = await agent_access(session, agent_id, user_id)
    v = await service.get_version(session, agent, version)
    return ProfileVersionOut.model_validate(
        {**_summary(v), "system_prompt": v.system_prompt, "profile": v.profile}
    )


@router.post(
    "/agents/{agent_id}/profile-versions/{version}/restore",
    status_code=status.HTTP_201_CREATED,
    response_model=ProfileVersionOut,
)
async def restore_profile_version(
    agent_id: uuid.UUID, version: int, session: SessionDep, user_id: CurrentUserId
) -> ProfileVersionOut:
    """Make an earlier profile live again; it is saved as a new version (OWNER/ADMIN)."""
    agent, access = await agent_access(session, agent_id, user_id)
    v = await service.restore_version(session, agent, access, version)
    return ProfileVersionOut.model_validate(
        {**_summary(v), "system_prompt": v.system_prompt, "profile": v.profile}
    )


@router.get(
    "/agents/{agent_id}/config",
    responses={
        200: {
            "content": {"application/yaml": {}, "application/json": {}},
            "description": "The local agent's config file (no secrets: tools name env vars)",
        }
    },
)
async def export_agent_config(
    agent_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    settings: SettingsDep,
    format: Annotated[ConfigFormat, Query(description="yaml (default) or json")] = "yaml",
) -> Response:
    agent, access = await agent_access(session, agent_id, user_id)
    config = await config_export.export_config(session, agent, settings)
    await record_event(
        session,
        agent.org_id,
        Actor.user(access.user_id),
        "config.downloaded",
        Target("agent", agent.id, agent.name),
        format=format,
    )
    await session.commit()
    if format == "json":
        body, media = dump_json(config), "application/json"
    else:
        body, media = dump_yaml(config), "application/yaml"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="phi-agent-config.{format}"'},
    )


@router.get(
    "/agents/{agent_id}/policy-starter",
    responses={
        200: {
            "content": {"application/yaml": {}},
            "description": "A starter policy.yaml for the local agent, with comments",
        }
    },
)
async def starter_policy(
    agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """A starting point for the customer's own ``policy.yaml``: a section for each of the
    agent's tools that runs on the local agent (database connection by DSN variable, limits,
    folders). The policy decides what the local agent may do; the cloud never reads it."""
    agent, _ = await agent_access(session, agent_id, user_id)
    body = await policy_starter.starter_policy_for(session, agent)
    return Response(
        body,
        media_type="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="policy.yaml"'},
    )
