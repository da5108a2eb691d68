"""The organization's audit log (OWNER/ADMIN), and every organization's for platform
administrators under /admin."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from phi_core_api.admin.access import PlatformAdmin
from phi_core_api.audit import service
from phi_core_api.audit.schemas import ActorType, AuditPage, ExportFormat
from phi_core_api.audit.service import AuditFilter
from phi_service.deps import CurrentUserId, SessionDep, org_access

router = APIRouter(tags=["audit"])

MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

Actor = Annotated[
    str | None,
    Query(max_length=200, description="a user or local agent id, or part of an email or name"),
]
ActorTypeQ = Annotated[ActorType | None, Query()]
Action = Annotated[
    str | None,
    Query(max_length=100, description="an action (member.invited) or a family (member)"),
]
TargetType = Annotated[str | None, Query(max_length=50)]
TargetId = Annotated[str | None, Query(max_length=100)]
Since = Annotated[datetime | None, Query(description="from this time (inclusive)")]
Until = Annotated[datetime | None, Query(description="until this time (exclusive)")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]
OrgQ = Annotated[uuid.UUID | None, Query(description="one organization; all if left out")]
Format = Annotated[ExportFormat, Query(description="csv or jsonl (JSON Lines)")]


def _filters(
    actor: Actor = None,
    actor_type: ActorTypeQ = None,
    action: Action = None,
    target_type: TargetType = None,
    target_id: TargetId = None,
    since: Since = None,
    until: Until = None,
) -> AuditFilter:
    """The query's filters (the organization is added by each route)."""
    return AuditFilter(
        actor=actor,
        actor_type=actor_type,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
    )


Filters = Annotated[AuditFilter, Depends(_filters)]


def _export(request: Request, flt: AuditFilter, fmt: str, scope: str) -> StreamingResponse:
    flt.conditions()  # a bad filter is a 400 now, not a broken download later
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        service.export_lines(request.app.state.db.sessionmaker, flt, fmt),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="audit-{scope}-{stamp}.{fmt}"'},
    )


@router.get("/orgs/{org_id}/audit", response_model=AuditPage)
async def list_audit_events(
    org_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    filters: Filters,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """Who did what in the organization, newest first (OWNER/ADMIN)."""
    access = await org_access(session, org_id, user_id)
    access.require_write()
    flt = replace(filters, org_id=org_id)
    return AuditPage.model_validate(await service.page(session, flt, limit, cursor))


@router.get(
    "/orgs/{org_id}/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}}},
)
async def export_audit_events(
    org_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user_id: CurrentUserId,
    filters: Filters,
    format: Format = "csv",
) -> StreamingResponse:
    """Every matching event of the organization, newest first, streamed as CSV or JSON Lines
    (OWNER/ADMIN)."""
    access = await org_access(session, org_id, user_id)
    access.require_write()
    await session.close()  # the export reads in its own short transactions
    return _export(request, replace(filters, org_id=org_id), format, str(org_id))


@router.get("/admin/audit", response_model=AuditPage, tags=["admin"])
async def admin_list_audit_events(
    _: PlatformAdmin,
    session: SessionDep,
    filters: Filters,
    org_id: OrgQ = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """Audit events of every organization, deleted ones included (platform administrators
    only; 404 for everyone else)."""
    flt = replace(filters, org_id=org_id)
    return AuditPage.model_validate(await service.page(session, flt, limit, cursor))


@router.get(
    "/admin/audit/export",
    response_class=StreamingResponse,
    tags=["admin"],
    responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["jsonl"]: {}}}},
)
async def admin_export_audit_events(
    _: PlatformAdmin,
    request: Request,
    session: SessionDep,
    filters: Filters,
    format: Format = "csv",
    org_id: OrgQ = None,
) -> StreamingResponse:
    """Every matching event of every organization (platform administrators only)."""
    await session.close()
    flt = replace(filters, org_id=org_id)
    return _export(request, flt, format, str(org_id) if org_id else "all")
