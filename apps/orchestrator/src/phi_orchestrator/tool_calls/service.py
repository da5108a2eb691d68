"""Tool calls on the server side: atomic claims with a lease, lease extension, idempotent
callbacks (docs/local-agent-protocol.md)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from phi_orchestrator.tasks.events import add_event
from phi_orchestrator.tool_calls import repository
from phi_service.errors import Conflict, Forbidden, InvalidInput, NotFound


async def claim_pending_tool_calls(
    session: AsyncSession,
    agent_id: uuid.UUID,
    local_agent_id: uuid.UUID,
    tools: list[str],
    max_calls: int,
    lease_seconds: int,
) -> list[dict[str, Any]]:
    """Claim up to ``max_calls`` open calls of the agent for this local agent, in one
    statement, and record the claims as task events."""
    if not tools:
        return []
    rows = await repository.claim(
        session, agent_id, local_agent_id, tools, max_calls, lease_seconds
    )
    for row in rows:
        if row.previous_status == "CLAIMED":
            await add_event(
                session,
                row.task_id,
                "tool_call_lease_expired",
                {"tool_call_id": str(row.id), "attempt": row.attempt - 1},
            )
        await add_event(
            session,
            row.task_id,
            "tool_call_claimed",
            {
                "tool_call_id": str(row.id),
                "step": row.step,
                "tool": row.tool,
                "attempt": row.attempt,
                "local_agent_id": str(local_agent_id),
            },
        )
    await session.commit()
    return [
        {
            "tool_call_id": row.id,
            "task_id": row.task_id,
            "step": row.step,
            "tool": row.tool,
            "attempt": row.attempt,
            "lease_until": row.lease_until,
            "payload": row.payload,
        }
        for row in rows
    ]


async def _call_for_update(
    session: AsyncSession, tool_call_id: uuid.UUID, agent_id: uuid.UUID
) -> Any:
    row = await repository.get_for_update(session, tool_call_id)
    if row is None:
        raise NotFound("tool call not found")
    if row.agent_id != agent_id:
        raise Forbidden("this key belongs to another agent; it cannot reach this tool call")
    return row


async def extend_lease(
    session: AsyncSession,
    tool_call_id: uuid.UUID,
    agent_id: uuid.UUID,
    attempt: int,
    lease_seconds: int,
) -> Any:
    row = await _call_for_update(session, tool_call_id, agent_id)
    if row.task_status == "CANCELLED" or row.status == "CANCELLED":
        raise Conflict("the task was cancelled: abandon this call")
    if row.status != "CLAIMED" or row.attempt != attempt:
        raise Conflict(
            f"attempt {attempt} of this call is no longer current (call {row.status}, "
            f"attempt {row.attempt}): abandon it"
        )
    lease_until = await repository.extend_lease(session, tool_call_id, lease_seconds)
    await session.commit()
    return lease_until


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def result_digest(result: Any, error: str | None) -> str:
    return _digest(canonical_json(result), error)


def _digest(result_json: str, error: str | None) -> str:
    # The digest of {"result": ..., "error": ...} in canonical JSON ("error" sorts first),
    # put together from the result's own canonical text so that it is written out once.
    canonical = '{"error":' + canonical_json(error) + ',"result":' + result_json + "}"
    return hashlib.sha256(canonical.encode()).hexdigest()


async def record_callback(
    session: AsyncSession,
    agent_id: uuid.UUID,
    tool_call_id: uuid.UUID,
    task_id: uuid.UUID,
    attempt: int,
    tool: str,
    result: Any,
    error: str | None,
    replaced_characters: int = 0,
) -> tuple[str, uuid.UUID]:
    """Store a call's result once. Returns ("accepted" | "duplicate", task id); raises
    Conflict for a different result, a superseded attempt, or a finished/cancelled task.
    ``replaced_characters``: how many unencodable characters the route replaced (on the
    event when any)."""
    # Written out once (a report's result is megabytes), for its digest and to be stored
    # (packed), before the call is locked.
    result_json = canonical_json(result)
    digest = _digest(result_json, error)
    packed = None if result is None else repository.pack_result(result_json)
    row = await _call_for_update(session, tool_call_id, agent_id)
    if row.task_id != task_id:
        raise InvalidInput("task_id is not the task of this tool call")
    if row.tool != tool:
        raise InvalidInput(f"this is a '{row.tool}' call, not '{tool}'")
    if row.status in ("DONE", "FAILED"):
        if row.attempt == attempt and row.result_sha256 == digest:
            await session.rollback()
            return "duplicate", row.task_id
        raise Conflict("this call already has a different result")
    if row.status == "CANCELLED" or row.task_status in ("SUCCESS", "FAILED", "CANCELLED"):
        raise Conflict(f"the task is {row.task_status}: the result is not needed any more")
    if row.status != "CLAIMED" or row.attempt != attempt:
        raise Conflict(
            f"attempt {attempt} was superseded (the call is at attempt {row.attempt}, "
            f"{row.status}); its result is refused"
        )
    status = "FAILED" if error is not None else "DONE"
    await repository.record_outcome(
        session,
        tool_call_id,
        status=status,
        result=packed,
        error=error,
        digest=digest,
    )
    await add_event(
        session,
        row.task_id,
        "tool_call_completed" if status == "DONE" else "tool_call_failed",
        {
            "tool_call_id": str(tool_call_id),
            "attempt": attempt,
            **({"error": error} if error else {}),
            **({"replaced_characters": replaced_characters} if replaced_characters else {}),
        },
    )
    await session.commit()
    return "accepted", row.task_id
