"""ASK: a question answered from the agent's documents and memories, citing them."""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph

from phi_orchestrator.workflows.ask.graph import AskInput, build_graph
from phi_orchestrator.workflows.base import Workflow
from phi_orchestrator.workflows.registry import register


@register
class Ask(Workflow):
    type = "ASK"
    description = "Answer a question from the agent's documents and memories, citing them"
    input_model = AskInput

    def graph(self) -> StateGraph[Any, Any, Any, Any]:
        return build_graph()
