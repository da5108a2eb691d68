"""deliver_to: an agent's destinations per workflow type (API side), and a task's deliveries."""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

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
from phi_platform.secret_box import SecretBox
from phi_service.audit import Actor, Target, record_event
from phi_service.errors import Conflict, InvalidInput, NotFound

MAX_DESTINATIONS_PER_AGENT = 50


def _target(destination: Any) -> Target:
    """The destination as an audit target: an email address, or only a webhook's host (its
    path may be a credential)."""
    label = destination.target
    if destination.kind == "webhook":
        label = urlsplit(destination.target).hostname or "webhook"
    return Target("delivery_destination", destination.id, label)


async def _audit(
    session: AsyncSession, agent: Any, user_id: uuid.UUID, action: str, destination: Any
) -> None:
    details: dict[str, Any] = {
        "workflow_type": destination.workflow_type,
        "kind": destination.kind,
        "agent_id": agent.id,
        "agent_name": agent.name,
    }
    if action != "delivery_destination.secret_rotated":
        details["format"] = destination.format
    await record_event(
        session, agent.org_id, Actor.user(user_id), action, _target(destination), **details
    )


async def list_destinations(session: AsyncSession, agent_id: uuid.UUID) -> list[Any]:
    rows = await session.scalars(
        select(DeliveryDestination)
        .where(DeliveryDestination.agent_id == agent_id)
        .order_by(DeliveryDestination.workflow_type, DeliveryDestination.created_at)
    )
    return list(rows)


def new_webhook_secret() -> str:
    """A webhook's signing secret: shown once, stored only encrypted."""
    return "whsec_" + secrets.token_urlsafe(32)


async def add_destination(
    session: AsyncSession,
    agent: Any,
    user_id: uuid.UUID,
    body: DestinationIn,
    webhook_networks: str,
    box: SecretBox,
) -> tuple[DeliveryDestination, str | None]:
    """The new destination, and its signing secret in clear (webhooks; None for email) to
    show this once."""
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
        secret: str | None = new_webhook_secret()
    else:
        kind, target, fmt, secret = "email", str(body.email), "email", None
    destination = DeliveryDestination(
        org_id=agent.org_id,
        agent_id=agent.id,
        workflow_type=body.workflow_type,
        kind=kind,
        target=target,
        format=fmt,
        secret_encrypted=box.seal(secret) if secret else None,
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
    await _audit(session, agent, user_id, "delivery_destination.created", destination)
    await session.commit()
    return destination, secret


async def current_secret(
    session: AsyncSession, agent_id: uuid.UUID, destination_id: uuid.UUID, box: SecretBox
) -> str | None:
    """The destination's signing secret now ("" for an email destination); None when the
    agent has no such destination any more."""
    row = await session.scalar(
        select(DeliveryDestination).where(
            DeliveryDestination.id == destination_id, DeliveryDestination.agent_id == agent_id
        )
    )
    if row is None:
        return None
    return box.open(row.secret_encrypted) if row.secret_encrypted else ""


async def rotate_secret(
    session: AsyncSession, agent: Any, user_id: uuid.UUID, destination_id: uuid.UUID, box: SecretBox
) -> tuple[DeliveryDestination, str]:
    """Give a webhook a new signing secret (returned in clear, to show once); the old one
    signs nothing from now on, retries of earlier deliveries included."""
    destination = await session.scalar(
        select(DeliveryDestination)
        .where(DeliveryDestination.id == destination_id, DeliveryDestination.agent_id == agent.id)
        .with_for_update()
    )
    if destination is None:
        raise NotFound("destination not found")
    if destination.kind != "webhook":
        raise Conflict(
            f"{destination.target} is an email destination: only webhooks have a signing secret"
        )
    secret = new_webhook_secret()
    destination.secret_encrypted = box.seal(secret)
    await session.flush()
    await _audit(session, agent, user_id, "delivery_destination.secret_rotated", destination)
    await session.commit()
    return destination, secret


async def remove_destination(
    session: AsyncSession, agent: Any, user_id: uuid.UUID, destination_id: uuid.UUID
) -> None:
    result = await session.execute(
        delete(DeliveryDestination)
        .where(DeliveryDestination.id == destination_id, DeliveryDestination.agent_id == agent.id)
        .returning(
            DeliveryDestination.id,
            DeliveryDestination.workflow_type,
            DeliveryDestination.kind,
            DeliveryDestination.target,
            DeliveryDestination.format,
        )
    )
    removed = result.first()
    if removed is None:
        raise NotFound("destination not found")
    await _audit(session, agent, user_id, "delivery_destination.deleted", removed)
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
