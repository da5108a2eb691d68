"""Organizations and their members. Only OWNER/ADMIN manage; only an OWNER hands out OWNER."""

from __future__ import annotations

import uuid
from typing import Any

import procrastinate
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_core_api.documents import file_cleanup
from phi_core_api.orgs.schemas import OrgIn, OrgPatch
from phi_platform.db.models import Organization, OrganizationMember, User
from phi_service.audit import Actor, Target, record_event
from phi_service.db import retry_on_conflict
from phi_service.deps import OrgAccess
from phi_service.errors import Conflict, Forbidden, NotFound


def org_out(org: Organization, role: str) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "owner_user_id": org.owner_user_id,
        "monthly_token_budget": org.monthly_token_budget,
        "time_zone": org.time_zone,
        "created_at": org.created_at,
        "my_role": role,
    }


async def create_org(session: AsyncSession, user_id: uuid.UUID, data: OrgIn) -> Organization:
    org = Organization(name=data.name, owner_user_id=user_id)
    session.add(org)
    await session.flush()
    session.add(OrganizationMember(org_id=org.id, user_id=user_id, role="OWNER"))
    await record_event(
        session,
        org.id,
        Actor.user(user_id),
        "org.created",
        Target("organization", org.id, org.name),
        name=org.name,
    )
    await session.commit()
    return org


async def list_orgs(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Organization, OrganizationMember.role)
        .join(OrganizationMember, OrganizationMember.org_id == Organization.id)
        .where(OrganizationMember.user_id == user_id)
        .order_by(Organization.created_at)
    )
    return [org_out(org, role) for org, role in rows]


async def get_org(session: AsyncSession, access: OrgAccess) -> dict[str, Any]:
    org = await session.get(Organization, access.org_id)
    if org is None:
        raise NotFound("organization not found")
    return org_out(org, access.role)


async def update_org(session: AsyncSession, access: OrgAccess, data: OrgPatch) -> dict[str, Any]:
    access.require_write()
    org = await session.get(Organization, access.org_id)
    if org is None:
        raise NotFound("organization not found")
    fields = data.model_dump(exclude_unset=True)
    actor = Actor.user(access.user_id)
    target = Target("organization", org.id, org.name)
    if "monthly_token_budget" in fields and access.role != "OWNER":
        raise Forbidden("only an OWNER can change the token budget")
    if fields.get("name") is not None and fields["name"] != org.name:
        await record_event(
            session,
            org.id,
            actor,
            "org.renamed",
            target,
            name={"from": org.name, "to": fields["name"]},
        )
        org.name = fields["name"]
    budget = fields.get("monthly_token_budget")
    if "monthly_token_budget" in fields and budget != org.monthly_token_budget:
        await record_event(
            session,
            org.id,
            actor,
            "budget.changed",
            target,
            monthly_token_budget={
                "from": org.monthly_token_budget,
                "to": budget,
            },
        )
        org.monthly_token_budget = budget
    if fields.get("time_zone") is not None and fields["time_zone"] != org.time_zone:
        await record_event(
            session,
            org.id,
            actor,
            "org.settings_changed",
            target,
            time_zone={"from": org.time_zone, "to": fields["time_zone"]},
        )
        org.time_zone = fields["time_zone"]
    await session.commit()
    return org_out(org, access.role)


async def delete_org(session: AsyncSession, jobs: procrastinate.App, access: OrgAccess) -> None:
    """Delete the organization (its rows go by cascade), then queue removing its files."""
    if access.role != "OWNER":
        raise Forbidden("only an OWNER can delete the organization")

    async def delete() -> list[str] | None:
        org = await session.get(Organization, access.org_id, populate_existing=True)
        if org is None:
            return None
        keys = await file_cleanup.file_keys(session, access.org_id)
        # Kept after the org is gone (no foreign key): platform administrators see it.
        await record_event(
            session,
            org.id,
            Actor.user(access.user_id),
            "org.deleted",
            Target("organization", org.id, org.name),
            name=org.name,
        )
        await session.delete(org)
        await session.commit()
        return keys

    # The cascade locks the org row, then its documents; a worker ingesting one of them
    # holds the document and then wants the org row: PostgreSQL ends that deadlock by
    # aborting one side, and when it is this one the delete runs again.
    keys = await retry_on_conflict(session, delete)
    if keys is not None:
        await file_cleanup.remove_after_commit(jobs, keys, org_id=access.org_id)


def _member_out(m: OrganizationMember, u: User) -> dict[str, Any]:
    return {
        "user_id": u.id,
        "email": u.email,
        "name": u.name,
        "role": m.role,
        "joined_at": m.created_at,
    }


async def list_members(session: AsyncSession, access: OrgAccess) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(OrganizationMember, User)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.org_id == access.org_id)
        .order_by(OrganizationMember.created_at)
    )
    return [_member_out(m, u) for m, u in rows]


def check_can_grant(access: OrgAccess, role: str) -> None:
    """OWNER/ADMIN may give a role; only an OWNER may give OWNER."""
    access.require_write()
    if role == "OWNER" and access.role != "OWNER":
        raise Forbidden("only an OWNER can make someone an OWNER")


async def _member(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> tuple[OrganizationMember, User]:
    stmt = (
        select(OrganizationMember, User)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.org_id == org_id, OrganizationMember.user_id == user_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=OrganizationMember)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("no such member in this organization")
    return row[0], row[1]


async def _lock_owners(session: AsyncSession, org_id: uuid.UUID) -> int:
    # Locking the owner rows serialises concurrent demotions/removals of the last owners.
    owners = await session.scalars(
        select(OrganizationMember.id)
        .where(OrganizationMember.org_id == org_id, OrganizationMember.role == "OWNER")
        .with_for_update()
    )
    return len(list(owners))


async def change_role(
    session: AsyncSession, access: OrgAccess, user_id: uuid.UUID, role: str
) -> dict[str, Any]:
    check_can_grant(access, role)
    owner_count = await _lock_owners(session, access.org_id)
    member, user = await _member(session, access.org_id, user_id, lock=True)
    if member.role == "OWNER" and access.role != "OWNER":
        raise Forbidden("only an OWNER can change an OWNER's role")
    if member.role == "OWNER" and role != "OWNER" and owner_count <= 1:
        raise Conflict("this is the last OWNER; make someone else OWNER first")
    if member.role != role:
        await record_event(
            session,
            access.org_id,
            Actor.user(access.user_id),
            "member.role_changed",
            Target("user", user.id, user.email),
            email=user.email,
            role={"from": member.role, "to": role},
        )
    member.role = role
    await session.commit()
    return _member_out(member, user)


async def remove_member(session: AsyncSession, access: OrgAccess, user_id: uuid.UUID) -> None:
    leaving_self = user_id == access.user_id
    if not leaving_self:
        access.require_write()
    owner_count = await _lock_owners(session, access.org_id)
    member, user = await _member(session, access.org_id, user_id, lock=True)
    if member.role == "OWNER" and not leaving_self and access.role != "OWNER":
        raise Forbidden("only an OWNER can remove an OWNER")
    if member.role == "OWNER" and owner_count <= 1:
        raise Conflict("the last OWNER cannot be removed; make someone else OWNER first")
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "member.removed",
        Target("user", user.id, user.email),
        email=user.email,
        role=member.role,
        left=leaving_self,
    )
    await session.delete(member)
    await session.commit()


_ORG_STATS = text(
    """
    SELECT
        (SELECT count(*) FROM agents WHERE org_id = :org_id) AS agents,
        (SELECT count(*) FROM documents WHERE org_id = :org_id) AS documents,
        (SELECT count(*) FROM documents WHERE org_id = :org_id AND status = 'FAILED')
            AS documents_failed,
        (SELECT count(*) FROM tasks WHERE org_id = :org_id
            AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
            AS tasks_today,
        (SELECT count(*) FROM tasks WHERE org_id = :org_id AND status = 'FAILED'
            AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
            AS tasks_failed_today
    """
)


async def org_stats(session: AsyncSession, org_id: uuid.UUID) -> dict[str, int]:
    row = (await session.execute(_ORG_STATS, {"org_id": org_id})).mappings().one()
    return {key: int(value) for key, value in row.items()}
