"""Charts of an agent task's answer, drawn by code from the rows its ``db_query`` calls
returned (``results.spec.Chart``, the report's format): never from what the model wrote.

A result is a series when it has 2 to ``MAX_POINTS`` rows, one column of labels (the first
column that is not all numbers, else the first column) and at least one column of numbers;
those columns (at most ``MAX_SERIES``) are its series. Dates or numbers as labels make a line,
anything else bars. A null stays a gap, never a 0.
"""

from __future__ import annotations

import re
from typing import Any

from phi_orchestrator.results.spec import Chart, ChartSeries

MAX_POINTS = 60
MAX_SERIES = 4
MAX_CHARTS = 4
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2})?)?")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(rows: list[list[Any]], i: int) -> bool:
    values = [r[i] for r in rows if r[i] is not None]
    return bool(values) and all(_is_number(v) for v in values)


def series_chart(
    number: int, sql: str, columns: list[Any], rows: list[Any], truncated: bool = False
) -> dict[str, Any] | None:
    """The chart description of one query's result, or None when it is not a series."""
    names = [str(c.get("name") if isinstance(c, dict) else c) for c in columns]
    table = [list(r) for r in rows if isinstance(r, list | tuple) and len(r) == len(names)]
    if len(names) < 2 or not 2 <= len(table) <= MAX_POINTS or len(table) != len(rows):
        return None
    numeric = [i for i in range(len(names)) if _numeric(table, i)]
    label = next((i for i in range(len(names)) if i not in numeric), 0)
    values = [i for i in numeric if i != label][:MAX_SERIES]
    if not values:
        return None
    labels = [str(r[label]) if r[label] is not None else "(none)" for r in table]
    ordered = label in numeric or all(_DATE.match(x) for x in labels)
    series = [
        ChartSeries(
            name=names[i],
            role="value",
            values=[float(r[i]) if _is_number(r[i]) else None for r in table],
        )
        for i in values
    ]
    notes = [f"Drawn from the rows of the statement {' '.join(sql.split())[:200]}"]
    if truncated:
        notes.append("The local policy cut the result off: not every row is drawn.")
    if any(v is None for s in series for v in s.values):
        notes.append("Gaps are values the query returned empty.")
    chart = Chart(
        id=f"query_{number}",
        title=f"{', '.join(names[i] for i in values)} by {names[label]}",
        kind="line" if ordered else "bar",
        labels=labels,
        x_label=names[label],
        unit=names[values[0]] if len(values) == 1 else "",
        series=series,
        note=" ".join(notes),
    )
    return chart.model_dump()


def answer_charts(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The charts of the queries an answer rests on (the first ``MAX_CHARTS``)."""
    return [e["chart"] for e in evidence if e.get("kind") == "sql" and e.get("chart")][:MAX_CHARTS]
