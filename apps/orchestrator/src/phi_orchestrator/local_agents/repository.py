"""Local agents and their keys (tables ``local_agents`` and ``local_agent_keys``, models
``phi_platform.db.models.LocalAgent`` and ``LocalAgentKey``): every statement on them, run
in the caller's transaction on its SQLAlchemy session (the caller commits).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from phi_platform.db.models import LocalAgent, LocalAgentKey

# A key's last use is written at most once in this long, not on every long poll.
KEY_TOUCH_SECONDS = 60

# Keys.


async def create_key(
    session: AsyncSession,
    *,
    key_id: uuid.UUID,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    name: str,
    prefix: str,
    secret_sha256: bytes,
    created_by: uuid.UUID,
) -> datetime:
    """Store a new key (only its secret's hash); returns its creation time."""
    return (
        await session.execute(
            insert(LocalAgentKey)
            .values(
                id=key_id,
                org_id=org_id,
                agent_id=agent_id,
                name=name,
                prefix=prefix,
                secret_sha256=secret_sha256,
                created_by=created_by,
            )
            .returning(LocalAgentKey.created_at)
        )
    ).scalar_one()


async def keys_of_agent(session: AsyncSession, agent_id: uuid.UUID) -> list[dict[str, Any]]:
    """The agent's keys, oldest first, without their hashes."""
    rows = (
        await session.execute(
            select(
                LocalAgentKey.id,
                LocalAgentKey.name,
                LocalAgentKey.prefix,
                LocalAgentKey.created_at,
                LocalAgentKey.last_used_at,
                LocalAgentKey.revoked_at,
            )
            .where(LocalAgentKey.agent_id == agent_id)
            .order_by(LocalAgentKey.created_at)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def revoke_key(session: AsyncSession, agent_id: uuid.UUID, key_id: uuid.UUID) -> Any:
    """Revoke the agent's key (a second revoke keeps the first time): its ``name``,
    ``prefix`` and ``newly`` (False when it was revoked already), or None if the agent has
    no such key."""
    # The row as it was before this statement (a self-join of the same snapshot) says
    # whether this call is the one that revoked it.
    before = LocalAgentKey.__table__.alias("before")
    return (
        await session.execute(
            update(LocalAgentKey)
            .where(
                LocalAgentKey.id == key_id,
                LocalAgentKey.agent_id == agent_id,
                before.c.id == LocalAgentKey.id,
            )
            .values(revoked_at=func.coalesce(LocalAgentKey.revoked_at, func.now()))
            .returning(
                LocalAgentKey.name,
                LocalAgentKey.prefix,
                before.c.revoked_at.is_(None).label("newly"),
            )
        )
    ).first()


async def key_for_auth(session: AsyncSession, key_id: uuid.UUID) -> Any:
    """agent_id, org_id, secret_sha256, revoked_at of the key (None if there is none), and
    ``stale``: whether its last use is unset or older than KEY_TOUCH_SECONDS."""
    return (
        await session.execute(
            select(
                LocalAgentKey.agent_id,
                LocalAgentKey.org_id,
                LocalAgentKey.secret_sha256,
                LocalAgentKey.revoked_at,
                or_(
                    LocalAgentKey.last_used_at.is_(None),
                    LocalAgentKey.last_used_at < func.now() - timedelta(seconds=KEY_TOUCH_SECONDS),
                ).label("stale"),
            ).where(LocalAgentKey.id == key_id)
        )
    ).first()


async def touch_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Record that the key was used now."""
    await session.execute(
        update(LocalAgentKey).where(LocalAgentKey.id == key_id).values(last_used_at=func.now())
    )


async def lock_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    """Lock the key's row until the transaction ends (one registration per key at a time)."""
    await session.execute(
        select(literal(1))
        .select_from(LocalAgentKey)
        .where(LocalAgentKey.id == key_id)
        .with_for_update()
    )


# Local agents.


async def of_agent(
    session: AsyncSession, agent_id: uuid.UUID, offline_after_seconds: float
) -> list[dict[str, Any]]:
    """The agent's local agents, oldest first; a local agent whose last heartbeat is older
    than ``offline_after_seconds`` shows as OFFLINE, one with a recent one as ACTIVE."""
    rows = (
        await session.execute(
            select(
                LocalAgent.id,
                LocalAgent.name,
                LocalAgent.host,
                LocalAgent.version,
                LocalAgent.tools,
                LocalAgent.last_heartbeat_at,
                LocalAgent.contract_check,
                case(
                    (LocalAgent.last_heartbeat_at.is_(None), LocalAgent.status),
                    (
                        LocalAgent.last_heartbeat_at
                        < func.now() - timedelta(seconds=offline_after_seconds),
                        "OFFLINE",
                    ),
                    else_="ACTIVE",
                ).label("status"),
            )
            .where(LocalAgent.agent_id == agent_id)
            .order_by(LocalAgent.created_at)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def owner_for_update(session: AsyncSession, local_agent_id: uuid.UUID) -> uuid.UUID | None:
    """The agent of the local agent, its row locked; None if there is no such local agent."""
    return (
        await session.execute(
            select(LocalAgent.agent_id).where(LocalAgent.id == local_agent_id).with_for_update()
        )
    ).scalar()


async def latest_of_name(session: AsyncSession, agent_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The agent's local agent of this name with the latest heartbeat, if any."""
    return (
        await session.execute(
            select(LocalAgent.id)
            .where(LocalAgent.agent_id == agent_id, LocalAgent.name == name)
            .order_by(LocalAgent.last_heartbeat_at.desc().nulls_last())
            .limit(1)
        )
    ).scalar()


async def record_heartbeat(session: AsyncSession, local_agent_id: uuid.UUID, **values: Any) -> None:
    """The local agent is ACTIVE with a heartbeat now; ``values`` are the columns it reported
    (host, version, tools, key_id and, when given, name and contract_check)."""
    await session.execute(
        update(LocalAgent)
        .where(LocalAgent.id == local_agent_id)
        .values(**values, status="ACTIVE", last_heartbeat_at=func.now())
    )


async def count_of_key(session: AsyncSession, key_id: uuid.UUID) -> int:
    """How many local agents registered with this key."""
    count = await session.scalar(
        select(func.count()).select_from(LocalAgent).where(LocalAgent.key_id == key_id)
    )
    return int(count or 0)


async def register(
    session: AsyncSession,
    *,
    agent_id: uuid.UUID,
    org_id: uuid.UUID,
    name: str,
    host: str | None,
    version: str | None,
    tools: list[str],
    key_id: uuid.UUID,
    contract_check: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    """A new ACTIVE local agent with a heartbeat now; returns its id."""
    return (
        await session.execute(
            insert(LocalAgent)
            .values(
                agent_id=agent_id,
                org_id=org_id,
                name=name,
                host=host,
                version=version,
                tools=tools,
                key_id=key_id,
                contract_check=contract_check,
                status="ACTIVE",
                last_heartbeat_at=func.now(),
            )
            .returning(LocalAgent.id)
        )
    ).scalar_one()


async def poll_target(session: AsyncSession, local_agent_id: uuid.UUID) -> Any:
    """agent_id and tools of the local agent, or None."""
    return (
        await session.execute(
            select(LocalAgent.agent_id, LocalAgent.tools).where(LocalAgent.id == local_agent_id)
        )
    ).first()
