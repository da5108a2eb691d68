"""Writing audit events: one INSERT in the caller's transaction, so a change that rolls back
takes its event with it and an event never exists without its change."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, cast

from psycopg import AsyncConnection as PsycopgConnection
from psycopg.types.json import Jsonb
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from phi_platform.db.models import AuditEvent, User
from phi_service.audit.actions import ACTIONS
from phi_service.observability import client_address, current_fields

MAX_TEXT = 200
MAX_LIST = 50
# Shapes of the platform's own credentials: a second net under the whitelist, for a value put
# in an allowed field by mistake (a key pasted as a key's name).
_SECRET_SHAPES = re.compile(
    r"phia_[0-9a-f]{32}_"  # a whole local-agent key (the public prefix is phia_ + 8 hex)
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\."  # a JWT
    r"|whsec_[A-Za-z0-9_-]{16}"  # a webhook signing secret
    r"|\$argon2|\$2[aby]\$"  # a password hash
)

DbConnection = AsyncSession | AsyncConnection | PsycopgConnection[Any]


class AuditDetailRefused(ValueError):
    """A detail that the action's whitelist does not allow (a programming error)."""


@dataclass(frozen=True)
class Actor:
    """Who did it. ``label`` is kept as it was (an email, a local agent's name), so the line
    still reads right after the user or agent is gone; for users it is looked up when left
    out."""

    type: str
    id: uuid.UUID | None = None
    label: str | None = None

    @classmethod
    def user(cls, user_id: uuid.UUID, email: str | None = None) -> Actor:
        return cls("user", user_id, email)

    @classmethod
    def platform_admin(cls, user_id: uuid.UUID, email: str | None = None) -> Actor:
        return cls("platform_admin", user_id, email)

    @classmethod
    def local_agent(cls, local_agent_id: uuid.UUID | None, name: str | None) -> Actor:
        return cls("local_agent", local_agent_id, name)

    @classmethod
    def schedule(cls, agent_id: uuid.UUID, label: str | None = None) -> Actor:
        """A run started by an agent's schedule (``id`` is the agent's)."""
        return cls("schedule", agent_id, label)

    @classmethod
    def task(cls, task_id: uuid.UUID, label: str | None = None) -> Actor:
        """A task acting on its own (an agent task's tool call, a report keeping its day);
        ``label`` says whose agent and who started it."""
        return cls("task", task_id, label)

    @classmethod
    def system(cls) -> Actor:
        """The platform itself (an approval nobody decided in time)."""
        return cls("system")

    @classmethod
    def anonymous(cls) -> Actor:
        """Someone not signed in (a failed sign-in); the client address says from where."""
        return cls("anonymous")


@dataclass(frozen=True)
class Target:
    type: str
    id: uuid.UUID | str | None
    label: str | None = None


_INSERT = (
    insert(cast(Table, AuditEvent.__table__))
    .inline()
    .values(
        org_id=bindparam("org_id"),
        actor_type=bindparam("actor_type"),
        actor_id=bindparam("actor_id"),
        actor_label=bindparam("actor_label"),
        action=bindparam("action"),
        target_type=bindparam("target_type"),
        target_id=bindparam("target_id"),
        target_label=bindparam("target_label"),
        details=bindparam("details"),
        request_id=bindparam("request_id"),
        client_address=bindparam("client_address"),
    )
)
_INSERT_PSYCOPG = str(_INSERT.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


def _clean_scalar(action: str, field: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        if _SECRET_SHAPES.search(value):
            raise AuditDetailRefused(f"{action}.{field} looks like a credential")
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    raise AuditDetailRefused(f"{action}.{field}: {type(value).__name__} is not a plain value")


def _clean_value(action: str, field: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        if len(value) > MAX_LIST:
            raise AuditDetailRefused(f"{action}.{field} lists more than {MAX_LIST} values")
        return [_clean_scalar(action, field, v) for v in value]
    if isinstance(value, dict):
        if not set(value) <= {"from", "to"}:
            raise AuditDetailRefused(f"{action}.{field} may only be a from/to pair")
        return {k: _clean_scalar(action, field, v) for k, v in value.items()}
    return _clean_scalar(action, field, value)


def clean_details(action: str, details: dict[str, Any]) -> dict[str, Any]:
    """The details as stored: only the action's whitelisted fields, plain short values."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise AuditDetailRefused(f"unknown audit action {action!r}: add it to ACTIONS")
    unknown = set(details) - spec.fields
    if unknown:
        raise AuditDetailRefused(
            f"{action} may not carry {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(sorted(spec.fields)) or 'nothing'}"
        )
    return {k: _clean_value(action, k, v) for k, v in details.items() if v is not None}


async def record_event(
    conn: DbConnection,
    org_id: uuid.UUID,
    actor: Actor,
    action: str,
    target: Target | None = None,
    **details: Any,
) -> None:
    """Append one event to ``org_id``'s audit log in the caller's transaction (the caller
    commits). The request id and client address are taken from the current request.

    Raises :class:`AuditDetailRefused` for an unknown action or a detail outside its
    whitelist, before anything is written.
    """
    stored = clean_details(action, details)
    if target is not None and ACTIONS[action].target_type not in (None, target.type):
        raise AuditDetailRefused(
            f"{action} targets {ACTIONS[action].target_type}, not {target.type}"
        )
    label = actor.label
    if label is None and actor.id is not None and actor.type in ("user", "platform_admin"):
        label = await _email_of(conn, actor.id)
    params: dict[str, Any] = {
        "org_id": org_id,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_label": _clean_scalar(action, "actor", label),
        "action": action,
        "target_type": target.type if target else None,
        "target_id": str(target.id) if target and target.id is not None else None,
        "target_label": _clean_scalar(action, "target", target.label) if target else None,
        "details": stored,
        "request_id": current_fields().get("request_id"),
        "client_address": client_address(),
    }
    if isinstance(conn, PsycopgConnection):
        await conn.execute(_INSERT_PSYCOPG, {**params, "details": Jsonb(stored)})
    else:
        await conn.execute(_INSERT, params)


async def _email_of(conn: DbConnection, user_id: uuid.UUID) -> str | None:
    if isinstance(conn, PsycopgConnection):
        cur = await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        return str(row["email"] if isinstance(row, dict) else row[0])
    result = await conn.execute(select(User.email).where(User.id == user_id))
    return result.scalar_one_or_none()
