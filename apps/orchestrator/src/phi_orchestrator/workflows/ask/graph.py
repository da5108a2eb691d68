"""ASK: search the agent's documents and recall its memories (its own and its
organization's), then answer with class ``light``, citing both."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from phi_llm.errors import LLMError
from phi_llm.types import CallContext, ChatRequest, ChatResult
from phi_orchestrator.workflows.ask.answer import (
    COMPOSER_TASK,
    answer_messages,
    compose_answer,
    sources,
)
from phi_orchestrator.workflows.base import WorkflowContext, step
from phi_search.memory import days_named

# Memories cited at most: facts are short, and a question is about one or two of them.
MAX_MEMORIES = 3


class AskInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=20)


class AskState(TypedDict, total=False):
    input: dict[str, Any]
    agent: dict[str, Any]
    passages: list[dict[str, Any]]
    memories: list[dict[str, Any]]
    output: dict[str, Any]


@step("search_documents")
async def search_documents(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    agent = await ctx.task.agent()
    passages = await ctx.task.search_documents(state["input"]["question"], state["input"]["top_k"])
    return {"agent": agent, "passages": passages}, f"{len(passages)} passage(s) found"


def on_the_days_asked(question: str, memories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """When the question names a day and a report of that day is remembered, the reports of
    other days answer another question and are left out."""
    days = {d.isoformat() for d in days_named(question)}
    if not any(m.get("report_day") in days for m in memories):
        return memories
    return [m for m in memories if not m.get("report_day") or m["report_day"] in days]


@step("recall")
async def recall(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    question = state["input"]["question"]
    found = await ctx.task.recall(question, min(MAX_MEMORIES, state["input"]["top_k"]))
    memories = on_the_days_asked(question, found)
    return {"memories": memories}, f"{len(memories)} memory(ies) recalled"


@step("answer")
async def answer(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    question = state["input"]["question"]
    cited = sources(state.get("passages", []), state.get("memories", []))
    facts = {"question": question, "sources": cited}
    try:
        result = await ctx.router.chat(
            answer_messages(question, cited, state["agent"].get("system_prompt")),
            task_class="light",
            facts=facts,
            context=CallContext(
                org_id=ctx.org_id, agent_id=ctx.agent_id, task_id=ctx.task_id, task=COMPOSER_TASK
            ),
        )
    except LLMError as exc:
        # No model could answer: quote the sources instead, and say why.
        text = compose_answer(ChatRequest(model="builtin", messages=[], facts=facts))
        result = ChatResult(
            content=text, provider="builtin", model="builtin", produced_without_llm=True
        )
        await ctx.task.event("answer_fallback", {"reason": str(exc)})
    citations = [{k: v for k, v in s.items() if k != "text"} for s in cited]
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
    order = [search_documents, recall, answer, save_result]
    previous = START
    for node in order:
        graph.add_node(node.__name__, node)
        graph.add_edge(previous, node.__name__)
        previous = node.__name__
    graph.add_edge(previous, END)
    return graph
