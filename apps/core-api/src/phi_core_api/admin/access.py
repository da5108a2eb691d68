"""Who is a platform administrator: shared with the orchestrator, in ``phi_service.admin``."""

from __future__ import annotations

from phi_service.admin import PlatformAdmin, is_platform_admin, require_platform_admin

__all__ = ["PlatformAdmin", "is_platform_admin", "require_platform_admin"]
