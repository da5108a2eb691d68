"""A local agent's refusal summary (sent on its heartbeat) into the organization's audit log:
one ``local_agent.refused`` event per tool and reason, in the heartbeat's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_orchestrator.local_agents.auth import AgentKey
from phi_orchestrator.local_agents.schemas import RefusalReport
from phi_platform.db.models import Agent
from phi_service.audit import Actor, Target, record_event


async def record_refusals(
    session: AsyncSession,
    key: AgentKey,
    local_agent_id: uuid.UUID,
    local_agent_name: str,
    refusals: list[RefusalReport],
) -> None:
    if not refusals:
        return
    agent_name = await session.scalar(select(Agent.name).where(Agent.id == key.agent_id))
    actor = Actor.local_agent(local_agent_id, local_agent_name)
    target = Target("local_agent", local_agent_id, local_agent_name)
    for item in refusals:
        await record_event(
            session,
            key.org_id,
            actor,
            "local_agent.refused",
            target,
            tool=item.tool,
            reason=item.reason,
            count=item.count,
            first_at=item.first_at.isoformat(),
            last_at=item.last_at.isoformat(),
            agent_id=key.agent_id,
            agent_name=agent_name,
        )
