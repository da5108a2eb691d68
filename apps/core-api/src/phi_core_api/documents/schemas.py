from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from phi_search import SearchHit

MAX_TOP_K = 50


class SourceType(StrEnum):
    JD = "JD"
    SOP = "SOP"
    POLICY = "POLICY"
    MANUAL = "MANUAL"
    OTHER = "OTHER"


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    agent_id: uuid.UUID | None = Field(description="null for an org-wide document")
    name: str
    source_type: SourceType
    status: str = Field(description="PENDING, PROCESSING, READY or FAILED")
    error: str | None = Field(description="why the document FAILED, if it did")
    content_type: str | None
    size_bytes: int
    sha256: str | None
    page_count: int | None
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class UploadRequest(BaseModel):
    """An upload as its Idempotency-Key remembers it (the file by its checksum)."""

    name: str
    size_bytes: int
    sha256: str
    source_type: SourceType


class SearchIn(BaseModel):
    query: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ] = Field(description="a question or keywords in plain words")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    source_types: list[SourceType] | None = Field(
        None, min_length=1, description="only search documents of these types"
    )


class SearchOut(BaseModel):
    query: str
    results: list[SearchHit]
