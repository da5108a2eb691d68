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
# Types a schedule can start when a person wrote the entry's ``input`` (an agent task's
# instruction); a generated profile never proposes these.
INSTRUCTED_WORKFLOW_TYPES: frozenset[str] = frozenset({"AGENT_TASK"})
# The limits of AGENT_TASK's input (the orchestrator's AgentTaskInput checks the same).
INSTRUCTION_MAX_CHARS = 4000
CONTEXT_MAX_CHARS = 20_000


def instruction_problem(workflow: dict[str, Any]) -> str | None:
    """Why a scheduled agent task's ``input`` cannot start it, or None when it can."""
    data = workflow.get("input")
    if not isinstance(data, dict):
        return "input must be an object with the task's instruction"
    extra = sorted(set(data) - {"instruction", "context"})
    if extra:
        return f"input has fields an agent task does not take: {', '.join(extra)}"
    instruction = data.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        return "input.instruction is required: the task, in plain words"
    if len(instruction) > INSTRUCTION_MAX_CHARS:
        return f"input.instruction is longer than {INSTRUCTION_MAX_CHARS} characters"
    context = data.get("context")
    if context is not None and (not isinstance(context, str) or len(context) > CONTEXT_MAX_CHARS):
        return f"input.context must be text of at most {CONTEXT_MAX_CHARS} characters"
    return None


def schedule_problem(workflow: dict[str, Any]) -> str | None:
    """Why a configured workflow with a schedule cannot run on it, or None when it can (or
    has no schedule, or is disabled)."""
    schedule = workflow.get("schedule")
    if not schedule or workflow.get("enabled", True) is False:
        return None
    type_ = workflow.get("type")
    if type_ not in WORKFLOW_TYPES:
        known = ", ".join(sorted(SCHEDULABLE_WORKFLOW_TYPES | INSTRUCTED_WORKFLOW_TYPES))
        return f"there is no workflow type '{type_}' (types that run on a schedule: {known})"
    if type_ in INSTRUCTED_WORKFLOW_TYPES:
        problem = instruction_problem(workflow)
        if problem is not None:
            return problem
    elif type_ not in SCHEDULABLE_WORKFLOW_TYPES:
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
        if workflow.get("type") in INSTRUCTED_WORKFLOW_TYPES:
            problem = instruction_problem(workflow)
            if problem is not None:
                raise ValueError(f"workflows[{index}].{problem}")
