"""AGENT_TASK: a task given in words, done by the agent with its tools, step by step."""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph

from phi_orchestrator.workflows.agent_task.graph import build_graph
from phi_orchestrator.workflows.agent_task.schemas import AgentTaskInput
from phi_orchestrator.workflows.base import Workflow
from phi_orchestrator.workflows.registry import register


@register
class AgentTask(Workflow):
    type = "AGENT_TASK"
    description = (
        "A task given in plain words: the agent reasons with the model and uses its tools "
        "(documents, the customer's database and files through the local agent, its other "
        "workflows) until it can answer, citing its evidence"
    )
    input_model = AgentTaskInput
    # Needs a model that calls tools: the builtin provider cannot run it.
    needs_tool_calling = True

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        return build_graph()
