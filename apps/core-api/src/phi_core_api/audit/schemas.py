from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ActorType = Literal[
    "user", "local_agent", "schedule", "platform_admin", "anonymous", "task", "system"
]
ExportFormat = Literal["csv", "jsonl"]


class AuditActor(BaseModel):
    type: ActorType
    id: uuid.UUID | None
    label: str | None = Field(description="the email or name at the time of the event")


class AuditTarget(BaseModel):
    type: str | None
    id: str | None
    label: str | None = Field(description="the target's name at the time of the event")


class AuditEventOut(BaseModel):
    id: int
    org_id: uuid.UUID
    occurred_at: datetime
    actor: AuditActor
    action: str
    target: AuditTarget
    details: dict[str, Any]
    request_id: str | None
    client_address: str | None
    summary: str = Field(description="the event as one readable sentence")


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next (older) page; null on the last page"
    )
