"""AGENT_TASK's input."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AgentTaskInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"instruction": "Which zone had the most late orders last week, and why?"},
            ]
        },
    )
    instruction: str = Field(
        min_length=1, max_length=4000, description="The task, in plain words, as to a colleague"
    )
    context: str | None = Field(
        default=None,
        max_length=20_000,
        description="Anything the agent should know for this task (given to the model as data)",
    )
