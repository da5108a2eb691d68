"""The parts of a finished task's result that every renderer reads, taken defensively from
the stored output (an output from before charts existed, or of a workflow without them, still
renders: title and summary fall back to the task's type and status)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from phi_orchestrator.results.spec import Chart, charts_of


@dataclass(frozen=True)
class ResultDocument:
    task_id: str
    agent_id: str
    task_type: str
    title: str
    summary: str
    anomalies: list[str]
    charts: list[Chart]
    report_md: str
    link: str | None
    day: str | None = None
    metrics: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def task_link(web_url: str | None, agent_id: str, task_id: str) -> str | None:
    """Where the web app shows the task (None when no web address is configured)."""
    if not web_url:
        return None
    return f"{web_url.rstrip('/')}/agents/{agent_id}?tab=tasks&task={task_id}"


def result_document(task: Mapping[str, Any], web_url: str | None) -> ResultDocument:
    raw = task.get("output")
    output: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    raw_metrics = output.get("metrics")
    metrics: Mapping[str, Any] = raw_metrics if isinstance(raw_metrics, Mapping) else {}
    anomalies = [str(a) for a in output.get("anomalies") or [] if isinstance(a, str)]
    report_md = output.get("full_report_md") or output.get("answer_md") or output.get("answer")
    summary = output.get("summary_text") or output.get("summary")
    return ResultDocument(
        task_id=str(task["id"]),
        agent_id=str(task["agent_id"]),
        task_type=str(task["type"]),
        title=str(output.get("title") or task["type"]),
        summary=str(summary) if summary else f"{task['type']}: {task.get('status', '')}".strip(),
        anomalies=anomalies,
        charts=charts_of(output),
        report_md=report_md if isinstance(report_md, str) else "",
        link=task_link(web_url, str(task["agent_id"]), str(task["id"])),
        day=str(metrics["day"]) if metrics.get("day") else None,
        metrics=metrics or None,
    )
