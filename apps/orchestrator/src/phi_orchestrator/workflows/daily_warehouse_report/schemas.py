from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EARLIEST_DAY = date(1900, 1, 1)


class DailyWarehouseReportInput(BaseModel):
    """What a DAILY_WAREHOUSE_REPORT run reads, and for which day."""

    model_config = ConfigDict(extra="forbid")

    data_source: Literal["sample", "local_agent"] = Field(
        default="sample",
        description="'sample': the built-in sample warehouse (cloud-only demo); 'local_agent': "
        "the agent's local agent reads the customer's data (docs/local-agent-protocol.md)",
    )
    day: date | None = Field(
        default=None,
        # The report also reads the 7 days before and the day after: dates near the ends of
        # the calendar overflowed, and no warehouse has data from before 1900 or the future.
        ge=EARLIEST_DAY,
        description="The day reported on, from 1900-01-01 to tomorrow in the org's time zone; "
        "default: yesterday there",
    )
    tool: Literal["db", "file"] = Field(
        default="db",
        description="With local_agent: SQL over the data contract's views ('db') or CSV exports "
        "('file')",
    )
    connection: str | None = Field(
        default=None, max_length=200, description="A connection name of the local policy ('db')"
    )
