"""Scheduled runs: each enabled workflow with a cron ``schedule`` in an agent's config runs by
itself, in the org's time zone. Every worker may check; a run is created once per slot
(unique index on agent, type and slot), and appears in the task list like a manual run.

Only the latest slot is run, and only within ``CATCH_UP`` of its time: a worker that was down
for a day does not start a burst of old reports when it comes back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import ValidationError

from phi_agent_config import schedule_problem
from phi_agent_config.workflows import INSTRUCTED_WORKFLOW_TYPES
from phi_llm.accounting import spent_budget
from phi_orchestrator.agents import scheduled as scheduled_agents
from phi_orchestrator.runtime import Pool
from phi_orchestrator.tasks import repository as tasks
from phi_orchestrator.tasks.events import add_event
from phi_orchestrator.workflows.registry import get_workflow
from phi_service.audit import Actor, Target, record_event

logger = logging.getLogger(__name__)

CATCH_UP = timedelta(minutes=10)


def latest_slot(cron: str, zone: str, now: datetime) -> datetime | None:
    """The latest time ``cron`` fired at or before ``now``, read in ``zone`` (as UTC)."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local_now = now.astimezone(tz)
    try:
        # A slot exactly at ``now`` counts: get_prev from a moment just after it.
        slot = croniter(cron, local_now + timedelta(microseconds=1)).get_prev(datetime)
    except (ValueError, KeyError):
        return None
    return slot.astimezone(UTC)  # type: ignore[no-any-return]


def due_runs(
    agents: list[dict[str, Any]], now: datetime
) -> list[tuple[dict[str, Any], str, datetime]]:
    """(agent, workflow type, slot) for every enabled scheduled workflow due at ``now``."""
    return [(agent, wf["type"], slot) for agent, wf, slot in due_entries(agents, now)]


def schedule_key(wf: dict[str, Any]) -> str:
    """Tells apart the runs of one slot of an agent's scheduled agent tasks: a digest of the
    entry's input ('' for the other types, which have one run per slot)."""
    if str(wf.get("type")) not in INSTRUCTED_WORKFLOW_TYPES:
        return ""
    text = json.dumps(wf.get("input") or {}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def due_entries(
    agents: list[dict[str, Any]], now: datetime
) -> list[tuple[dict[str, Any], dict[str, Any], datetime]]:
    """(agent, workflow entry, slot) for every enabled scheduled workflow due at ``now``."""
    due = []
    for agent in agents:
        for wf in (agent.get("config") or {}).get("workflows", []) or []:
            if not isinstance(wf, dict) or not wf.get("schedule") or not wf.get("enabled", True):
                continue
            if schedule_problem(wf) is not None or get_workflow(str(wf.get("type"))) is None:
                continue  # GET /agents/{id}/schedules says why
            slot = latest_slot(str(wf["schedule"]), agent.get("time_zone") or "UTC", now)
            if slot is not None and now - slot <= CATCH_UP:
                due.append((agent, {**wf, "type": str(wf["type"])}, slot))
    return due


def schedule_states(
    config: dict[str, Any] | None,
    status: str,
    zone: str,
    now: datetime,
    budget_refusal: str | None = None,
    model_problem: str | None = None,
) -> list[dict[str, Any]]:
    """Every workflow of an agent's config that has a schedule: whether the scheduler runs
    it, why not when it does not (``model_problem``: why this deployment has no model that
    calls tools, for a workflow that needs one), and its next run (UTC); ``skipped`` when its
    slots come but are not run now (a workflow that needs a model while ``budget_refusal``,
    why the org's model calls would be refused, holds)."""
    states = []
    for wf in (config or {}).get("workflows", []) or []:
        if not isinstance(wf, dict) or not wf.get("schedule"):
            continue
        enabled = wf.get("enabled", True) is not False
        problem = schedule_problem({**wf, "enabled": True})
        if problem is None and not enabled:
            problem = "the workflow is disabled in the agent's config"
        if problem is None and status != "ACTIVE":
            problem = f"the agent is {status}; schedules run only for ACTIVE agents"
        if problem is None and model_problem and needs_tool_calling(wf):
            problem = f"{wf.get('type')} needs a model that calls tools, and {model_problem}"
        next_run = None
        skipped = None
        if problem is None:
            next_run = next_slot(str(wf["schedule"]), zone, now)
            if budget_refusal and needs_tool_calling(wf):
                skipped = (
                    "its slots are skipped (each recorded as a failed task) while the "
                    f"{budget_refusal}"
                )
        states.append(
            {
                "type": str(wf.get("type")),
                "schedule": str(wf["schedule"]),
                "description": wf.get("description"),
                "enabled": enabled,
                "runs": problem is None,
                "problem": problem,
                "next_run": next_run,
                "skipped": skipped,
                "instruction": _instruction(wf),
            }
        )
    return states


def needs_tool_calling(wf: dict[str, Any]) -> bool:
    """Whether the entry's workflow type needs a model that calls tools (an agent task)."""
    workflow = get_workflow(str(wf.get("type")))
    return workflow is not None and workflow.needs_tool_calling


def _instruction(wf: dict[str, Any]) -> str | None:
    """The instruction a scheduled agent task runs (None for the other types)."""
    if str(wf.get("type")) not in INSTRUCTED_WORKFLOW_TYPES:
        return None
    given = wf.get("input")
    instruction = given.get("instruction") if isinstance(given, dict) else None
    return instruction if isinstance(instruction, str) else None


def next_slot(cron: str, zone: str, now: datetime) -> datetime | None:
    """The next time ``cron`` fires after ``now``, read in ``zone`` (as UTC)."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    try:
        slot = croniter(cron, now.astimezone(tz)).get_next(datetime)
    except (ValueError, KeyError):
        return None
    return slot.astimezone(UTC)  # type: ignore[no-any-return]


async def start_due_runs(
    pool: Pool, timestamp: float | None = None, settings: Any = None
) -> list[uuid.UUID]:
    """Create the tasks of the slots due now (once each); returns the new tasks' ids.

    With the worker's ``settings``, a workflow that needs a model that calls tools (an agent
    task) is not run where none is configured (GET /agents/{id}/schedules says why), as
    ``run-task`` refuses it."""
    from phi_orchestrator.agent_tasks.model_check import tool_calling_problem

    now = datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)
    async with pool.connection() as conn:
        agents = await scheduled_agents(conn)
    created = []
    # Per organization, why its model calls would be refused now (read once per tick).
    refusals: dict[uuid.UUID, str | None] = {}
    model_problem: list[str | None] = []  # asked once per tick, when an agent task is due
    for agent, wf, slot in due_entries([dict(a) for a in agents], now):
        type_ = wf["type"]
        workflow = get_workflow(type_)
        assert workflow is not None
        if workflow.needs_tool_calling and settings is not None:
            if not model_problem:
                model_problem.append(await tool_calling_problem(settings))
            if model_problem[0] is not None:
                logger.warning(
                    "schedule of %s on agent %s: %s", type_, agent["id"], model_problem[0]
                )
                continue
        try:
            local_day = slot.astimezone(ZoneInfo(agent.get("time_zone") or "UTC")).date()
        except (KeyError, ValueError):
            local_day = slot.date()
        try:
            # An agent task runs the instruction written in its entry; others their defaults.
            data = workflow.input_model.model_validate(
                wf.get("input") or {} if type_ in INSTRUCTED_WORKFLOW_TYPES else {}
            )
            params = workflow.prepare(data, local_day)
        except ValidationError as exc:
            logger.warning("schedule of %s on agent %s: %s", type_, agent["id"], exc)
            continue
        if workflow.needs_tool_calling:
            if agent["org_id"] not in refusals:
                async with pool.connection() as conn:
                    refusal = await spent_budget(conn, agent["org_id"])
                refusals[agent["org_id"]] = None if refusal is None else str(refusal)
            if refusals[agent["org_id"]] is not None:
                await _skip(pool, agent, wf, slot, params, str(refusals[agent["org_id"]]))
                continue
        async with pool.connection() as conn, conn.transaction():
            task_id = await tasks.create_scheduled(
                conn,
                agent_id=agent["id"],
                org_id=agent["org_id"],
                type_=type_,
                input_=params,
                slot=slot,
                key=schedule_key(wf),
            )
            if task_id:
                await add_event(
                    conn,
                    task_id,
                    "task_created",
                    {"trigger": "schedule", "slot": slot.isoformat()},
                )
                await record_event(
                    conn,
                    agent["org_id"],
                    Actor.schedule(agent["id"], agent.get("name")),
                    "task.started",
                    Target("task", task_id, type_),
                    workflow=type_,
                    trigger="schedule",
                    agent_id=agent["id"],
                    agent_name=agent.get("name"),
                )
                created.append(task_id)
    return created


async def _skip(
    pool: Pool,
    agent: dict[str, Any],
    wf: dict[str, Any],
    slot: datetime,
    params: dict[str, Any],
    refusal: str,
) -> None:
    """Record a slot that is not run because the organization's model calls would be refused
    (an agent task could only fail at its first step): a FAILED task of the slot (once) whose
    error starts with ``skipped:``, with ``task_created`` and ``task_skipped`` events."""
    error = f"skipped: {wf['type']} needs a language model, and the {refusal}"
    async with pool.connection() as conn, conn.transaction():
        task_id = await tasks.create_skipped(
            conn,
            agent_id=agent["id"],
            org_id=agent["org_id"],
            type_=wf["type"],
            input_=params,
            slot=slot,
            key=schedule_key(wf),
            error=error,
        )
        if task_id:
            await add_event(
                conn, task_id, "task_created", {"trigger": "schedule", "slot": slot.isoformat()}
            )
            await add_event(conn, task_id, "task_skipped", {"reason": "budget", "error": error})
    if task_id:
        logger.warning("schedule of %s on agent %s: %s", wf["type"], agent["id"], error)
