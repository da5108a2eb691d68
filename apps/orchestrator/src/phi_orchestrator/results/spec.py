"""The chart description a result carries: data and kind, no styling.

The web app, the PNG renderer (email, PDF) and webhook consumers all read this one shape. A
value of None is a figure that is not available: it is drawn as a gap, never as 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChartSeries(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Legend text, e.g. 'Day' or '7-day mean'")
    role: Literal["value", "baseline"] = Field(
        description="'baseline': what the values are compared with (drawn lighter/dashed)"
    )
    values: list[float | None] = Field(description="One per label; null: not available (gap)")


class Chart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    title: str
    kind: Literal["line", "bar"]
    labels: list[str] = Field(description="The x axis categories (hours, zones, days, docks)")
    x_label: str
    unit: str = Field(description="Unit of every value (picks, s, %, departures)")
    series: list[ChartSeries]
    note: str | None = Field(default=None, description="What the reader should know (gaps...)")


def charts_of(output: object) -> list[Chart]:
    """The valid chart descriptions of a task's output (others are skipped, not fatal: an
    old result without charts, or a hand-stored one, still renders)."""
    if not isinstance(output, dict) or not isinstance(output.get("charts"), list):
        return []
    charts = []
    for item in output["charts"]:
        try:
            charts.append(Chart.model_validate(item))
        except ValueError:
            continue
    return charts
