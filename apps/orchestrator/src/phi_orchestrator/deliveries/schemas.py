from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator


class DestinationIn(BaseModel):
    """One place an agent's results of a workflow type go: an email address, or a webhook."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"workflow_type": "DAILY_WAREHOUSE_REPORT", "email": "ops@example.com"},
                {
                    "workflow_type": "DAILY_WAREHOUSE_REPORT",
                    "webhook_url": "https://hooks.example.com/phi",
                    "format": "json",
                },
            ]
        },
    )
    workflow_type: str = Field(min_length=1, max_length=100)
    email: EmailStr | None = Field(default=None, max_length=320)
    webhook_url: str | None = Field(default=None, min_length=1, max_length=2000)
    format: Literal["json", "slack"] = Field(
        default="json",
        description="Webhooks only: 'json' (the result with figures and charts) or 'slack' "
        "(a Slack incoming-webhook message)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> DestinationIn:
        if (self.email is None) == (self.webhook_url is None):
            raise ValueError("give exactly one of 'email' and 'webhook_url'")
        return self


class DestinationOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    workflow_type: str
    kind: Literal["email", "webhook"]
    target: str = Field(description="The email address or the webhook URL")
    format: str
    created_at: datetime


class DestinationCreated(DestinationOut):
    secret: str | None = Field(
        description="Webhooks: the key of X-Phi-Signature (HMAC-SHA256 of the body). Shown "
        "only now (stored encrypted, never shown again): store it with the receiver"
    )


class DeliveryAttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    outcome: Literal["delivered", "failed", "interrupted"] | None
    status_code: int | None
    error: str | None


class DeliveryOut(BaseModel):
    id: uuid.UUID
    destination_id: uuid.UUID | None
    kind: Literal["email", "webhook"]
    target: str
    format: str
    status: Literal["PENDING", "DELIVERED", "FAILING", "GIVEN_UP"]
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    attempt_log: list[DeliveryAttemptOut]
