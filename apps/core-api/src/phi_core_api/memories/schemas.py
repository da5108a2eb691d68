"""The memory routes' contract (the records themselves are ``phi_search.memory``'s)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from phi_search.memory import MemoryHit, MemoryRecord

# The database's own bound; PHI_MEMORY_MAX_CHARS (at most this) is checked by the store.
TEXT_CEILING = 8000


class MemoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        min_length=1,
        max_length=TEXT_CEILING,
        description="one fact, in plain words (at most PHI_MEMORY_MAX_CHARS characters)",
    )
    valid_until: datetime | None = Field(
        None, description="forget it after this time (with a time zone); null: keep it"
    )


class MemoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, min_length=1, max_length=TEXT_CEILING)
    valid_until: datetime | None = Field(
        None, description="send null to keep the memory for ever; leave out to leave it as is"
    )


class MemorySearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ] = Field(description="a question or keywords in plain words")
    top_k: int = Field(10, ge=1, le=50)
    include_org: bool = Field(
        True,
        description="agent routes: also search the organization's memories, as the agent "
        "recalls them (ignored on the organization's routes)",
    )


class MemoryPage(BaseModel):
    items: list[MemoryRecord]
    total: int = Field(description="live memories of this namespace in all")
    limit: int
    offset: int


class MemorySearchOut(BaseModel):
    query: str
    results: list[MemoryHit]
