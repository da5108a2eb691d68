"""DAILY_WAREHOUSE_REPORT: load agent config → fetch data → fetch docs → analysis →
report formatter → remember the day → save result. Each node may run again (after a crash or
a tool wait), so the ones with side effects are idempotent: the tool call is keyed by (task,
step), the day's memory is one per agent and day, and the result is saved only while the
task is unfinished."""

from __future__ import annotations

from datetime import date
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from langgraph.graph import END, START, StateGraph

from phi_llm.errors import LLMError
from phi_llm.types import CallContext, ChatRequest, ChatResult
from phi_orchestrator.workflows.base import WorkflowContext, WorkflowError, step
from phi_orchestrator.workflows.daily_warehouse_report import contract, headline, narrative, report
from phi_orchestrator.workflows.daily_warehouse_report.analysis import (
    HISTORY_DAYS,
    DailyAnalysis,
    UnreadableData,
    analyse,
    check_time_ranges,
    read_times,
)
from phi_orchestrator.workflows.daily_warehouse_report.charts import build_charts
from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables
from phi_orchestrator.workflows.daily_warehouse_report.trends import TREND_DAYS, Trends, trends
from phi_service.errors import InvalidInput


def org_zone(name: str | None) -> ZoneInfo:
    """The org's time zone (UTC when unset or unknown), in which offsets are read."""
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


DOCS_QUERY = "daily warehouse report targets late orders dock picking procedure escalation"


class ReportState(TypedDict, total=False):
    input: dict[str, Any]
    agent: dict[str, Any]
    # Where the rows are (the sample, or the fetch_data tool call's stored result), not the
    # rows themselves: megabytes of rows in every checkpoint would be the slowest part.
    data: dict[str, Any]
    docs: list[dict[str, Any]]
    metrics: DailyAnalysis
    trends: Trends
    # The report as written; save_result adds the figures it was written from (metrics and
    # trends, kept once in the state rather than copied into every checkpoint of the output)
    # and the day's memory.
    output: dict[str, Any]
    memory_id: str


@step("load_agent_config")
async def load_agent_config(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    agent = await ctx.task.agent()
    workflows = (agent.get("config") or {}).get("workflows", [])
    return {"agent": agent}, f"agent '{agent['name']}', {len(workflows)} workflow(s) configured"


@step("fetch_data")
async def fetch_data(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    params = state["input"]
    day = date.fromisoformat(params["day"])
    if params.get("data_source", "sample") == "sample":
        tables = sample_tables(day)
        source = "built-in sample data"
        data = {"source": "sample"}
    else:
        tool = params.get("tool", "db")
        payload = (
            contract.db_payload(day, params.get("connection"))
            if tool == "db"
            else contract.file_payload(day)
        )
        result = await ctx.task.tool_call("fetch_data", tool, payload)
        try:
            tables = contract.tables_from_result(result)
            contract.time_ranges_from_result(result)
        except contract.ContractError as exc:
            raise WorkflowError(
                f"the local agent's data does not match the contract: {exc}"
            ) from exc
        source = f"the local agent ({tool} tool)"
        data = {"source": "tool_call", "step": "fetch_data"}
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in tables.items())
    return {"data": data}, f"read {counts} from {source}"


@step("fetch_docs")
async def fetch_docs(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    docs = await ctx.task.search_documents(DOCS_QUERY, 3)
    return {"docs": docs}, f"{len(docs)} document passage(s) found"


@step("analysis")
async def analysis(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    day = date.fromisoformat(state["input"]["day"])
    ranges: dict[str, list[Any]] = {}
    if state["data"]["source"] == "sample":
        tables = sample_tables(day)
    else:
        result = await ctx.task.tool_result(state["data"]["step"])
        tables = contract.tables_from_result(result)
        ranges = contract.time_ranges_from_result(result)
    zone = org_zone(state.get("agent", {}).get("time_zone"))
    try:
        check_time_ranges(ranges, zone)
        metrics = analyse(tables, day, zone=zone)
        timed = read_times({t: tables.get(t, []) for t in ("orders", "shipments")}, zone)
    except UnreadableData as exc:
        # Never a report on data it could not read: the task fails saying where.
        raise WorkflowError(f"the warehouse data cannot be read: {exc}") from exc
    # The file tool reads the exports of the day and the 7 days before: its trend is those.
    days = (
        HISTORY_DAYS + 1
        if state["input"].get("data_source") == "local_agent"
        and (state["input"].get("tool", "db") == "file")
        else TREND_DAYS
    )
    found = trends(timed["orders"], timed["shipments"], day, days)
    return {"metrics": metrics, "trends": found}, report.summary_text(metrics)


@step("report_formatter")
async def report_formatter(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    metrics, agent, docs = state["metrics"], state["agent"], state.get("docs", [])
    facts = narrative.narrative_facts(metrics, docs)
    try:
        result = await ctx.router.chat(
            narrative.narrative_messages(facts, agent.get("system_prompt")),
            task_class="heavy",
            facts=facts,
            context=CallContext(
                org_id=ctx.org_id,
                agent_id=ctx.agent_id,
                task_id=ctx.task_id,
                task=narrative.COMPOSER_TASK,
            ),
        )
    except LLMError as exc:
        # No model could write it (budget spent, providers down): the figures still stand,
        # with the prose assembled from them and the reason given.
        text = narrative.compose_narrative(ChatRequest(model="builtin", messages=[], facts=facts))
        result = ChatResult(
            content=text, provider="builtin", model="builtin", produced_without_llm=True
        )
        await ctx.task.event("narrative_fallback", {"reason": str(exc)})
    source = (
        "assembled from the figures without a model (builtin)"
        if result.produced_without_llm
        else f"written by {result.provider}:{result.model} from the figures"
    )
    output = {
        "title": headline.title(metrics),
        "anomalies": headline.anomalies(metrics),
        "full_report_md": report.report_markdown(
            metrics, result.content, source, agent["name"], docs
        ),
        "summary_text": report.summary_text(metrics),
        "charts": build_charts(metrics, state.get("trends") or {}),
        "narrative_source": "builtin" if result.produced_without_llm else result.model,
    }
    return {"output": output}, f"report of {len(output['full_report_md'])} characters; {source}"


@step("remember_day")
async def remember_day(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    """Keep the day's figures as the agent's memory of that day (one per day: a report run
    again for it replaces the memory, and this step run again writes the same one)."""
    metrics = state["metrics"]
    try:
        memory = await ctx.task.remember_report_day(
            date.fromisoformat(metrics["day"]), report.memory_text(metrics)
        )
    except InvalidInput as exc:
        # The organization's memory is full (or the text over PHI_MEMORY_MAX_CHARS): the
        # report stands, it is only not remembered, and the task says why.
        await ctx.task.event("memory_not_kept", {"reason": exc.detail})
        return {}, f"summary not remembered: {exc.detail}"
    return (
        {"memory_id": str(memory["memory_id"])},
        f"summary remembered as the memory of {metrics['day']}",
    )


@step("save_result")
async def save_result(state: dict[str, Any], ctx: WorkflowContext) -> tuple[dict, str]:
    # A checkpoint from before memory_id and the figures were kept apart has them in the
    # output already: the same values.
    output = {**state["output"], "metrics": state["metrics"], "trends": state.get("trends")}
    if state.get("memory_id"):
        output["memory_id"] = state["memory_id"]
    saved = await ctx.task.save_output(output)
    return {}, "result saved" if saved else "result already saved"


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    graph = StateGraph(ReportState, context_schema=WorkflowContext)
    order = [
        load_agent_config,
        fetch_data,
        fetch_docs,
        analysis,
        report_formatter,
        remember_day,
        save_result,
    ]
    previous = START
    for node in order:
        graph.add_node(node.__name__, node)
        graph.add_edge(previous, node.__name__)
        previous = node.__name__
    graph.add_edge(previous, END)
    return graph
