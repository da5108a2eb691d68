"""Request dependencies shared by the HTTP services: settings, database session, the caller,
and tenant access checks.

Every org-scoped resource is reached through :func:`org_access` or :func:`agent_access`,
which look the caller's membership up in the same query as the resource and answer 404 to
non-members, so an outsider cannot even learn that an organization or agent exists.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_platform.db.models import Agent, OrganizationMember, User
from phi_platform.settings import PlatformSettings
from phi_service.db import Database
from phi_service.errors import Forbidden, NotFound, Unauthorized
from phi_service.observability import bind
from phi_service.tokens import VerifiedTokens


def get_settings_dep(request: Request) -> PlatformSettings:
    """The service's settings object (``app.state.settings``)."""
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_database(request: Request) -> Database:
    """The service's database (``app.state.db``), for reads that need no ORM session.

    ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in its
    thread pool, a thread hand-off per request (2 % of the listing's CPU)."""
    return request.app.state.db  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_database)]

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /auth/login")


def _token_user_id(request: Request, credentials: HTTPAuthorizationCredentials | None) -> uuid.UUID:
    if credentials is None:
        raise Unauthorized("missing bearer token: log in with POST /auth/login")
    user_id = _verified_tokens(request).user_id(credentials.credentials)
    if user_id is None:
        raise Unauthorized("invalid or expired token: log in again")
    return user_id


def _verified_tokens(request: Request) -> VerifiedTokens:
    """The app's cache of checked tokens, made on first use with the service's secret."""
    state = request.app.state
    tokens: VerifiedTokens | None = getattr(state, "verified_tokens", None)
    if tokens is None:
        tokens = state.verified_tokens = VerifiedTokens(
            get_settings_dep(request).resolved_jwt_secret
        )
    return tokens


ACCOUNT_GONE = "the account behind this token no longer exists"


async def require_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    """401 when the account behind a valid token no longer exists."""
    if await session.scalar(select(User.id).where(User.id == user_id)) is None:
        raise Unauthorized(ACCOUNT_GONE)


async def get_token_user_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    """The caller's id from a valid token, without the account-exists round trip.

    Only for routes whose own query joins the caller's membership (memberships are deleted
    with the account, so a hit proves the account exists) and that look the account up (as
    ``require_account`` does) when that query finds nothing, so a deleted account still gets
    401, not 404. Saves one
    database round trip on the busiest reads (docs/benchmarks.md, issue 24)."""
    user_id = _token_user_id(request, credentials)
    bind(user_id=user_id)
    return user_id


TokenUserId = Annotated[uuid.UUID, Depends(get_token_user_id)]


async def get_current_user_id(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: SessionDep,
) -> uuid.UUID:
    """The caller's account id, from a valid token of an account that still exists.

    Every authenticated route depends on this, so a deleted account's unexpired tokens are
    refused everywhere (401), not only where a later query happens to miss the account."""
    user_id = _token_user_id(request, credentials)
    await require_account(session, user_id)
    bind(user_id=user_id)
    return user_id


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    user = await session.get(User, user_id)
    if user is None:  # deleted between the two statements
        raise Unauthorized(ACCOUNT_GONE)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

WRITE_ROLES = ("OWNER", "ADMIN")


@dataclass(frozen=True)
class OrgAccess:
    org_id: uuid.UUID
    user_id: uuid.UUID
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden(f"your role in this organization is {self.role}; OWNER or ADMIN needed")


async def org_access(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> OrgAccess:
    """The caller's membership of ``org_id``; 404 for non-members so orgs cannot be probed."""
    role = await session.scalar(
        select(OrganizationMember.role).where(
            OrganizationMember.org_id == org_id, OrganizationMember.user_id == user_id
        )
    )
    if role is None:
        raise NotFound("organization not found")
    bind(org_id=org_id)  # the request's log lines (and jobs it queues) name the org
    return OrgAccess(org_id=org_id, user_id=user_id, role=role)


async def agent_access(
    session: AsyncSession, agent_id: uuid.UUID, user_id: uuid.UUID, *, write: bool = False
) -> tuple[Agent, OrgAccess]:
    """The agent and the caller's membership of its org, in one query; 404 for non-members."""
    agent, access, _ = await agent_access_reading(session, agent_id, user_id, write=write)
    return agent, access


async def agent_access_reading(
    session: AsyncSession,
    agent_id: uuid.UUID,
    user_id: uuid.UUID,
    *extra: ColumnElement[Any],
    write: bool = False,
) -> tuple[Agent, OrgAccess, tuple[Any, ...]]:
    """:func:`agent_access` that also reads ``extra`` (scalar subqueries or columns of the
    agent's row, e.g. its organization's time zone) in the same query: their values, in
    order, come third."""
    row = (
        await session.execute(
            select(Agent, OrganizationMember.role, *extra)
            .join(OrganizationMember, OrganizationMember.org_id == Agent.org_id)
            .where(Agent.id == agent_id, OrganizationMember.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound("agent not found")
    agent, role, *values = row
    bind(org_id=agent.org_id, agent_id=agent.id)
    access = OrgAccess(org_id=agent.org_id, user_id=user_id, role=role)
    if write:
        access.require_write()
    return agent, access, tuple(values)
