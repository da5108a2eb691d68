from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from phi_agent_config.data_contract import DataContract
from phi_orchestrator.local_agents.schemas import LocalAgentOut
from phi_orchestrator.results.spec import Chart

TaskStatus = Literal[
    "PENDING", "RUNNING", "WAITING", "AWAITING_APPROVAL", "SUCCESS", "FAILED", "CANCELLED"
]


class RunTask(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "DAILY_WAREHOUSE_REPORT", "input": {"data_source": "sample"}},
                {"type": "ASK", "input": {"question": "When must pallets be counted?"}},
                {
                    "type": "AGENT_TASK",
                    "input": {"instruction": "Which zone had the most late orders yesterday?"},
                },
            ]
        },
    )
    type: str = Field(min_length=1, max_length=100, description="A type from GET /workflows")
    input: dict[str, Any] = Field(default_factory=dict)


class TaskCreated(BaseModel):
    task_id: uuid.UUID


class TaskEventOut(BaseModel):
    seq: int
    event_type: str
    payload: dict[str, Any] | None
    timestamp: datetime


class ToolCallOut(BaseModel):
    id: uuid.UUID
    step: str
    tool: str
    status: str
    attempt: int
    max_attempts: int
    lease_until: datetime | None
    claimed_at: datetime | None = Field(description="When a local agent last took the call")
    claimed_by: str | None = Field(description="The name of the local agent that last took it")
    claimed_by_host: str | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class TaskSummary(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    org_id: uuid.UUID
    type: str
    status: TaskStatus
    trigger: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class PendingApproval(BaseModel):
    """The exact call an agent task waits to have approved."""

    key: str
    tool: str
    arguments: dict[str, Any]
    step: str


class TaskDetail(TaskSummary):
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    schedule_slot: datetime | None
    parent_task_id: uuid.UUID | None = None
    pending_approval: PendingApproval | None = None
    events: list[TaskEventOut]
    tool_calls: list[ToolCallOut]
    charts: list[Chart] = Field(
        default_factory=list, description="The result's chart descriptions (output.charts)"
    )
    local_agents: list[LocalAgentOut] = Field(
        description="While the task is unfinished: the agent's local agents (online or not, "
        "with the tools their policy enables), so a task waiting on a tool call can say who "
        "could pick it up; empty once the task finished"
    )


class ApprovalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "reject", "reason": "not this week's data"}]},
    )
    decision: Literal["approve", "reject"]
    reason: str | None = Field(
        default=None, max_length=2000, description="Told to the model with a rejection"
    )


class TaskPage(BaseModel):
    items: list[TaskSummary]
    total: int
    limit: int
    offset: int


class WorkflowOut(BaseModel):
    type: str
    description: str
    input_schema: dict[str, Any]
    data_contract: DataContract | None = Field(
        description="The tables and columns the workflow reads from the customer's data "
        "(through the local agent), or null when it reads none"
    )


class ScheduleState(BaseModel):
    """A scheduled workflow of the agent's config, and whether the scheduler runs it."""

    type: str
    schedule: str
    description: str | None
    enabled: bool
    runs: bool = Field(description="False when the scheduler skips it; `problem` says why")
    problem: str | None
    next_run: datetime | None = Field(description="The next run (UTC) when it runs")
    instruction: str | None = Field(
        default=None,
        description="What a scheduled AGENT_TASK is told to do, word for word (null for the "
        "other types)",
    )
    skipped: str | None = Field(
        default=None,
        description="Why its slots are skipped for now although it runs: a scheduled AGENT_TASK "
        "while the organization's monthly token budget is spent (each skipped slot is a FAILED "
        "task whose error starts with 'skipped:')",
    )
