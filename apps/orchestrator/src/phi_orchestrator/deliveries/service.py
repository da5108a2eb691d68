"""deliver_to: an agent's destinations per workflow type (API side), and a task's deliveries."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from phi_agent_config.workflows import WORKFLOW_TYPES
from phi_orchestrator.deliveries.addresses import (
    AddressRefused,
    allowed_networks,
    resolve_webhook,
)
from phi_orchestrator.deliveries.schemas import DestinationIn
from phi_platform.db.models import Delivery, DeliveryAttempt, DeliveryDestination
from phi_service.errors import Conflict, InvalidInput, NotFound

MAX_DESTINATIONS_PER_AGENT = 50


async def list_destinations(session: AsyncSession, agent_id: uuid.UUID) -> list[Any]:
    rows = await session.scalars(
        select(DeliveryDestination)
        .where(DeliveryDestination.agent_id == agent_id)
        .order_by(DeliveryDestination.workflow_type, DeliveryDestination.created_at)
    )
    return list(rows)


async def add_destination(
    session: AsyncSession,
    agent: Any,
    user_id: uuid.UUID,
    body: DestinationIn,
    webhook_networks: str,
) -> DeliveryDestination:
    if body.workflow_type not in WORKFLOW_TYPES:
        known = ", ".join(sorted(WORKFLOW_TYPES))
        raise InvalidInput(f"unknown workflow type '{body.workflow_type}'; known types: {known}")
    count = await session.scalar(
        select(func.count()).where(DeliveryDestination.agent_id == agent.id)
    )
    if (count or 0) >= MAX_DESTINATIONS_PER_AGENT:
        raise Conflict(
            f"the agent already has {MAX_DESTINATIONS_PER_AGENT} destinations; remove one first"
        )
    fmt: str
    if body.webhook_url is not None:
        try:
            await resolve_webhook(body.webhook_url, allowed_networks(webhook_networks))
        except AddressRefused as exc:
            raise InvalidInput(f"webhook_url: {exc}") from None
        kind, target, fmt = "webhook", body.webhook_url, str(body.format)
        secret: str | None = "whsec_" + secrets.token_urlsafe(32)
    else:
        kind, target, fmt, secret = "email", str(body.email), "email", None
    destination = DeliveryDestination(
        org_id=agent.org_id,
        agent_id=agent.id,
        workflow_type=body.workflow_type,
        kind=kind,
        target=target,
        format=fmt,
        secret=secret,
        created_by=user_id,
    )
    session.add(destination)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            f"{target} already receives this agent's {body.workflow_type} results"
        ) from None
    await session.refresh(destination)
    await session.commit()
    return destination


async def remove_destination(
    session: AsyncSession, agent_id: uuid.UUID, destination_id: uuid.UUID
) -> None:
    result = await session.execute(
        delete(DeliveryDestination)
        .where(DeliveryDestination.id == destination_id, DeliveryDestination.agent_id == agent_id)
        .returning(DeliveryDestination.id)
    )
    if result.first() is None:
        raise NotFound("destination not found")
    await session.commit()


async def deliveries_of_task(session: AsyncSession, task_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = list(
        await session.scalars(
            select(Delivery).where(Delivery.task_id == task_id).order_by(Delivery.created_at)
        )
    )
    attempts = (
        list(
            await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id.in_([r.id for r in rows]))
                .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempt)
            )
        )
        if rows
        else []
    )
    out = []
    for row in rows:
        out.append(
            {
                **{
                    c: getattr(row, c)
                    for c in (
                        "id",
                        "destination_id",
                        "kind",
                        "target",
                        "format",
                        "status",
                        "attempts",
                        "next_attempt_at",
                        "delivered_at",
                        "last_error",
                    )
                },
                "attempt_log": [
                    {
                        c: getattr(a, c)
                        for c in (
                            "attempt",
                            "started_at",
                            "finished_at",
                            "outcome",
                            "status_code",
                            "error",
                        )
                    }
                    for a in attempts
                    if a.delivery_id == row.id
                ],
            }
        )
    return out
