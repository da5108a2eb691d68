"""Agent-task benchmark: orchestration overhead per agent step, model and tool time excluded.

    .venv/bin/python bench/agent_task.py [--tasks 30] [--steps 8] [--smoke]

The real TaskRunner (LangGraph on the Postgres checkpointer, the events, the advisory lock)
runs AGENT_TASK tasks in this process against a migrated database. The model is an in-process
stand-in that answers at once: ``--steps`` turns each asking for one ``search_documents``
call (no documents, so the search returns at once), then the answer. An agent step is one
model turn and its tool call; its overhead is what the task's wall time spends outside the
model and the tool (both timed and subtracted), divided by its steps: checkpoints, events,
state (the conversation grows each turn), limits, prompts. Target: p95 ≤ 30 ms. It also
counts the runner's round trips to PostgreSQL on one more task, run first on a pool of its
own whose connections are traced (libpq's trace, ``phi_service.round_trips``; tracing slows a
connection, so the timed tasks run untraced), per agent step, the whole task's included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class InstantModel:
    """The router's interface, answering at once: ``steps`` tool calls, then an answer."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.seconds = 0.0

    async def chat(self, messages: list[Any], **kwargs: Any) -> Any:
        from phi_llm.types import ChatResult

        started = time.perf_counter()
        turn = sum(1 for m in messages if m["role"] == "assistant")
        if turn < self.steps:
            call = {
                "id": f"call_{turn}",
                "type": "function",
                "function": {
                    "name": "search_documents",
                    "arguments": json.dumps({"query": f"late orders {turn}"}),
                },
            }
            result = ChatResult("", "bench", "instant", 900, 20, "tool_calls", tool_calls=[call])
        else:
            result = ChatResult("Zone B had most late orders.", "bench", "instant", 900, 20)
        self.seconds += time.perf_counter() - started
        return result

    async def supports_tools(self, task_class: str) -> bool:
        return True


class NoKnowledge:
    """Search and memory with nothing stored, timed (the tool time subtracted)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    async def search_documents(self, *args: Any) -> list[dict[str, Any]]:
        started = time.perf_counter()
        self.seconds += time.perf_counter() - started
        return []


async def run(url: str, tasks: int, steps: int) -> tuple[list[float], float]:
    """Overhead per agent step of each task, and round trips per agent step."""
    from phi_orchestrator.runtime import TaskRunner, open_pool
    from phi_orchestrator.workflows.agent_task.limits import AgentTaskLimits
    from phi_service.round_trips import RoundTrips

    with psycopg.connect(url, autocommit=True) as conn:
        (org,) = conn.execute(
            "INSERT INTO organizations (name) VALUES ('bench') RETURNING id"
        ).fetchone()  # type: ignore[misc]
        (agent,) = conn.execute(
            "INSERT INTO agents (org_id, name, system_prompt) VALUES (%s, 'bench', "
            "'You are the warehouse analyst.') RETURNING id",
            (org,),
        ).fetchone()  # type: ignore[misc]
        ids = [
            conn.execute(
                "INSERT INTO tasks (agent_id, org_id, type, input) VALUES (%s, %s, "
                "'AGENT_TASK', %s) RETURNING id",
                (agent, org, json.dumps({"instruction": f"Which zone was late? ({i})"})),
            ).fetchone()[0]  # type: ignore[index]
            for i in range(tasks + 3)
        ]
    trips = RoundTrips()
    traced = open_pool(url, max_size=2, name="bench-agent-task-traced", configure=trips.trace)
    await traced.open()
    try:
        runner = TaskRunner(
            traced,
            InstantModel(steps),  # type: ignore[arg-type]
            knowledge=NoKnowledge(),  # type: ignore[arg-type]
            extras={"agent_task_limits": AgentTaskLimits(max_steps=steps + 1)},
        )
        before = trips.count()
        assert await runner.advance(uuid.UUID(str(ids.pop()))) == "SUCCESS"
        round_trips = (trips.count() - before) / steps
    finally:
        await traced.close()
        trips.close()
    pool = open_pool(url, max_size=6, name="bench-agent-task")
    await pool.open()
    per_step: list[float] = []
    # One runner, as in a worker: the graph is compiled once, not per task.
    runner = TaskRunner(
        pool,
        InstantModel(steps),  # type: ignore[arg-type]
        extras={"agent_task_limits": AgentTaskLimits(max_steps=steps + 1)},
    )
    try:
        for i, task_id in enumerate(ids):
            model, knowledge = InstantModel(steps), NoKnowledge()
            runner.router, runner.knowledge = model, knowledge  # type: ignore[assignment]
            started = time.perf_counter()
            status = await runner.advance(uuid.UUID(str(task_id)))
            wall = time.perf_counter() - started
            assert status == "SUCCESS", status
            if i >= 2:  # two warm-up tasks (graph compiled, connections open)
                spent = wall - model.seconds - knowledge.seconds
                per_step.append(spent / steps * 1000)
    finally:
        await pool.close()
    return per_step, round_trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--steps", type=int, default=8)
    smoke_argument(parser)
    args = parser.parse_args()
    if args.smoke:
        args.tasks, args.steps = 2, 2
    with server() as pg:
        url = database(pg, "phi_bench_agent_task")
        per_step, trips = asyncio.run(run(url, args.tasks, args.steps))
    print(
        f"AGENT_TASK orchestration overhead per agent step ({args.tasks} tasks x {args.steps} "
        f"steps, model and tool time excluded): p50 {pct(per_step, 0.5):.1f} ms, "
        f"p95 {pct(per_step, 0.95):.1f} ms, max {max(per_step):.1f} ms (target p95 <= 30 ms); "
        f"{trips:.2f} database round trips per agent step, whole task included"
    )


if __name__ == "__main__":
    main()
