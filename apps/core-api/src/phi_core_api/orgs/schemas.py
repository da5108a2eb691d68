from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Role = Literal["OWNER", "ADMIN", "MEMBER"]


def _time_zone(value: str) -> str:
    # Only IANA names: ZoneInfo also loads file paths and odd aliases we do not want stored.
    if value not in available_timezones() and value != "UTC":
        raise ValueError(f"'{value[:64]}' is not an IANA time zone name (e.g. Europe/Berlin, UTC)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value[:64]}' is not a usable time zone") from exc
    return value


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OrgName


class OrgPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OrgName | None = None
    monthly_token_budget: Annotated[int, Field(ge=0, le=10**15)] | None = None
    time_zone: TimeZone | None = Field(
        None,
        description="IANA time zone of the organization: agents' schedules and the report's "
        "'today' follow it",
    )


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    owner_user_id: uuid.UUID | None
    monthly_token_budget: int | None
    time_zone: str
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
