from __future__ import annotations

from fastapi import APIRouter, Request, status

from phi_core_api.admin.access import is_platform_admin
from phi_core_api.auth import service
from phi_core_api.auth.schemas import LoginIn, MembershipOut, MeOut, SignupIn, SignupOut, TokenOut
from phi_core_api.deps import SettingsDep
from phi_service.deps import CurrentUser, SessionDep
from phi_service.tokens import create_access_token

router = APIRouter(tags=["auth"])


def client_address(request: Request) -> str:
    """The client's address; behind trusted proxies (PHI_TRUSTED_PROXIES) the app's
    proxy-headers middleware has already put the forwarded client here."""
    return request.client.host if request.client else service.UNKNOWN_ADDRESS


@router.post(
    "/auth/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=SignupOut,
    responses={409: {"description": "Email already registered"}},
)
async def signup(
    data: SignupIn, request: Request, session: SessionDep, settings: SettingsDep
) -> SignupOut:
    """Create an account; the response carries an access token so the user is signed in."""
    user = await service.signup(session, settings, data, client_address(request))
    token, expires_in = create_access_token(
        user.id, settings.resolved_jwt_secret, settings.jwt_ttl_minutes
    )
    return SignupOut(
        id=user.id,
        email=user.email,
        name=user.name,
        created_at=user.created_at,
        access_token=token,
        expires_in=expires_in,
    )


@router.post(
    "/auth/login",
    response_model=TokenOut,
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Throttled"}},
)
async def login(
    data: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenOut:
    """Exchange email and password for a bearer token (paste it into Authorize on /docs)."""
    user = await service.login(session, settings, data, client_address(request))
    token, expires_in = create_access_token(
        user.id, settings.resolved_jwt_secret, settings.jwt_ttl_minutes
    )
    return TokenOut(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=MeOut)
async def me(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> MeOut:
    """The signed-in user and the organizations they belong to, with their role in each."""
    rows = await service.memberships(session, user.id)
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        created_at=user.created_at,
        memberships=[MembershipOut.model_validate(r) for r in rows],
        is_platform_admin=is_platform_admin(user, settings),
    )
