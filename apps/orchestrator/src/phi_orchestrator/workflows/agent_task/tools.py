"""The tools an agent task may offer the model, each with the JSON Schema of its arguments,
and how each call is carried out.

A tool is offered only when the agent has what it needs: ``db_schema``/``db_query`` need the
agent's ``db`` tool, ``file_list``/``file_read`` its ``file`` tool (both answered by the local
agent, under the customer's policy, through the tool-call protocol), ``run_workflow`` a
workflow in the agent's config; ``search_documents`` is always there. A call's outcome is
text for the model (a ``<data>`` block, or an error it can react to), figures for the task's
event (rows, bytes), and the evidence the final answer lists.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from pydantic import ValidationError

from phi_llm.types import tool_spec
from phi_orchestrator.workflows.agent_task.charts import series_chart
from phi_orchestrator.workflows.agent_task.limits import AgentTaskLimits, LimitReached
from phi_orchestrator.workflows.agent_task.prompt import data_block
from phi_orchestrator.workflows.base import WorkflowContext

# Workflow types an agent task may start (never itself: no task trees).
RUNNABLE_TYPES = ("DAILY_WAREHOUSE_REPORT", "ASK")


@dataclass
class ToolOutcome:
    content: str
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    parameters: dict[str, Any]
    # The agent's tool (catalog key) it needs, or None.
    needs: str | None
    run: Callable[[WorkflowContext, str, dict[str, Any], AgentTaskLimits], Awaitable[ToolOutcome]]

    def spec(self) -> dict[str, Any]:
        # A copy: a task's offer may narrow it (run_workflow's types) without touching
        # the tool's own schema, which every task shares.
        return tool_spec(self.name, self.description, copy.deepcopy(self.parameters))


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


CONNECTION = {
    "type": "string",
    "maxLength": 64,
    "description": "A database connection of the local policy; leave out for the default",
}


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, saying what was cut."""
    if len(text) <= limit:
        return text
    return (
        text[:limit]
        + f"\n[cut by the task's result limit: the first {limit} of {len(text)} characters are "
        "shown; ask for fewer rows or columns]"
    )


def _local_error(call: dict[str, Any]) -> str:
    error = str(call.get("error") or "failed")
    if error.startswith("time limit:"):
        raise LimitReached("time", error.removeprefix("time limit: "))
    return error


async def _local(
    ctx: WorkflowContext, step: str, tool: str, payload: dict[str, Any], limits: AgentTaskLimits
) -> dict[str, Any]:
    return await ctx.task.local_call(step, tool, payload, limits.tool_seconds)  # type: ignore[attr-defined, no-any-return]


async def search_documents(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    try:
        async with asyncio.timeout(limits.tool_seconds):
            hits = await ctx.task.search_documents(args["query"], int(args.get("top_k", 5)))
    except TimeoutError as exc:
        raise LimitReached(
            "time", f"search_documents took longer than {limits.tool_seconds:g} seconds"
        ) from exc
    passages = [
        {
            "n": i,
            "document": h["document_name"],
            "page": h.get("page"),
            "text": h["text"],
        }
        for i, h in enumerate(hits, start=1)
    ]
    text = cut(json.dumps({"passages": passages}, ensure_ascii=False), limits.result_chars)
    return ToolOutcome(
        data_block("search_documents", text),
        metrics={"passages": len(passages), "bytes": len(text)},
        evidence=[
            {
                "kind": "passage",
                "document_id": h.get("document_id"),
                "document_name": h["document_name"],
                "page": h.get("page"),
                "excerpt": h.get("excerpt") or h["text"][:300],
            }
            for h in hits
        ],
    )


def _memory_source(m: dict[str, Any]) -> str:
    if m.get("report_day"):
        return f"remembered from the report of {m['report_day']}"
    day = str(m.get("created_at") or "")[:10]
    if m.get("source") == "user":
        return f"noted by a person on {day}"
    return f"remembered from task {m.get('source_task_id')} on {day}"


async def recall(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    try:
        async with asyncio.timeout(limits.tool_seconds):
            found = await ctx.task.recall(args["query"], int(args.get("top_k", 5)))  # type: ignore[attr-defined]
    except TimeoutError as exc:
        raise LimitReached(
            "time", f"recall took longer than {limits.tool_seconds:g} seconds"
        ) from exc
    memories = [
        {"n": i, "text": m["text"], "source": _memory_source(m), "namespace": m.get("namespace")}
        for i, m in enumerate(found, start=1)
    ]
    text = cut(json.dumps({"memories": memories}, ensure_ascii=False), limits.result_chars)
    return ToolOutcome(
        data_block("recall", text),
        metrics={"memories": len(memories), "bytes": len(text)},
        evidence=[
            {
                "kind": "memory",
                "memory_id": m.get("memory_id"),
                "text": m["text"],
                "source": _memory_source(m),
            }
            for m in found
        ],
    )


async def remember(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    from datetime import datetime

    from phi_service.errors import InvalidInput

    valid_until = None
    if args.get("valid_until"):
        try:
            valid_until = datetime.fromisoformat(args["valid_until"])
        except ValueError:
            return ToolOutcome("", error="valid_until must be an ISO date-time with a time zone")
    try:
        # The same text already remembered is returned, not stored again: a step run again
        # after a worker died remembers once.
        memory = await ctx.task.remember(args["text"], valid_until)  # type: ignore[attr-defined]
    except InvalidInput as exc:  # too long, past valid_until, the org's store full
        return ToolOutcome("", error=str(exc))
    return ToolOutcome(
        data_block("remember", json.dumps({"memory_id": memory.get("memory_id"), "stored": True})),
        metrics={"memory_id": memory.get("memory_id")},
    )


async def db_schema(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    payload = {"action": "schema", "connection": args.get("connection")}
    call = await _local(ctx, step, "db", payload, limits)
    if call["status"] != "DONE":
        return ToolOutcome("", error=_local_error(call))
    text = cut(json.dumps(call["result"], ensure_ascii=False), limits.result_chars)
    tables = len((call["result"] or {}).get("tables") or [])
    return ToolOutcome(
        data_block("db_schema", text), metrics={"tables": tables, "bytes": len(text)}
    )


async def db_query(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    connection = args.get("connection")
    payload = {
        "connection": connection,
        "queries": [{"name": "result", "sql": args["sql"], "params": {}}],
    }
    call = await _local(ctx, step, "db", payload, limits)
    if call["status"] != "DONE":
        return ToolOutcome("", error=_local_error(call))
    result = ((call["result"] or {}).get("results") or {}).get("result") or {}
    rows = result.get("rows") or []
    shown = dict(result)
    text = json.dumps(shown, ensure_ascii=False)
    if len(text) > limits.result_chars:
        # Whole rows that fit, and a note of how many the model does not see.
        keep = len(rows)
        while keep and len(text) > limits.result_chars:
            keep = keep * 3 // 4
            shown = {**result, "rows": rows[:keep]}
            text = json.dumps(shown, ensure_ascii=False)
        text += (
            f"\n[cut by the task's result limit: {keep} of {len(rows)} rows are shown; "
            "aggregate in SQL or select fewer columns]"
        )
    # Numbered by the task's step ("tool_3" -> query 3), so a chart names its query.
    chart = series_chart(
        int(step.rsplit("_", 1)[-1]) if step.rsplit("_", 1)[-1].isdigit() else 0,
        args["sql"],
        result.get("columns") or [],
        rows,
        bool(result.get("truncated")),
    )
    return ToolOutcome(
        data_block("db_query", text),
        metrics={"rows": len(rows), "bytes": len(text)},
        evidence=[
            {
                "kind": "sql",
                "sql": args["sql"],
                "connection": connection,
                "row_count": int(result.get("row_count", len(rows))),
                "truncated": bool(result.get("truncated")),
                **({"chart": chart} if chart else {}),
            }
        ],
    )


async def file_list(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    call = await _local(ctx, step, "file", {"action": "list", "path": args.get("path")}, limits)
    if call["status"] != "DONE":
        return ToolOutcome("", error=_local_error(call))
    text = cut(json.dumps(call["result"], ensure_ascii=False), limits.result_chars)
    files = len((call["result"] or {}).get("files") or [])
    return ToolOutcome(data_block("file_list", text), metrics={"files": files, "bytes": len(text)})


async def file_read(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    payload = {"files": [{"name": "file", "path": args["path"]}]}
    call = await _local(ctx, step, "file", payload, limits)
    if call["status"] != "DONE":
        return ToolOutcome("", error=_local_error(call))
    content = ((call["result"] or {}).get("results") or {}).get("file")
    text = cut(json.dumps(content, ensure_ascii=False), limits.result_chars)
    rows = content.get("row_count") if isinstance(content, dict) else None
    detail = f"{rows} rows" if rows is not None else f"{len(text)} characters"
    return ToolOutcome(
        data_block(f"file {args['path']}", text),
        metrics={"bytes": len(text), **({"rows": rows} if rows is not None else {})},
        evidence=[{"kind": "file", "path": args["path"], "detail": detail}],
    )


async def run_workflow(
    ctx: WorkflowContext, step: str, args: dict[str, Any], limits: AgentTaskLimits
) -> ToolOutcome:
    from phi_orchestrator.runtime import org_today
    from phi_orchestrator.workflows.registry import get_workflow

    type_ = args["type"]
    workflow = get_workflow(type_)
    if workflow is None or type_ not in RUNNABLE_TYPES:
        return ToolOutcome("", error=f"workflow type {type_} cannot be started from a task")
    agent = await ctx.task.agent()
    try:
        data = workflow.input_model.model_validate(args.get("input") or {})
        params = workflow.prepare(data, org_today(agent.get("time_zone")))
    except (ValidationError, ValueError) as exc:
        return ToolOutcome("", error=f"invalid input for {type_}: {exc}")
    except Exception as exc:  # noqa: BLE001 - InvalidInput and friends: the model may fix it
        return ToolOutcome("", error=str(exc))
    # Waited for as long as a tool call may take (no longer than the task has left).
    child = await ctx.task.child_task(step, type_, params, limits.tool_seconds)  # type: ignore[attr-defined]
    evidence = [
        {"kind": "task", "task_id": str(child["id"]), "type": type_, "status": child["status"]}
    ]
    if child["status"] == "CANCELLED" and child.get("past_deadline"):
        raise LimitReached(
            "time",
            f"the {type_} task {child['id']} did not finish within {limits.tool_seconds:g} "
            "seconds and was stopped",
            evidence=evidence,
        )
    if child["status"] != "SUCCESS":
        return ToolOutcome(
            "",
            error=f"the {type_} task {child['id']} ended {child['status']}: {child['error']}",
            evidence=evidence,
        )
    output = child["output"] or {}
    shown = {
        k: output[k]
        # The report's Markdown holds its figures; its metrics document is too long to feed.
        for k in ("summary_text", "full_report_md", "answer", "citations")
        if k in output
    }
    text = cut(
        json.dumps({"task_id": str(child["id"]), **shown}, ensure_ascii=False), limits.result_chars
    )
    return ToolOutcome(
        data_block(f"{type_} result", text), metrics={"bytes": len(text)}, evidence=evidence
    )


TOOLS: dict[str, ToolDef] = {
    t.name: t
    for t in [
        ToolDef(
            "search_documents",
            "Search the organization's and this agent's documents (job descriptions, SOPs, "
            "policies); returns the best passages with their document and page.",
            _object(
                {
                    "query": {"type": "string", "minLength": 1, "maxLength": 500},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
                },
                ["query"],
            ),
            None,
            search_documents,
        ),
        ToolDef(
            "recall",
            "Search what you and your organization remember (facts people told you, summaries "
            "of earlier reports and tasks); each memory comes with its source and date.",
            _object(
                {
                    "query": {"type": "string", "minLength": 1, "maxLength": 500},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
                },
                ["query"],
            ),
            None,
            recall,
        ),
        ToolDef(
            "remember",
            "Keep a short fact for later tasks (in your own memory, with this task as its "
            "source). Only facts worth keeping; never secrets.",
            _object(
                {
                    "text": {"type": "string", "minLength": 1, "maxLength": 2000},
                    "valid_until": {
                        "type": "string",
                        "description": "ISO date-time with time zone after which it is stale",
                    },
                },
                ["text"],
            ),
            None,
            remember,
        ),
        ToolDef(
            "db_schema",
            "List the tables and views of the customer's database that you may read, with "
            "their columns and types.",
            _object({"connection": CONNECTION}, []),
            "db",
            db_schema,
        ),
        ToolDef(
            "db_query",
            "Run one read-only SELECT on the customer's database; returns columns, rows and "
            "the row count. Only the tables db_schema lists can be read.",
            _object(
                {
                    "sql": {"type": "string", "minLength": 1, "maxLength": 20_000},
                    "connection": CONNECTION,
                },
                ["sql"],
            ),
            "db",
            db_query,
        ),
        ToolDef(
            "file_list",
            "List the files shared with you on the customer's machine (CSV, XLSX, JSON, TXT), "
            "optionally under one folder.",
            _object({"path": {"type": "string", "maxLength": 1000}}, []),
            "file",
            file_list,
        ),
        ToolDef(
            "file_read",
            "Read one shared file: tables come back as columns and rows, text as text.",
            _object({"path": {"type": "string", "minLength": 1, "maxLength": 1000}}, ["path"]),
            "file",
            file_read,
        ),
        ToolDef(
            "run_workflow",
            "Run one of your workflows (e.g. DAILY_WAREHOUSE_REPORT for a given day, ASK a "
            "question of your documents) and read its result.",
            _object(
                {
                    "type": {"type": "string", "enum": list(RUNNABLE_TYPES)},
                    "input": {"type": "object"},
                },
                ["type"],
            ),
            "workflows",
            run_workflow,
        ),
    ]
}


def offered(agent: dict[str, Any]) -> list[str]:
    """The tools this agent has: the ones whose needs its tools and config meet."""
    have = set(agent.get("tools") or [])
    workflows = [
        w.get("type")
        for w in (agent.get("config") or {}).get("workflows") or []
        if isinstance(w, dict) and w.get("enabled", True)
    ]
    if any(t in RUNNABLE_TYPES for t in workflows):
        have.add("workflows")
    return [name for name, t in TOOLS.items() if t.needs is None or t.needs in have]


def specs(names: list[str], agent: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        spec = TOOLS[name].spec()
        if name == "run_workflow":
            # Only the types this agent runs.
            types = [
                str(w["type"])
                for w in (agent.get("config") or {}).get("workflows") or []
                if isinstance(w, dict) and w.get("type") in RUNNABLE_TYPES
            ]
            spec["function"]["parameters"]["properties"]["type"]["enum"] = sorted(set(types))
        out.append(spec)
    return out


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    """A checked validator for a schema (checking the schema is most of the cost of
    ``jsonschema.validate``: once per schema, not per call)."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_arguments(
    name: str, raw: str, allowed: list[str], schema: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str | None]:
    """The call's arguments, or the error to give the model (an unknown or not offered tool,
    arguments that are not JSON or do not match the tool's schema: ``schema``, the one
    offered in this task, else the tool's own)."""
    if name not in allowed:
        return {}, f"there is no tool '{name}' in this task; the tools are: {', '.join(allowed)}"
    try:
        args = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        return {}, f"the arguments are not JSON: {exc}"
    if not isinstance(args, dict):
        return {}, "the arguments must be a JSON object"
    validator = _validator(json.dumps(schema or TOOLS[name].parameters, sort_keys=True))
    error = jsonschema.exceptions.best_match(validator.iter_errors(args))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(root)"
        return args, f"invalid arguments at {where}: {error.message}"
    return args, None
