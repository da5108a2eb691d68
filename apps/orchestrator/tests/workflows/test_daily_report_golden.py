"""The whole daily report, byte for byte, on fixed data: the rendered Markdown, the one-line
summary and the figures as stored in the task's output (key order included), against files
committed in ``expected/``. A change to the analysis or the rendering that moves one character
shows up here. When the change is meant, regenerate them with ``PHI_WRITE_EXPECTED=1`` and
review the diff."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from phi_llm.types import ChatRequest
from phi_orchestrator.workflows.daily_warehouse_report.analysis import Rules, analyse
from phi_orchestrator.workflows.daily_warehouse_report.narrative import (
    compose_narrative,
    narrative_facts,
)
from phi_orchestrator.workflows.daily_warehouse_report.report import report_markdown, summary_text
from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables

EXPECTED = Path(__file__).parent / "expected"
DAY = date(2026, 11, 24)
DOCS = [
    {"document_name": "Dock procedure.pdf", "excerpt": "Escalate a dock idle for two hours."},
    {"document_name": "Targets 2026.docx", "excerpt": "Late orders stay under 3%."},
]


def _sample_with_gaps() -> dict[str, list[dict[str, Any]]]:
    """The sample with the rows a real warehouse sends too: picks without a start, a shipment
    without a dock or a departure, names missing from the reference tables."""
    tables = {name: [dict(r) for r in rows] for name, rows in sample_tables(DAY).items()}
    for row in tables["picks"][::7]:
        row["started_at"] = None
    for row in tables["shipments"][::5]:
        row["departed_at"] = None
    tables["shipments"][1]["dock_id"] = None
    tables["pickers"] = tables["pickers"][1:]
    tables["zones"] = [{**z, "name": None} for z in tables["zones"]]
    return tables


def _sample_with_columns_emptied() -> dict[str, list[dict[str, Any]]]:
    """The sample with columns a mapping may leave empty: no loading starts at all (the
    issue's dock utilisation of 96-100% came from this), no pick starts, no quantities."""
    tables = {name: [dict(r) for r in rows] for name, rows in sample_tables(DAY).items()}
    for row in tables["shipments"]:
        row["loading_started_at"] = None
    for row in tables["picks"]:
        row["started_at"] = None
        row["quantity"] = ""
    return tables


CASES: dict[str, tuple[Any, Rules | None, list[dict[str, Any]]]] = {
    "sample": (lambda: sample_tables(DAY), None, DOCS),
    "sample_strict_rules": (
        lambda: sample_tables(DAY),
        Rules(
            outlier_z=1.0,
            min_picks=1,
            idle_gap_minutes=30,
            slow_pick_iqr_k=0.5,
            slow_zone_ratio=1.05,
            max_listed=3,
        ),
        [],
    ),
    "sample_with_gaps": (_sample_with_gaps, None, DOCS[:1]),
    "sample_columns_emptied": (_sample_with_columns_emptied, None, []),
    "no_data": (lambda: {}, None, []),
}


def _render(case: str) -> tuple[str, str]:
    tables, rules, docs = CASES[case]
    metrics = analyse(tables(), DAY, rules)
    facts = narrative_facts(metrics, docs)
    narrative = compose_narrative(ChatRequest(model="builtin", messages=[], facts=facts))
    markdown = report_markdown(metrics, narrative, "builtin", "Warehouse bot", docs)
    # As the task output stores it: JSON in the dict's own key order.
    figures = json.dumps(
        {"summary_text": summary_text(metrics), "metrics": metrics}, indent=1, ensure_ascii=False
    )
    return markdown, figures + "\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_report_is_unchanged(case: str) -> None:
    markdown, figures = _render(case)
    md_file = EXPECTED / f"daily_report_{case}.md"
    json_file = EXPECTED / f"daily_report_{case}.json"
    if os.environ.get("PHI_WRITE_EXPECTED") == "1":
        md_file.write_text(markdown, encoding="utf-8")
        json_file.write_text(figures, encoding="utf-8")
    assert markdown == md_file.read_text(encoding="utf-8")
    assert figures == json_file.read_text(encoding="utf-8")
