"""AGENT_TASK: prepare → model → (tool → … →) model → … → save_result.

The model node asks the model (class ``heavy``) for the next move with the tools offered;
each tool call it proposes runs in its own tool node, one after the other, so a worker killed
mid-task loses at most the call it was in — and that call does not run twice: a local-agent
call is keyed by (task, step) in ``tool_calls``, a started workflow by (task, step) in
``tasks``, and an approval is asked for once. Each model turn and each finished tool call is
an event stored with its step's checkpoint (once, even when the step runs again).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from phi_llm.errors import BudgetExceeded, LLMError
from phi_llm.types import CallContext, estimate_tokens, prompt_text
from phi_orchestrator.workflows.agent_task import prompt
from phi_orchestrator.workflows.agent_task.charts import answer_charts
from phi_orchestrator.workflows.agent_task.limits import AgentTaskLimits, LimitReached
from phi_orchestrator.workflows.agent_task.tools import TOOLS, check_arguments, offered, specs
from phi_orchestrator.workflows.base import WorkflowContext, WorkflowError, staged_event, step

COMPOSER_TASK = "agent_task"


class AgentTaskState(TypedDict, total=False):
    input: dict[str, Any]
    agent_name: str
    tools: list[str]
    specs: list[dict[str, Any]]
    approvals: list[str]
    messages: list[dict[str, Any]]
    turn: int
    calls: int
    tokens: int
    # Calls of the last model turn not run yet: id, name, arguments (JSON text).
    pending: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    started: float
    # Seconds spent waiting for a person's approval (not counted against the task's time).
    paused: float
    model: str
    output: dict[str, Any]


def limits_of(ctx: WorkflowContext) -> AgentTaskLimits:
    limits = ctx.extras.get("agent_task_limits")
    return limits if isinstance(limits, AgentTaskLimits) else AgentTaskLimits()


def _last_text(state: dict[str, Any]) -> str:
    for message in reversed(state.get("messages") or []):
        if message.get("role") == "assistant" and message.get("content"):
            return str(message["content"])
    return ""


async def _stop(ctx: WorkflowContext, state: dict[str, Any], exc: WorkflowError) -> None:
    """End the task with ``exc``, keeping what was found so far as its result."""
    evidence = [*(state.get("evidence") or []), *getattr(exc, "evidence", [])]
    await ctx.task.save_output(
        {
            "answer": None,
            "partial": True,
            "stopped_by": getattr(exc, "limit", "error"),
            "error": str(exc),
            "last_text": _last_text(state),
            "evidence": evidence,
            "evidence_md": prompt.evidence_markdown(evidence),
            "steps": state.get("turn", 0),
            "tool_calls": state.get("calls", 0),
            "tokens": state.get("tokens", 0),
        }
    )
    raise exc


@step("prepare")
async def prepare(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    agent = await ctx.task.agent()
    tools = offered(agent)
    wanted = ((agent.get("config") or {}).get("agent_tasks") or {}).get("requires_approval") or []
    approvals = [t for t in tools if t in wanted]
    params = state["input"]
    messages = prompt.initial_messages(
        agent, params["instruction"], params.get("context"), limits_of(ctx).max_steps
    )
    update = {
        "agent_name": agent["name"],
        "tools": tools,
        "specs": specs(tools, agent),
        "approvals": approvals,
        "messages": messages,
        "turn": 0,
        "calls": 0,
        "tokens": 0,
        "pending": [],
        "evidence": [],
        "started": time.time(),
        "paused": 0.0,
    }
    needing = f"; approval needed for {', '.join(approvals)}" if approvals else ""
    return update, f"tools offered: {', '.join(tools)}{needing}"


def _remaining(
    state: dict[str, Any], limits: AgentTaskLimits, paused: float | None = None
) -> float:
    """Seconds left of the task's time (time awaiting a person's approval not counted)."""
    waited = state.get("paused", 0.0) if paused is None else paused
    return limits.task_seconds - (time.time() - state["started"] - waited)


def _out_of_time(
    limits: AgentTaskLimits, evidence: list[dict[str, Any]] | None = None
) -> LimitReached:
    return LimitReached(
        "time",
        f"the task ran for its {limits.task_seconds:g} seconds without reaching an answer "
        "(time awaiting approval not counted)",
        evidence,
    )


def _check_time(
    state: dict[str, Any], limits: AgentTaskLimits, paused: float | None = None
) -> float:
    """The seconds left, or the time limit when none are."""
    left = _remaining(state, limits, paused)
    if left <= 0:
        raise _out_of_time(limits)
    return left


@step(lambda state: f"model_{state.get('turn', 0) + 1}")
async def model(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    limits = limits_of(ctx)
    turn = state["turn"] + 1
    tokens = state["tokens"]
    try:
        left = _check_time(state, limits)
        if turn > limits.max_steps:
            raise LimitReached(
                "step", f"the task used its {limits.max_steps} steps without reaching an answer"
            )
        needed = (
            estimate_tokens(prompt_text(state["messages"]) + json.dumps(state["specs"]))
            + limits.max_output_tokens
        )
        if state["tokens"] + needed > limits.max_tokens:
            raise LimitReached(
                "token",
                f"the next model call needs about {needed} tokens and the task has used "
                f"{state['tokens']} of its {limits.max_tokens}",
            )
        # The model's answer is waited for only as long as the task has time left.
        deadline = asyncio.timeout(left)
        try:
            async with deadline:
                result = await ctx.router.chat(
                    state["messages"],  # type: ignore[arg-type]
                    task_class="heavy",
                    tools=state["specs"] or None,
                    tool_choice="auto" if state["specs"] else None,
                    max_tokens=limits.max_output_tokens,
                    context=CallContext(
                        org_id=ctx.org_id,
                        agent_id=ctx.agent_id,
                        task_id=ctx.task_id,
                        task=COMPOSER_TASK,
                    ),
                )
        except TimeoutError as exc:
            if deadline.expired():
                raise _out_of_time(limits) from exc
            raise WorkflowError(f"the model could not answer: {exc}") from exc
        except BudgetExceeded as exc:
            # Refused before the model is asked: nothing was sent to it.
            raise LimitReached("budget", str(exc)) from exc
        except LLMError as exc:
            raise WorkflowError(f"the model could not answer: {exc}") from exc
        tokens = state["tokens"] + result.tokens_in + result.tokens_out
        calls = [
            {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in result.tool_calls
        ]
        await staged_event(
            ctx,
            "model_turn",
            {
                "turn": turn,
                "model": result.model,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "latency_ms": result.latency_ms,
                "text": result.content[:2000],
                "tool_calls": [
                    {"tool": c["name"], "arguments": c["arguments"][:300]} for c in calls
                ],
            },
        )
        if calls and turn >= limits.max_steps:
            # No turn left to read what these calls would return: they are not run.
            raise LimitReached(
                "step", f"the task used its {limits.max_steps} steps without reaching an answer"
            )
        if calls and tokens >= limits.max_tokens:
            raise LimitReached(
                "token", f"the task has used {tokens} of its {limits.max_tokens} model tokens"
            )
    except WorkflowError as exc:
        await _stop(ctx, {**state, "turn": turn, "tokens": tokens}, exc)
        raise  # _stop raises; this line is for the type checker
    assistant: dict[str, Any] = {"role": "assistant", "content": result.content or ""}
    if result.tool_calls:
        assistant["tool_calls"] = result.tool_calls
    update: dict[str, Any] = {
        "turn": turn,
        "tokens": tokens,
        "messages": [*state["messages"], assistant],
        "pending": calls,
        "model": result.model,
    }
    if calls:
        return update, f"{len(calls)} tool call(s): {', '.join(c['name'] for c in calls)}"
    evidence = state.get("evidence") or []
    update["output"] = {
        "answer": prompt.answer_markdown(result.content, evidence),
        "answer_text": result.content,
        "evidence": evidence,
        "steps": turn,
        "tool_calls": state.get("calls", 0),
        "tokens": tokens,
        "model": result.model,
        "stopped_by": None,
        # Drawn from the rows the queries returned, not from the model's text.
        "charts": answer_charts(evidence),
    }
    return update, f"answer of {len(result.content)} characters"


@step(lambda state: f"tool_{state.get('calls', 0) + 1}")
async def tool(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    limits = limits_of(ctx)
    number = state["calls"] + 1
    label = f"tool_{number}"
    call = state["pending"][0]
    name = call["name"]
    offered_schema = next(
        (s["function"]["parameters"] for s in state["specs"] if s["function"]["name"] == name),
        None,
    )
    args, error = check_arguments(name, call["arguments"], state["tools"], offered_schema)
    paused = state.get("paused", 0.0)
    try:
        if error is None and name in state.get("approvals", []):
            # The time is checked once the decision is in, with the wait for it left out
            # (checked before, the wait of a resumed step would count).
            decision = await ctx.task.approval(  # type: ignore[attr-defined]
                label, {"tool": name, "arguments": args, "step": label, "turn": state["turn"]}
            )
            paused += float(decision.get("waited_seconds") or 0)
            if decision["decision"] == "expired":
                raise LimitReached(
                    "approval", f"{name} was not approved or rejected: {decision.get('reason')}"
                )
            if decision["decision"] != "approved":
                reason = decision.get("reason") or "no reason given"
                error = f"a person rejected this call: {reason}"
        left = _check_time(state, limits, paused)
        await ctx.task.event_once(
            "tool_call_started",
            label,
            {
                "step": label,
                "call": number,
                "turn": state["turn"],
                "tool": name,
                "arguments": prompt.args_summary(args) if args else call["arguments"][:300],
                **({"sql": args.get("sql")} if name == "db_query" else {}),
            },
        )
        started = time.perf_counter()
        if error is None:
            # A call gets its own limit, or what is left of the task's when that is less.
            call_limits = replace(limits, tool_seconds=min(limits.tool_seconds, left))
            try:
                outcome = await TOOLS[name].run(ctx, label, args, call_limits)
            except LimitReached as exc:
                if exc.limit == "time" and _remaining(state, limits, paused) <= 0:
                    raise _out_of_time(limits, exc.evidence) from exc
                raise
            error = outcome.error
        else:
            outcome = None
    except WorkflowError as exc:
        await _stop(ctx, {**state, "paused": paused}, exc)
        raise
    duration = round((time.perf_counter() - started) * 1000, 1)
    content = (
        outcome.content
        if outcome is not None and error is None
        else "The call failed: " + prompt.data_block(f"{name} error", str(error))
    )
    await staged_event(
        ctx,
        "tool_call_finished",
        {
            "step": label,
            "call": number,
            "tool": name,
            "duration_ms": duration,
            **(outcome.metrics if outcome is not None else {}),
            **({"error": error} if error else {}),
            **({"refused": True} if error and "refused" in error else {}),
        },
    )
    evidence = [*state["evidence"], *(outcome.evidence if outcome is not None else [])]
    update = {
        "calls": number,
        "pending": state["pending"][1:],
        "messages": [
            *state["messages"],
            {"role": "tool", "tool_call_id": call["id"], "content": content},
        ],
        "evidence": evidence,
        "paused": paused,
    }
    return update, f"{name}: {'error: ' + error if error else 'ok'} ({duration} ms)"


@step("save_result")
async def save_result(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    saved = await ctx.task.save_output(state["output"])
    return {}, "result saved" if saved else "result already saved"


def _after_model(state: dict[str, Any]) -> str:
    return "save_result" if state.get("output") else "tool"


def _after_tool(state: dict[str, Any]) -> str:
    return "tool" if state.get("pending") else "model"


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    graph = StateGraph(AgentTaskState, context_schema=WorkflowContext)
    graph.add_node("prepare", prepare)
    graph.add_node("model", model)
    graph.add_node("tool", tool)
    graph.add_node("save_result", save_result)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "model")
    graph.add_conditional_edges("model", _after_model, ["tool", "save_result"])
    graph.add_conditional_edges("tool", _after_tool, ["tool", "model"])
    graph.add_edge("save_result", END)
    return graph
