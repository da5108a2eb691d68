"""Who is a platform administrator: the user's flag (set by `phi-admin grant`) or an email
listed in PHI_ADMIN_EMAILS. Everyone else gets 404 from the admin routes, as if they did not
exist, so they cannot be probed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from phi_core_api.deps import SettingsDep
from phi_core_api.settings import CoreApiSettings
from phi_platform.db.models import User
from phi_service.deps import CurrentUser
from phi_service.errors import NotFound


def is_platform_admin(user: User, settings: CoreApiSettings) -> bool:
    return bool(user.is_platform_admin) or settings.is_admin_email(user.email)


def require_platform_admin(user: CurrentUser, settings: SettingsDep) -> User:
    if not is_platform_admin(user, settings):
        raise NotFound("not found")
    return user


PlatformAdmin = Annotated[User, Depends(require_platform_admin)]
