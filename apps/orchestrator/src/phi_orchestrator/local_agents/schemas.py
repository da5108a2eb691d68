from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from phi_agent_config.contract_report import MAX_CONTRACTS, ContractCheckReport


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class KeyCreated(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    key: str = Field(description="The whole key; shown only in this answer")
    created_at: datetime


class KeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyList(BaseModel):
    items: list[KeyOut]


class LocalAgentOut(BaseModel):
    id: uuid.UUID
    name: str
    host: str | None
    version: str | None
    tools: list[str]
    status: Literal["ENROLLED", "ACTIVE", "OFFLINE"]
    last_heartbeat_at: datetime | None
    contract_check: list[ContractCheckReport] | None = Field(
        default=None,
        description="The last `phi-agent contract check` it reported, per data contract",
    )


class LocalAgentList(BaseModel):
    items: list[LocalAgentOut]


class RefusalReport(BaseModel):
    """Policy refusals of one tool for one reason since the last accepted heartbeat."""

    model_config = ConfigDict(extra="forbid")
    tool: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=300)
    count: int = Field(ge=1, le=1_000_000_000)
    first_at: datetime
    last_at: datetime


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    local_agent_id: uuid.UUID | None = None
    name: str = Field(min_length=1, max_length=200)
    host: str = Field(default="", max_length=255)
    version: str = Field(default="", max_length=100)
    tools: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=32
    )
    refusals: list[RefusalReport] = Field(
        default_factory=list,
        max_length=20,
        description="policy refusals since the last accepted heartbeat (reasons, never data); "
        "each becomes an audit event of the organization",
    )
    contract_check: list[ContractCheckReport] | None = Field(
        default=None,
        max_length=MAX_CONTRACTS,
        description="The last `phi-agent contract check` on the machine; kept until replaced",
    )


class HeartbeatAnswer(BaseModel):
    local_agent_id: uuid.UUID
    agent_id: uuid.UUID
    org_id: uuid.UUID
    heartbeat_interval_seconds: int
    lease_seconds: int


class PendingCall(BaseModel):
    tool_call_id: uuid.UUID
    task_id: uuid.UUID
    step: str
    tool: str
    attempt: int
    lease_until: datetime
    payload: dict[str, Any]


class PendingTasks(BaseModel):
    tasks: list[PendingCall]
