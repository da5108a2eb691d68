from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from phi_core_api.admin import service
from phi_core_api.admin.access import PlatformAdmin
from phi_core_api.admin.schemas import Failures, OrgUsage
from phi_service.deps import SessionDep

router = APIRouter(tags=["admin"])


@router.get("/admin/orgs", response_model=list[OrgUsage])
async def list_org_usage(
    _: PlatformAdmin,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[OrgUsage]:
    """Every organization with its members, agents, documents and this month's tasks and LLM
    use (platform administrators only; 404 for everyone else)."""
    return [OrgUsage.model_validate(r) for r in await service.org_usage(session, limit, offset)]


@router.get("/admin/failures", response_model=Failures)
async def list_failures(
    _: PlatformAdmin,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Failures:
    """The latest failed documents, profile generations and background jobs, with errors."""
    return Failures.model_validate(await service.failures(session, limit))
