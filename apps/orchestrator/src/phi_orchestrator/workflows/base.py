"""What every workflow type provides, and what its nodes may use while they run.

A type is one folder under ``workflows/`` with a ``Workflow`` subclass registered in
``registry.py``: its input model (validated when the task is created), and its LangGraph
graph, compiled by the runtime with the Postgres checkpointer (thread id = task id).
Nodes get a :class:`WorkflowContext` as LangGraph's run-time context (never checkpointed).
"""

from __future__ import annotations

import builtins
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Protocol

from langgraph.errors import GraphBubbleUp
from langgraph.graph import StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel

from phi_agent_config.data_contract import DataContract
from phi_llm.types import LLMRouter
from phi_service.db import is_connection_lost

# LangGraph's id of the step run a node body runs in (see ``staged_event``).
current_step_run: ContextVar[str | None] = ContextVar("phi_step_run", default=None)
# Seconds the running step has spent waiting for a local agent's answer within its run (see
# ``note_tool_wait``); a list so that the runtime adds to the step's own total.
_step_tool_wait: ContextVar[list[float] | None] = ContextVar("phi_step_tool_wait", default=None)


def note_tool_wait(seconds: float) -> None:
    """Count ``seconds`` of waiting for a tool's answer against the running step: its
    ``duration_ms`` is the step's own work, as when the wait is an interrupt and a resume,
    and the wait is given apart as ``waited_ms``."""
    total = _step_tool_wait.get()
    if total is not None:
        total[0] += seconds


async def staged_event(ctx: WorkflowContext, event_type: str, payload: dict[str, Any]) -> None:
    """An event stored with the running step's state update: written once if the step
    finishes, never if it is cut off and runs again."""
    await ctx.task.stage_event(current_step_run.get(), event_type, payload)


class WorkflowError(Exception):
    """A failure the task reports as its error (bad data, a refused tool call...)."""


class TaskCancelled(Exception):
    """The task was cancelled while it ran; the runtime stops without touching its status."""


class TaskPort(Protocol):
    """What nodes may do with the task they run for (implemented by the runtime)."""

    async def event(self, event_type: str, payload: dict[str, Any]) -> None: ...

    async def start_step(self, step: str) -> None:
        """Record the step's start; raises TaskCancelled if the task was cancelled."""
        ...

    async def finish_step(self, step_run: str | None, payload: dict[str, Any]) -> None:
        """Record the step's end (``step_finished``) together with the state update the step
        returns, in one transaction, so that a step recorded as finished never runs again.
        ``step_run`` is LangGraph's id of this run of the step."""
        ...

    async def tool_result(self, step: str) -> Any: ...

    async def stage_event(
        self, step_run: str | None, event_type: str, payload: dict[str, Any]
    ) -> None: ...

    async def event_once(self, event_type: str, key: str, payload: dict[str, Any]) -> None:
        """Write the event unless one of that type with ``key`` in its payload exists."""
        ...

    async def tool_call(self, step: str, tool: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    async def agent(self) -> dict[str, Any]: ...

    async def search_documents(self, query: str, top_k: int) -> list[dict[str, Any]]: ...

    async def recall(self, query: str, top_k: int) -> list[dict[str, Any]]:
        """The best live memories of the agent's namespace and its organization's, each a
        dict with its text, source (``task``/``user`` and id), ``report_day`` and dates
        (``phi_orchestrator.knowledge.memory_dict``)."""
        ...

    async def remember(self, text: str, valid_until: datetime | None = None) -> dict[str, Any]:
        """Store a memory in the agent's namespace with this task as its source (once: the
        same text again returns the memory already there)."""
        ...

    async def remember_report_day(self, day: date, text: str) -> dict[str, Any]:
        """The agent's memory of a report's day, written by this task (replaces the day's)."""
        ...

    async def save_output(self, output: dict[str, Any]) -> bool: ...


@dataclass
class WorkflowContext:
    task_id: uuid.UUID
    org_id: uuid.UUID
    agent_id: uuid.UUID
    task: TaskPort
    # phi_llm.Router in-process, or phi_llm.client.RouterClient.
    router: LLMRouter
    # Limits and services of particular workflow types (AGENT_TASK's AgentTaskRuntime).
    extras: dict[str, Any] = field(default_factory=dict)


class Workflow(ABC):
    type: ClassVar[str]
    description: ClassVar[str]
    input_model: ClassVar[builtins.type[BaseModel]]
    # The customer data the type reads (phi_agent_config.data_contract); None: it reads none.
    data_contract: ClassVar[DataContract | None] = None
    # Needs a model that calls tools (run-task refuses it, 409, when none is routed).
    needs_tool_calling: ClassVar[bool] = False

    def prepare(self, data: BaseModel, today: date) -> dict[str, Any]:
        """The task's stored input from the validated one (defaults resolved, e.g. the day)."""
        return data.model_dump(mode="json")

    @abstractmethod
    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        """The uncompiled graph; the runtime compiles it with the checkpointer."""


# Attribute of a node made by ``step``: its label, or the function of the state giving it.
# The runtime reads it to write the ``step_started`` of the steps that run next with the
# checkpoint before them (``TaskHandle.start_step`` then finds it written).
STEP_LABEL = "phi_step_label"

NodeBody = Callable[[dict[str, Any], WorkflowContext], Awaitable[tuple[dict[str, Any], str]]]


def step(
    name: str | Callable[[dict[str, Any]], str],
) -> Callable[[NodeBody], Callable[..., Awaitable[dict[str, Any]]]]:
    """A graph node that writes its start, end, duration and a one-line summary as task events
    (the end with the node's state update, see ``TaskPort.finish_step``). ``name`` may be a
    function of the state, for a node that runs many times (a loop's turns).

    The body returns ``(state update, summary)``. A node waiting on a tool longer than the
    run waits for it (LangGraph's interrupt) writes a ``step_waiting`` event instead of an
    end; it runs again on resume. A wait within the run is left out of ``duration_ms``.
    """

    def wrap(body: NodeBody) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def node(state: dict[str, Any], runtime: Runtime[WorkflowContext]) -> dict[str, Any]:
            ctx = runtime.context
            label = name(state) if callable(name) else name
            await ctx.task.start_step(label)
            started = time.perf_counter()
            info = runtime.execution_info
            current_step_run.set(info.task_id if info else None)
            waited = [0.0]
            _step_tool_wait.set(waited)
            try:
                update, summary = await body(state, ctx)
            except GraphBubbleUp:
                await ctx.task.event("step_waiting", {"step": label})
                raise
            except Exception as exc:
                if is_connection_lost(exc):
                    raise  # the runtime runs the step again once the database answers
                await ctx.task.event(
                    "step_failed",
                    {
                        "step": label,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "error": str(exc) or type(exc).__name__,
                    },
                )
                raise
            await ctx.task.finish_step(
                info.task_id if info else None,
                {
                    "step": label,
                    "duration_ms": round((time.perf_counter() - started - waited[0]) * 1000, 1),
                    **({"waited_ms": round(waited[0] * 1000, 1)} if waited[0] else {}),
                    "summary": summary,
                },
            )
            return update

        # Not functools.wraps: LangGraph reads the signature to pass ``runtime``.
        node.__name__ = body.__name__
        node.__doc__ = body.__doc__
        # The runtime writes a step's start ahead when it knows its label (see STEP_LABEL).
        setattr(node, STEP_LABEL, name)
        return node

    return wrap
