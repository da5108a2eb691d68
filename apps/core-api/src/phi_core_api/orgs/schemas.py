from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Role = Literal["OWNER", "ADMIN", "MEMBER"]


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OrgName


class OrgPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OrgName | None = None
    monthly_token_budget: Annotated[int, Field(ge=0, le=10**15)] | None = None


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    owner_user_id: uuid.UUID | None
    monthly_token_budget: int | None
    created_at: datetime
    my_role: Role


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    role: Role = "MEMBER"


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str | None
    role: Role
    joined_at: datetime


class OrgStats(BaseModel):
    """Counts for the dashboard; "today" is the current UTC day."""

    agents: int
    documents: int
    documents_failed: int
    tasks_today: int
    tasks_failed_today: int
