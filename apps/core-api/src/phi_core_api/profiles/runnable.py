"""A profile schedules only work the orchestrator runs.

A workflow of a type the orchestrator does not have (a model's ``MONTHLY_COST_REPORT``), a
schedule on a type that runs only on request (ASK), or a cron that never fires would sit in the
agent's config looking enabled while the scheduler skips it. Such work is moved to the
profile's ``schedule_suggestions`` with the reason, for a person to act on. Applied to every
generated profile and again when an old version is restored (the types may have changed).
"""

from __future__ import annotations

from typing import Any

from phi_agent_config import WORKFLOW_TYPES, schedule_problem


def split_workflows(
    workflows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(workflows the orchestrator runs as given, suggestions for the rest)."""
    kept: list[dict[str, Any]] = []
    suggested: list[dict[str, Any]] = []
    for workflow in workflows:
        problem = schedule_problem({**workflow, "enabled": True})
        if workflow.get("type") in WORKFLOW_TYPES and problem is None:
            kept.append(workflow)
            continue
        if workflow.get("type") in WORKFLOW_TYPES:
            # A type that exists keeps running on request; only its schedule is suggested.
            kept.append({**workflow, "schedule": None})
        elif problem is None:
            problem = f"there is no workflow type '{workflow.get('type')}'"
        suggested.append(
            {
                "type": workflow.get("type"),
                "description": workflow.get("description") or str(workflow.get("type")),
                "schedule": workflow.get("schedule"),
                "reason": f"not scheduled: {problem}",
            }
        )
    return kept, suggested


def runnable_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile (a stored or generated dict) with only runnable workflows; the others are
    added to its ``schedule_suggestions``."""
    kept, suggested = split_workflows(
        [w for w in profile.get("workflows") or [] if isinstance(w, dict)]
    )
    if not suggested:
        return profile
    return {
        **profile,
        "workflows": kept,
        "schedule_suggestions": [*(profile.get("schedule_suggestions") or []), *suggested],
    }


def prompt_without_moved(system_prompt: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    """The builtin composer's prompt without the "Scheduled work" lines of the workflows
    ``runnable_profile`` moved to suggestions (a model's prose is left as it is)."""
    moved = [
        w
        for w in before.get("workflows") or []
        if isinstance(w, dict) and w.get("schedule") and w not in (after.get("workflows") or [])
    ]
    lines = [f"- {w.get('type')} at cron '{w.get('schedule')}': " for w in moved]
    parts = []
    for part in system_prompt.split("\n\n"):
        if part.startswith("Scheduled work:\n"):
            kept = [r for r in part.split("\n")[1:] if not r.startswith(tuple(lines))]
            if not kept:
                continue
            part = "\n".join(["Scheduled work:", *kept])
        parts.append(part)
    return "\n\n".join(parts)
