"""Calls a local agent makes about a tool call it holds: extend the lease, post the result."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from phi_orchestrator.jobs import defer_advance
from phi_orchestrator.local_agents.auth import AgentKeyDep
from phi_orchestrator.settings import OrchestratorSettings
from phi_orchestrator.tool_calls import service
from phi_service.errors import ApiError, InvalidInput
from phi_service.guards import MAX_JSON_DEPTH, json_depth_exceeds

router = APIRouter(tags=["local agents"])


class PayloadTooLarge(ApiError):
    status_code = 413


class LeaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempt: int = Field(ge=1, le=1000)


class LeaseAnswer(BaseModel):
    lease_until: datetime


class ToolCallback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_call_id: uuid.UUID
    task_id: uuid.UUID
    attempt: int = Field(ge=1, le=1000)
    tool: str = Field(min_length=1, max_length=64)
    result: JsonValue = None
    error: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _one_outcome(self) -> ToolCallback:
        if (self.result is None) == (self.error is None):
            raise ValueError("give exactly one of 'result' and 'error'")
        return self


class CallbackAnswer(BaseModel):
    status: str


@router.post("/tool-calls/{tool_call_id}/lease", response_model=LeaseAnswer)
async def extend_lease(
    tool_call_id: uuid.UUID,
    body: LeaseRequest,
    request: Request,
    key: AgentKeyDep,
) -> LeaseAnswer:
    """Keep working on a call: 409 once the attempt was superseded or the task cancelled."""
    settings: OrchestratorSettings = request.app.state.settings
    async with request.app.state.db.sessionmaker() as session:
        lease_until = await service.extend_lease(
            session, tool_call_id, key.agent_id, body.attempt, settings.lease_seconds
        )
    return LeaseAnswer(lease_until=lease_until)


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"the result is over the {cap} byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise PayloadTooLarge(f"the result is over the {cap} byte limit")
    return bytes(body)


# Characters no row of PostgreSQL can hold: NUL (refused in text and jsonb) and lone UTF-16
# surrogates (no UTF-8 for them). A customer's data may hold them; the result must still be
# delivered, so each is replaced by U+FFFD and counted (the count is on the call's event).
_UNENCODABLE = re.compile("[\x00\ud800-\udfff]")
# In valid JSON both can only arrive as \u escapes (a raw NUL byte is an invalid control
# character, a surrogate has no UTF-8): a body without such an escape needs no walk through
# its (up to PHI_TOOL_RESULT_MAX_BYTES) result. An escaped backslash before "u0000" only
# costs a walk that finds nothing.
_UNENCODABLE_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F])")


def _clean(value: Any) -> tuple[Any, int]:
    """``value`` with every unencodable character replaced, and how many were."""
    if isinstance(value, str):
        return _UNENCODABLE.subn("\ufffd", value)
    if isinstance(value, list):
        items = [_clean(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        out, total = {}, 0
        for k, v in value.items():
            (key, n), (item, m) = _clean(k), _clean(v)
            out[key] = item
            total += n + m
        return out, total
    return value, 0


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _invalid(exc: ValidationError) -> InvalidInput:
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )
    return InvalidInput(f"invalid callback: {detail}")


def _parse_callback(raw: bytes) -> tuple[ToolCallback, int]:
    """The callback with unencodable characters replaced, and their count."""
    try:
        body = ToolCallback.model_validate_json(raw)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise _invalid(exc) from exc
        # The strict parser refuses an escaped lone surrogate ("\ud800") that Python's json
        # (and so many a local agent) writes: read it with that, clean it, validate it.
        try:
            data = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise _invalid(exc) from exc
        data, replaced = _clean(data)
        try:
            return ToolCallback.model_validate(data), replaced
        except ValidationError as again:
            raise _invalid(again) from again
    if not _UNENCODABLE_ESCAPE.search(raw):
        return body, 0
    result, in_result = _clean(body.result)
    error, in_error = _clean(body.error)
    if in_result or in_error:
        body = body.model_copy(update={"result": result, "error": error})
    return body, in_result + in_error


@router.post(
    "/tool-callbacks",
    response_model=CallbackAnswer,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ToolCallback.model_json_schema()}},
        }
    },
)
async def tool_callback(request: Request, key: AgentKeyDep) -> CallbackAnswer:
    """The result (or the error) of a call. Idempotent: the same answer again → ``duplicate``;
    a different one, or one from a superseded attempt → 409."""
    settings: OrchestratorSettings = request.app.state.settings
    raw = await _read_capped(request, settings.tool_result_max_bytes)
    # This route reads its own body (past the services' input guard, for its larger cap),
    # so it applies the guard's depth limit itself.
    if json_depth_exceeds(raw):
        raise InvalidInput(
            f"invalid callback: arrays and objects are nested more than {MAX_JSON_DEPTH} levels"
        )
    body, replaced = _parse_callback(raw)
    result: Any = body.result
    async with request.app.state.db.sessionmaker() as session:
        status, task_id = await service.record_callback(
            session,
            key.agent_id,
            body.tool_call_id,
            body.task_id,
            body.attempt,
            body.tool,
            result,
            body.error,
            replaced_characters=replaced,
        )
    if status == "accepted":
        await defer_advance(request.app.state.jobs, task_id)
    return CallbackAnswer(status=status)
