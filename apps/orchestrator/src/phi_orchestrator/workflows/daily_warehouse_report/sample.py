"""The built-in sample warehouse, for runs with ``data_source: "sample"``."""

from __future__ import annotations

from datetime import date
from typing import Any


def sample_tables(day: date) -> dict[str, list[dict[str, Any]]]:
    from phi_orchestrator.workflows.base import WorkflowError

    raise WorkflowError("the sample data set is not available yet")
