"""What a local agent tells the cloud about its last ``phi-agent contract check``.

The agent sends it on every heartbeat and the cloud keeps the latest with the local agent, so
the web app can show whether the customer's data fits each workflow's data contract, and which
tables do not. Both sides validate against this one model; its bounds keep a heartbeat small
whatever the customer's data holds (the agent trims its lines to them before sending).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Bounds of a report; the agent trims to them, the cloud refuses more (422).
MAX_CONTRACTS = 4
MAX_TABLES = 16
MAX_PROBLEMS_PER_TABLE = 5
MAX_PROBLEM_CHARS = 300

Problem = Annotated[str, Field(max_length=MAX_PROBLEM_CHARS)]


class CheckedTable(BaseModel):
    """One contract table as the check found it."""

    model_config = ConfigDict(extra="forbid")

    table: str = Field(min_length=1, max_length=64)
    source: Literal["mapping", "table"] = Field(
        description="Read through the policy's mapping, or a view or table of that name"
    )
    rows: int = Field(ge=0, description="Rows read (the check reads a few, not all)")
    ok: bool
    problems: list[Problem] = Field(default_factory=list, max_length=MAX_PROBLEMS_PER_TABLE)


class ContractCheckReport(BaseModel):
    """The last check of one data contract on this local agent's machine."""

    model_config = ConfigDict(extra="forbid")

    contract: str = Field(min_length=1, max_length=64)
    connection: str = Field(default="", max_length=200)
    checked_at: datetime
    ok: bool
    tables: list[CheckedTable] = Field(max_length=MAX_TABLES)
