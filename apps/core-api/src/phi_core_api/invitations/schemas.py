from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from phi_core_api.auth.schemas import Email
from phi_core_api.orgs.schemas import Role


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    role: Role = "MEMBER"


class InvitationOut(BaseModel):
    """An open invitation, as the organization's OWNER/ADMIN see it."""

    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: Role
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime


class MyInvitationOut(BaseModel):
    """An invitation addressed to the caller's email."""

    id: uuid.UUID
    org_id: uuid.UUID
    org_name: str
    role: Role
    invited_by_email: str | None
    created_at: datetime
    expires_at: datetime
