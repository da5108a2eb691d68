from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from phi_core_api.catalog.schemas import IndustryOut, RoleTemplateOut, ToolOut
from phi_platform.db.models import Industry, RoleTemplate, Tool
from phi_service.deps import SessionDep
from phi_service.errors import NotFound

router = APIRouter(tags=["catalog"])


@router.get("/industries", response_model=list[IndustryOut])
async def list_industries(session: SessionDep) -> list[IndustryOut]:
    rows = await session.scalars(select(Industry).order_by(Industry.name))
    return [IndustryOut.model_validate(r) for r in rows]


@router.get("/role-templates", response_model=list[RoleTemplateOut])
async def list_role_templates(
    session: SessionDep,
    industry_key: Annotated[str | None, Query(max_length=100)] = None,
) -> list[RoleTemplateOut]:
    """Role templates, optionally only those of one industry (by its key, e.g. logistics)."""
    stmt = select(RoleTemplate, Industry.key).join(
        Industry, Industry.id == RoleTemplate.industry_id
    )
    if industry_key is not None:
        exists = await session.scalar(select(Industry.id).where(Industry.key == industry_key))
        if exists is None:
            raise NotFound(f"no industry with key {industry_key!r}; see GET /industries")
        stmt = stmt.where(Industry.key == industry_key)
    rows = await session.execute(stmt.order_by(Industry.key, RoleTemplate.name))
    return [
        RoleTemplateOut(
            id=r.id,
            industry_id=r.industry_id,
            industry_key=ikey,
            key=r.key,
            name=r.name,
            description=r.description,
            default_capabilities=r.default_capabilities or [],
            default_tools=r.default_tools or [],
            example_tasks=r.example_tasks or [],
        )
        for r, ikey in rows
    ]


@router.get("/tools", response_model=list[ToolOut])
async def list_tools(session: SessionDep) -> list[ToolOut]:
    """Tools an agent can use, each with the JSON Schema of its settings."""
    rows = await session.scalars(select(Tool).order_by(Tool.key))
    return [
        ToolOut(
            id=t.id,
            key=t.key,
            name=t.name,
            description=t.description,
            available=t.available,
            config_schema=t.config_schema or {"type": "object"},
            default_config=t.default_config or {},
        )
        for t in rows
    ]
