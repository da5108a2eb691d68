"""Organizations (table ``organizations``, model ``phi_platform.db.models.Organization``): the
orchestrator only reads them. The API's reads, on its SQLAlchemy session."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_platform.db.models import Organization


async def time_zone(session: AsyncSession, org_id: uuid.UUID) -> str | None:
    """The organization's time zone (an IANA name), or None if there is no such
    organization."""
    return await session.scalar(select(Organization.time_zone).where(Organization.id == org_id))
