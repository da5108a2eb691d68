"""Platform administrators: the user's ``is_platform_admin`` flag (set by ``phi-admin grant``)
or an email listed in ``PHI_ADMIN_EMAILS``. Everyone else gets 404 from the admin routes of
every service, as if they did not exist, so they cannot be probed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from phi_platform.db.models import User
from phi_service.deps import CurrentUser, get_settings_dep
from phi_service.errors import NotFound
from phi_service.settings import ServiceSettings


def is_platform_admin(user: User, settings: ServiceSettings) -> bool:
    return bool(user.is_platform_admin) or settings.is_admin_email(user.email)


def require_platform_admin(user: CurrentUser, request: Request) -> User:
    settings = get_settings_dep(request)
    if not isinstance(settings, ServiceSettings) or not is_platform_admin(user, settings):
        raise NotFound("not found")
    return user


PlatformAdmin = Annotated[User, Depends(require_platform_admin)]
