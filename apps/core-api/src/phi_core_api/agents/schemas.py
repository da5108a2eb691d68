from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from phi_agent_config import check_workflow_schedules

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AgentStatus = Literal["ACTIVE", "DISABLED"]
MAX_CONFIG_BYTES = 64 * 1024


def _check_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    import json

    if value is not None and len(json.dumps(value)) > MAX_CONFIG_BYTES:
        raise ValueError(f"config is larger than {MAX_CONFIG_BYTES // 1024} KB")
    return value


def _check_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """The size, and every workflow schedule a cron the scheduler can run: refused when the
    agent is saved, not later when its config is exported."""
    _check_size(value)
    if value is not None:
        check_workflow_schedules(value.get("workflows"))
    return value


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    industry_id: uuid.UUID
    role_template_id: uuid.UUID
    name: AgentName
    tool_ids: Annotated[list[uuid.UUID], Field(max_length=50)] | None = Field(
        default=None,
        description="Tools to enable; omitted means the role template's available default tools.",
    )
    config: dict[str, Any] | None = None

    _config = field_validator("config")(_check_config)


class AgentToolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_id: uuid.UUID
    config: dict[str, Any] | None = Field(
        default=None, description="Settings for this tool; omitted means the tool's defaults."
    )

    _size = field_validator("config")(_check_size)


class AgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: AgentName | None = None
    status: AgentStatus | None = None
    system_prompt: Annotated[str, Field(max_length=50_000)] | None = None
    config: dict[str, Any] | None = None
    tools: Annotated[list[AgentToolIn], Field(max_length=50)] | None = Field(
        default=None, description="The full set of tools; replaces the current set."
    )

    _config = field_validator("config")(_check_config)


class AgentToolOut(BaseModel):
    tool_id: uuid.UUID
    key: str
    name: str
    config: dict[str, Any]


class AgentSummary(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    industry_id: uuid.UUID | None
    role_template_id: uuid.UUID | None
    name: str
    status: AgentStatus
    tool_keys: list[str]
    created_at: datetime
    updated_at: datetime


class AgentOut(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    industry_id: uuid.UUID | None
    role_template_id: uuid.UUID | None
    name: str
    status: AgentStatus
    system_prompt: str | None
    config: dict[str, Any]
    tools: list[AgentToolOut]
    created_at: datetime
    updated_at: datetime
