"""The workflow types core-api lets a profile schedule (``phi_agent_config``) are the ones this
orchestrator runs: a new type registered here and not there (or the reverse) fails."""

from __future__ import annotations

from datetime import date

from phi_agent_config import SCHEDULABLE_WORKFLOW_TYPES, WORKFLOW_TYPES
from phi_orchestrator.workflows.registry import workflows


def test_the_shared_list_names_every_registered_type() -> None:
    assert set(workflows()) == WORKFLOW_TYPES


def test_schedulable_types_start_without_input() -> None:
    startable = set()
    for type_, workflow in workflows().items():
        try:
            workflow.prepare(workflow.input_model(), date(2026, 1, 5))
        except ValueError:  # pydantic's ValidationError: a field has no default
            continue
        startable.add(type_)
    assert startable == SCHEDULABLE_WORKFLOW_TYPES
