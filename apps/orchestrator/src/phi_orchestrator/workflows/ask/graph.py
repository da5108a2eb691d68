"""ASK: search the agent's documents, then answer with class ``light``, citing passages."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from phi_llm.errors import LLMError
from phi_llm.types import CallContext, ChatRequest, ChatResult
from phi_orchestrator.workflows.ask.answer import COMPOSER_TASK, answer_messages, compose_answer
from phi_orchestrator.workflows.base import WorkflowContext, step


class AskInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=20)


class AskState(TypedDict, total=False):
    input: dict[str, Any]
    agent: dict[str, Any]
    passages: list[dict[str, Any]]
    output: dict[str, Any]


@step("search_documents")
async def search_documents(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    agent = await ctx.task.agent()
    passages = await ctx.task.search_documents(state["input"]["question"], state["input"]["top_k"])
    return {"agent": agent, "passages": passages}, f"{len(passages)} passage(s) found"


@step("answer")
async def answer(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    passages = state.get("passages", [])
    facts = {"question": state["input"]["question"], "passages": passages}
    try:
        result = await ctx.router.chat(
            answer_messages(
                state["input"]["question"], passages, state["agent"].get("system_prompt")
            ),
            task_class="light",
            facts=facts,
            context=CallContext(
                org_id=ctx.org_id, agent_id=ctx.agent_id, task_id=ctx.task_id, task=COMPOSER_TASK
            ),
        )
    except LLMError as exc:
        # No model could answer: quote the passages instead, and say why.
        text = compose_answer(ChatRequest(model="builtin", messages=[], facts=facts))
        result = ChatResult(
            content=text, provider="builtin", model="builtin", produced_without_llm=True
        )
        await ctx.task.event("answer_fallback", {"reason": str(exc)})
    citations = [
        {
            "n": i,
            "document_id": p["document_id"],
            "document_name": p["document_name"],
            "excerpt": p["excerpt"],
        }
        for i, p in enumerate(passages, start=1)
    ]
    output = {
        "answer": result.content,
        "citations": citations,
        "answer_source": "builtin" if result.produced_without_llm else result.model,
    }
    return {"output": output}, f"answer of {len(result.content)} characters, {len(citations)} cited"


@step("save_result")
async def save_result(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    saved = await ctx.task.save_output(state["output"])
    return {}, "result saved" if saved else "result already saved"


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    graph = StateGraph(AskState, context_schema=WorkflowContext)
    graph.add_node("search_documents", search_documents)
    graph.add_node("answer", answer)
    graph.add_node("save_result", save_result)
    graph.add_edge(START, "search_documents")
    graph.add_edge("search_documents", "answer")
    graph.add_edge("answer", "save_result")
    graph.add_edge("save_result", END)
    return graph
