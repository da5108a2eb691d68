"""Invitations to organizations: an OWNER/ADMIN invites an email; the account with that email
accepts (and becomes a member with the invited role) or declines.

Inviting answers the same whether or not an account uses the email, so the route cannot be
used to learn who has an account, and nobody is put into an organization without saying yes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from phi_core_api.auth.service import normalize_email
from phi_core_api.invitations.schemas import InvitationIn
from phi_core_api.orgs.service import check_can_grant, org_out
from phi_platform.db.models import (
    Organization,
    OrganizationInvitation,
    OrganizationMember,
    User,
)
from phi_service.audit import Actor, Target, record_event
from phi_service.deps import OrgAccess
from phi_service.errors import Conflict, NotFound

# How long an invitation stays open; inviting again renews it.
INVITATION_TTL = timedelta(days=14)


def _out(inv: OrganizationInvitation) -> dict[str, Any]:
    return {
        "id": inv.id,
        "org_id": inv.org_id,
        "email": inv.email,
        "role": inv.role,
        "invited_by": inv.invited_by,
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
    }


async def invite(session: AsyncSession, access: OrgAccess, data: InvitationIn) -> dict[str, Any]:
    """Open (or renew) the invitation of ``data.email``. Only a current member is refused
    (409): the inviter can see the member list anyway; whether an account uses the email
    changes nothing in the answer."""
    check_can_grant(access, data.role)
    email = normalize_email(data.email)
    member_role = await session.scalar(
        select(OrganizationMember.role)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.org_id == access.org_id, func.lower(User.email) == email)
    )
    if member_role is not None:
        raise Conflict(f"{email} is already a member (role {member_role})")
    values = {
        "org_id": access.org_id,
        "email": email,
        "role": data.role,
        "invited_by": access.user_id,
        "created_at": func.now(),
        "expires_at": func.now() + INVITATION_TTL,
    }
    insert_stmt = insert(OrganizationInvitation).values(**values)
    upsert = insert_stmt.on_conflict_do_update(
        constraint="uq_org_invitation_email",
        set_={
            k: insert_stmt.excluded[k] for k in ("role", "invited_by", "created_at", "expires_at")
        },
    ).returning(OrganizationInvitation)
    invitation = (
        await session.scalars(upsert, execution_options={"populate_existing": True})
    ).one()
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "member.invited",
        Target("invitation", invitation.id, email),
        email=email,
        role=data.role,
    )
    await session.commit()
    return _out(invitation)


async def list_for_org(session: AsyncSession, access: OrgAccess) -> list[dict[str, Any]]:
    access.require_write()
    rows = await session.scalars(
        select(OrganizationInvitation)
        .where(
            OrganizationInvitation.org_id == access.org_id,
            OrganizationInvitation.expires_at > func.now(),
        )
        .order_by(OrganizationInvitation.created_at, OrganizationInvitation.id)
    )
    return [_out(inv) for inv in rows]


async def revoke(session: AsyncSession, access: OrgAccess, invitation_id: uuid.UUID) -> None:
    access.require_write()
    gone = await session.scalar(
        delete(OrganizationInvitation)
        .where(
            OrganizationInvitation.id == invitation_id,
            OrganizationInvitation.org_id == access.org_id,
        )
        .returning(OrganizationInvitation.email)
    )
    if gone is None:
        raise NotFound("invitation not found")
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "member.invitation_revoked",
        Target("invitation", invitation_id, gone),
        email=gone,
    )
    await session.commit()


async def list_mine(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    inviter = User.__table__.alias("inviter")
    rows = await session.execute(
        select(OrganizationInvitation, Organization.name, inviter.c.email)
        .join(Organization, Organization.id == OrganizationInvitation.org_id)
        .outerjoin(inviter, inviter.c.id == OrganizationInvitation.invited_by)
        .where(
            OrganizationInvitation.email == normalize_email(user.email),
            OrganizationInvitation.expires_at > func.now(),
        )
        .order_by(OrganizationInvitation.created_at, OrganizationInvitation.id)
    )
    return [
        {
            "id": inv.id,
            "org_id": inv.org_id,
            "org_name": org_name,
            "role": inv.role,
            "invited_by_email": inviter_email,
            "created_at": inv.created_at,
            "expires_at": inv.expires_at,
        }
        for inv, org_name, inviter_email in rows
    ]


async def _take_mine(
    session: AsyncSession, user: User, invitation_id: uuid.UUID
) -> OrganizationInvitation:
    """Remove and return an open invitation addressed to the caller; 404 for any other (not
    theirs, expired, already answered), so invitations cannot be probed."""
    invitation = await session.scalar(
        delete(OrganizationInvitation)
        .where(
            OrganizationInvitation.id == invitation_id,
            OrganizationInvitation.email == normalize_email(user.email),
            OrganizationInvitation.expires_at > func.now(),
        )
        .returning(OrganizationInvitation)
    )
    if invitation is None:
        raise NotFound("invitation not found")
    return invitation


async def accept(session: AsyncSession, user: User, invitation_id: uuid.UUID) -> dict[str, Any]:
    """Join the organization with the invited role (keeping a role already held)."""
    invitation = await _take_mine(session, user, invitation_id)
    joined = await session.scalar(
        insert(OrganizationMember)
        .values(org_id=invitation.org_id, user_id=user.id, role=invitation.role)
        .on_conflict_do_nothing(constraint="uq_org_member")
        .returning(OrganizationMember.role)
    )
    if joined is not None:
        await record_event(
            session,
            invitation.org_id,
            Actor.user(user.id, user.email),
            "member.joined",
            Target("user", user.id, user.email),
            email=user.email,
            role=joined,
        )
    row = (
        await session.execute(
            select(Organization, OrganizationMember.role)
            .join(OrganizationMember, OrganizationMember.org_id == Organization.id)
            .where(Organization.id == invitation.org_id, OrganizationMember.user_id == user.id)
        )
    ).one()
    await session.commit()
    return org_out(row[0], row[1])


async def decline(session: AsyncSession, user: User, invitation_id: uuid.UUID) -> None:
    await _take_mine(session, user, invitation_id)
    await session.commit()
