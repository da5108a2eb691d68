from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from phi_core_api.invitations import service
from phi_core_api.invitations.schemas import InvitationIn, InvitationOut, MyInvitationOut
from phi_core_api.orgs.schemas import OrgOut
from phi_service.deps import CurrentUser, CurrentUserId, SessionDep, org_access
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["invitations"])


@router.post(
    "/orgs/{org_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationOut,
)
async def invite(
    org_id: uuid.UUID,
    data: InvitationIn,
    session: SessionDep,
    user_id: CurrentUserId,
    idempotency: IdempotencyDep,
) -> InvitationOut | JSONResponse:
    """Invite someone by email (OWNER/ADMIN). They join once they accept it from their own
    account (GET /me/invitations); the answer is the same whether or not the email has an
    account yet. Inviting the same email again renews the invitation."""
    access = await org_access(session, org_id, user_id)

    async def create() -> InvitationOut:
        return InvitationOut.model_validate(await service.invite(session, access, data))

    return await idempotency.run(data, create, status_code=status.HTTP_201_CREATED)


@router.get("/orgs/{org_id}/invitations", response_model=list[InvitationOut])
async def list_invitations(
    org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> list[InvitationOut]:
    """Open invitations of the organization (OWNER/ADMIN)."""
    access = await org_access(session, org_id, user_id)
    return [InvitationOut.model_validate(i) for i in await service.list_for_org(session, access)]


@router.delete("/orgs/{org_id}/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(
    org_id: uuid.UUID, invitation_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """Withdraw an open invitation (OWNER/ADMIN)."""
    access = await org_access(session, org_id, user_id)
    await service.revoke(session, access, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/invitations", response_model=list[MyInvitationOut])
async def my_invitations(user: CurrentUser, session: SessionDep) -> list[MyInvitationOut]:
    """Open invitations addressed to your email."""
    return [MyInvitationOut.model_validate(i) for i in await service.list_mine(session, user)]


@router.post("/me/invitations/{invitation_id}/accept", response_model=OrgOut)
async def accept_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, session: SessionDep, idempotency: IdempotencyDep
) -> OrgOut | JSONResponse:
    """Join the organization with the invited role. Accepting answers 404 once the invitation
    is used; with an Idempotency-Key, a retry of the accept gets the first answer instead."""

    async def create() -> OrgOut:
        return OrgOut.model_validate(await service.accept(session, user, invitation_id))

    return await idempotency.run(None, create, status_code=status.HTTP_200_OK)


@router.post("/me/invitations/{invitation_id}/decline", status_code=status.HTTP_204_NO_CONTENT)
async def decline_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    """Turn the invitation down; the organization sees it disappear from its list."""
    await service.decline(session, user, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
