from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IndustryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    key: str
    name: str
    description: str | None


class RoleTemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    industry_id: uuid.UUID
    industry_key: str
    key: str
    name: str
    description: str | None
    default_capabilities: list[Any]
    default_tools: list[Any]
    example_tasks: list[str] = Field(
        default_factory=list,
        description="Instructions a person could give an agent of this role (AGENT_TASK)",
    )


class ToolOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    available: bool
    config_schema: dict[str, Any]
    default_config: dict[str, Any]
