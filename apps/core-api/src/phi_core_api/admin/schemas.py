from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class OrgUsage(BaseModel):
    """One organization's size and this calendar month's (UTC) activity."""

    id: uuid.UUID
    name: str
    created_at: datetime
    members: int
    agents: int
    documents: int
    documents_failed: int
    tasks_month: int
    tasks_failed_month: int
    llm_calls_month: int
    llm_tokens_month: int
    llm_cost_usd_month: float
    monthly_token_budget: int | None


class FailedDocument(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    org_name: str
    agent_id: uuid.UUID | None
    name: str
    error: str | None
    updated_at: datetime


class FailedGeneration(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    org_name: str
    agent_id: uuid.UUID
    error: str | None
    updated_at: datetime


class FailedJob(BaseModel):
    """A background job that gave up; its error is on the document or generation it served."""

    id: int
    task_name: str
    queue_name: str
    args: dict[str, Any]
    attempts: int
    failed_at: datetime | None


class Failures(BaseModel):
    documents: list[FailedDocument]
    profile_generations: list[FailedGeneration]
    jobs: list[FailedJob]
