"""core-api's typed settings dependency. Sessions, the caller and tenant access checks are
shared with the other services and live in ``phi_service.deps``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from phi_core_api.settings import CoreApiSettings
from phi_service.deps import get_settings_dep

SettingsDep = Annotated[CoreApiSettings, Depends(get_settings_dep)]
