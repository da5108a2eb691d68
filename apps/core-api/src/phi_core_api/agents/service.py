"""Agents of an organization and the tools they may use."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import procrastinate
from jsonschema import Draft202012Validator
from psycopg.rows import dict_row
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_core_api.agents.schemas import AgentIn, AgentPatch, AgentToolIn
from phi_core_api.documents import file_cleanup
from phi_platform.db.models import Agent, AgentTool, RoleTemplate, Tool
from phi_service.audit import Actor, Target, record_event
from phi_service.db import Database
from phi_service.deps import ACCOUNT_GONE, OrgAccess
from phi_service.errors import InvalidInput, NotFound, Unauthorized


def validate_tool_config(tool: Tool, config: dict[str, Any]) -> None:
    """Check settings against the tool's JSON Schema; the message names each bad field."""
    schema = tool.config_schema or {"type": "object"}
    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: e.path)
    if errors:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors[:5]
        )
        raise InvalidInput(f"settings for tool '{tool.key}' are invalid: {problems}")


async def _tools_by_id(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Tool]:
    found = {t.id: t for t in await session.scalars(select(Tool).where(Tool.id.in_(ids)))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"unknown tool ids: {', '.join(missing)}; see GET /tools")
    unavailable = [t.key for t in found.values() if not t.available]
    if unavailable:
        raise InvalidInput(f"tools not yet available: {', '.join(sorted(unavailable))}")
    return found


async def create_agent(session: AsyncSession, access: OrgAccess, data: AgentIn) -> Agent:
    access.require_write()
    role = await session.get(RoleTemplate, data.role_template_id)
    if role is None:
        raise InvalidInput("unknown role_template_id; see GET /role-templates")
    if role.industry_id != data.industry_id:
        raise InvalidInput("role_template_id does not belong to industry_id")
    if data.tool_ids is None:
        default_keys = role.default_tools or []
        tools = list(
            await session.scalars(
                select(Tool).where(Tool.key.in_(default_keys), Tool.available.is_(True))
            )
        )
    else:
        ids = list(dict.fromkeys(data.tool_ids))
        tools = list((await _tools_by_id(session, ids)).values())
    agent = Agent(
        org_id=access.org_id,
        industry_id=data.industry_id,
        role_template_id=data.role_template_id,
        name=data.name,
        config=data.config or {},
    )
    session.add(agent)
    await session.flush()
    for tool in tools:
        session.add(AgentTool(agent_id=agent.id, tool_id=tool.id, config=tool.default_config or {}))
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "agent.created",
        Target("agent", agent.id, agent.name),
        name=agent.name,
        role_template=role.key,
        tools=sorted(t.key for t in tools),
    )
    await session.commit()
    return agent


# psycopg placeholders: this query runs on a driver connection directly (see list_agents_json).
# Columns in AgentSummary's order, so the listing's JSON reads like the other agent routes'.
LIST_AGENTS_SQL = """
    SELECT m.role, a.id, a.org_id, a.industry_id, a.role_template_id, a.name, a.status,
           COALESCE((SELECT array_agg(t.key ORDER BY t.key) FROM agent_tools at
                     JOIN tools t ON t.id = at.tool_id WHERE at.agent_id = a.id), '{}')
             AS tool_keys,
           a.created_at, a.updated_at
    FROM organization_members m
    LEFT JOIN LATERAL (
        SELECT * FROM agents WHERE agents.org_id = m.org_id
        ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s
    ) a ON true
    WHERE m.org_id = %(org_id)s AND m.user_id = %(user_id)s
"""


async def list_agents_json(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, limit: int, offset: int
) -> bytes:
    """The org's agents as the JSON list of ``AgentSummary``; membership checked in the same
    statement (no row: not a member, 404).

    The busiest read of the API (bench/agents_list.py): one autocommit statement on a pooled
    driver connection, no ORM session, rows straight to JSON with orjson. The rows come from
    our own tables through the query above, so validating them again would prove nothing;
    ``test_listing_json_matches_the_agent_schema`` keeps the output equal to the schema's.
    """
    async with db.single_statement() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            LIST_AGENTS_SQL,
            {"org_id": org_id, "user_id": user_id, "limit": limit, "offset": offset},
        )
        rows = await cur.fetchall()
        if not rows:
            # the route skipped the account check (TokenUserId): a deleted account is 401 here
            await cur.execute("SELECT 1 FROM users WHERE id = %s", (user_id,))
            if await cur.fetchone() is None:
                raise Unauthorized(ACCOUNT_GONE)
            raise NotFound("organization not found")
    for row in rows:
        del row["role"]
    return orjson.dumps([r for r in rows if r["id"] is not None], option=orjson.OPT_UTC_Z)


async def agent_tools(session: AsyncSession, agent_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(AgentTool, Tool)
        .join(Tool, Tool.id == AgentTool.tool_id)
        .where(AgentTool.agent_id == agent_id)
        .order_by(Tool.key)
    )
    return [
        {"tool_id": t.id, "key": t.key, "name": t.name, "config": at.config or {}} for at, t in rows
    ]


async def agent_out(session: AsyncSession, agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "org_id": agent.org_id,
        "industry_id": agent.industry_id,
        "role_template_id": agent.role_template_id,
        "name": agent.name,
        "status": agent.status,
        "system_prompt": agent.system_prompt,
        "config": agent.config or {},
        "tools": await agent_tools(session, agent.id),
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


async def _replace_tools(
    session: AsyncSession, agent: Agent, wanted: list[AgentToolIn]
) -> tuple[list[str], list[str]]:
    """Replace the agent's tools; returns the keys added and removed."""
    before = set(
        await session.scalars(
            select(Tool.key)
            .join(AgentTool, AgentTool.tool_id == Tool.id)
            .where(AgentTool.agent_id == agent.id)
        )
    )
    ids = [t.tool_id for t in wanted]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a tool appears more than once in tools")
    tools = await _tools_by_id(session, ids)
    rows = []
    for item in wanted:
        tool = tools[item.tool_id]
        config = item.config if item.config is not None else (tool.default_config or {})
        validate_tool_config(tool, config)
        rows.append(AgentTool(agent_id=agent.id, tool_id=tool.id, config=config))
    # Validation is complete before anything is removed, so a bad request changes nothing.
    await session.execute(delete(AgentTool).where(AgentTool.agent_id == agent.id))
    session.add_all(rows)
    after = {tools[item.tool_id].key for item in wanted}
    return sorted(after - before), sorted(before - after)


async def update_agent(
    session: AsyncSession, access: OrgAccess, agent: Agent, data: AgentPatch
) -> Agent:
    fields = data.model_dump(exclude_unset=True)
    for key in ("name", "status"):
        if fields.get(key) is not None:
            setattr(agent, key, fields[key])
    if "system_prompt" in fields:
        agent.system_prompt = fields["system_prompt"]
    if "config" in fields:
        agent.config = fields["config"] or {}
    if data.tools is not None:
        added, removed = await _replace_tools(session, agent, data.tools)
        if added or removed:
            await record_event(
                session,
                access.org_id,
                Actor.user(access.user_id),
                "agent.tools_changed",
                Target("agent", agent.id, agent.name),
                added=added,
                removed=removed,
            )
    await session.commit()
    await session.refresh(agent)
    return agent


async def delete_agent(
    session: AsyncSession, jobs: procrastinate.App, access: OrgAccess, agent: Agent
) -> None:
    """Delete the agent (its documents go by cascade), then queue removing their files."""
    keys = await file_cleanup.file_keys(session, agent.org_id, agent.id)
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "agent.deleted",
        Target("agent", agent.id, agent.name),
        name=agent.name,
    )
    await session.delete(agent)
    await session.commit()
    await file_cleanup.remove_after_commit(jobs, keys)
