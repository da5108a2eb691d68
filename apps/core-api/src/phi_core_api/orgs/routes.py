from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from phi_core_api.documents.runtime import JobsDep
from phi_core_api.orgs import service
from phi_core_api.orgs.schemas import (
    MemberOut,
    MemberPatch,
    OrgIn,
    OrgOut,
    OrgPatch,
    OrgStats,
)
from phi_service.deps import CurrentUserId, SessionDep, org_access
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["organizations"])


@router.post("/orgs", status_code=status.HTTP_201_CREATED, response_model=OrgOut)
async def create_org(
    data: OrgIn, session: SessionDep, user_id: CurrentUserId, idempotency: IdempotencyDep
) -> OrgOut | JSONResponse:
    """Create an organization; the caller becomes its OWNER."""

    async def create() -> OrgOut:
        org = await service.create_org(session, user_id, data)
        return OrgOut.model_validate(service.org_out(org, "OWNER"))

    return await idempotency.run(data, create, status_code=status.HTTP_201_CREATED)


@router.get("/orgs", response_model=list[OrgOut])
async def list_orgs(session: SessionDep, user_id: CurrentUserId) -> list[OrgOut]:
    """Organizations the caller belongs to."""
    return [OrgOut.model_validate(o) for o in await service.list_orgs(session, user_id)]


@router.get("/orgs/{org_id}", response_model=OrgOut)
async def get_org(org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId) -> OrgOut:
    access = await org_access(session, org_id, user_id)
    return OrgOut.model_validate(await service.get_org(session, access))


@router.get("/orgs/{org_id}/stats", response_model=OrgStats)
async def get_org_stats(org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId) -> OrgStats:
    """Agents, documents (failed ones too) and today's tasks (failed ones too) of the org."""
    access = await org_access(session, org_id, user_id)
    return OrgStats.model_validate(await service.org_stats(session, access.org_id))


@router.patch("/orgs/{org_id}", response_model=OrgOut)
async def update_org(
    org_id: uuid.UUID, data: OrgPatch, session: SessionDep, user_id: CurrentUserId
) -> OrgOut:
    """Rename the organization or set its monthly LLM token budget (OWNER only)."""
    access = await org_access(session, org_id, user_id)
    return OrgOut.model_validate(await service.update_org(session, access, data))


@router.delete("/orgs/{org_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_org(
    org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId, jobs: JobsDep
) -> Response:
    """Delete the organization and everything in it (OWNER only); its stored files are
    removed in the background."""
    access = await org_access(session, org_id, user_id)
    await service.delete_org(session, jobs, access)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/orgs/{org_id}/members", response_model=list[MemberOut])
async def list_members(
    org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> list[MemberOut]:
    access = await org_access(session, org_id, user_id)
    return [MemberOut.model_validate(m) for m in await service.list_members(session, access)]


@router.patch("/orgs/{org_id}/members/{member_user_id}", response_model=MemberOut)
async def change_role(
    org_id: uuid.UUID,
    member_user_id: uuid.UUID,
    data: MemberPatch,
    session: SessionDep,
    user_id: CurrentUserId,
) -> MemberOut:
    access = await org_access(session, org_id, user_id)
    return MemberOut.model_validate(
        await service.change_role(session, access, member_user_id, data.role)
    )


@router.delete("/orgs/{org_id}/members/{member_user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    org_id: uuid.UUID, member_user_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """Remove a member (OWNER/ADMIN), or leave the organization yourself."""
    access = await org_access(session, org_id, user_id)
    await service.remove_member(session, access, member_user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
