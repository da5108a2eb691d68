"""The contract of profile generation: what the model must return, and what the API returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from phi_agent_config import check_cron

ProfileText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]
GenerationStatus = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED"]
ConfigFormat = Literal["yaml", "json"]


class SourceRef(BaseModel):
    """Where a line of the profile came from: an uploaded document, or the role template."""

    document_id: uuid.UUID | None = None
    document: str = Field(min_length=1, max_length=300)
    source_type: str | None = Field(default=None, max_length=20)
    page: int | None = Field(default=None, ge=1)
    page_end: int | None = Field(default=None, ge=1)


class CitedLine(BaseModel):
    text: ProfileText
    source: SourceRef | None = None


class WorkflowSpec(BaseModel):
    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,99}$", description="e.g. DAILY_WAREHOUSE_REPORT")
    description: ProfileText
    schedule: str | None = Field(
        default=None,
        description="Five-field cron (minute hour day month weekday); null = on demand",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_cron(value)


class ScheduleSuggestion(BaseModel):
    """Recurring work that no workflow type runs: listed for a person to act on, never in
    the agent's config (the scheduler would skip it)."""

    type: str | None = Field(
        default=None, max_length=100, description="A type a model proposed; none from documents"
    )
    description: ProfileText
    schedule: str | None = Field(default=None, max_length=100, description="Cron, as stated")
    reason: ProfileText
    source: SourceRef | None = None


class ToolRule(BaseModel):
    tool: str = Field(min_length=1, max_length=64, description="key of a tool from GET /tools")
    rule: ProfileText
    source: SourceRef | None = None


class GeneratedProfile(BaseModel):
    """What the LLM (or the builtin composer) must produce; validated before anything is saved."""

    model_config = ConfigDict(extra="ignore")
    system_prompt: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=20, max_length=20000)
    ]
    capabilities: Annotated[list[ProfileText], Field(min_length=1, max_length=40)]
    duties: Annotated[list[CitedLine], Field(max_length=40)] = []
    workflows: Annotated[list[WorkflowSpec], Field(max_length=20)] = []
    schedule_suggestions: Annotated[list[ScheduleSuggestion], Field(max_length=40)] = []
    tool_usage_rules: Annotated[list[ToolRule], Field(max_length=60)] = []
    safety_constraints: Annotated[list[CitedLine], Field(max_length=40)] = []


def profile_json_schema() -> dict[str, Any]:
    """The JSON schema sent to the model as its structured-output format."""
    return GeneratedProfile.model_json_schema()


class GenerationOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    status: GenerationStatus
    error: str | None
    profile_version_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class ProfileVersionSummary(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    version: int
    provider: str | None
    model: str | None
    produced_without_llm: bool
    restored_from: int | None
    created_at: datetime


class ProfileVersionOut(ProfileVersionSummary):
    system_prompt: str
    profile: dict[str, Any]
