"""The workflow types the orchestrator runs, named once for every app.

core-api lets a profile schedule only these types (anything else a document states as
recurring work becomes a suggestion, not config) and the orchestrator checks at start-up that
its registry runs exactly these (``tests/test_workflow_types.py`` there).
"""

from __future__ import annotations

from typing import Any

from phi_agent_config.cron import check_cron

WORKFLOW_TYPES: frozenset[str] = frozenset({"AGENT_TASK", "ASK", "DAILY_WAREHOUSE_REPORT"})
# Types a schedule can start: their input has a default for every field (ASK needs a question).
SCHEDULABLE_WORKFLOW_TYPES: frozenset[str] = frozenset({"DAILY_WAREHOUSE_REPORT"})


def schedule_problem(workflow: dict[str, Any]) -> str | None:
    """Why a configured workflow with a schedule cannot run on it, or None when it can (or
    has no schedule, or is disabled)."""
    schedule = workflow.get("schedule")
    if not schedule or workflow.get("enabled", True) is False:
        return None
    type_ = workflow.get("type")
    if type_ not in WORKFLOW_TYPES:
        known = ", ".join(sorted(SCHEDULABLE_WORKFLOW_TYPES))
        return f"there is no workflow type '{type_}' (types that run on a schedule: {known})"
    if type_ not in SCHEDULABLE_WORKFLOW_TYPES:
        return f"workflow type '{type_}' runs only on request, not on a schedule"
    if not isinstance(schedule, str):
        return "the schedule is not a cron string"
    try:
        check_cron(schedule)
    except ValueError as exc:
        return str(exc)
    return None


def check_workflow_schedules(workflows: Any) -> None:
    """ValueError naming the first workflow of an agent's config whose schedule is not a cron
    that runs ("99 99 * * *", "@reboot", "0 0 31 2 *"). Types are not checked here: a stored
    workflow of an unknown type is reported by the orchestrator, not refused."""
    if workflows is None:
        return
    if not isinstance(workflows, list):
        raise ValueError("workflows must be a list")
    for index, workflow in enumerate(workflows):
        if not isinstance(workflow, dict):
            raise ValueError(f"workflows[{index}] must be an object")
        schedule = workflow.get("schedule")
        if schedule is None:
            continue
        if not isinstance(schedule, str):
            raise ValueError(f"workflows[{index}].schedule must be a cron string or null")
        try:
            check_cron(schedule)
        except ValueError as exc:
            raise ValueError(f"workflows[{index}].schedule: {exc}") from None
