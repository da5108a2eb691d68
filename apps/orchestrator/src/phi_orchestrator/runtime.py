"""Runs a task's graph one stretch at a time: from its last checkpoint until it finishes,
fails, or waits on a tool call. Called by the worker's ``advance_task`` job.

Only one process advances a task at a time: the job carries a procrastinate lock named after
the task, and the runner also holds a PostgreSQL advisory lock on the task for the whole
stretch (released by the server if the process dies), so two workers never run the same step
at once even if a stalled job is handed out again while its first worker still lives.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from phi_orchestrator.workflows.base import TaskCancelled, WorkflowContext, WorkflowError
from phi_orchestrator.workflows.registry import get_workflow

logger = logging.getLogger(__name__)

FINISHED = ("SUCCESS", "FAILED", "CANCELLED")
SearchFn = Callable[[uuid.UUID, uuid.UUID, str, int], Awaitable[list[dict[str, Any]]]]


def advisory_key(task_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for the task."""
    return int.from_bytes(task_id.bytes[8:], "big", signed=True)


Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


def open_pool(conninfo: str, max_size: int, name: str = "phi-orchestrator") -> Pool:
    """A pool the LangGraph checkpointer accepts (autocommit, dict rows, no prepared
    statements) and that the runner's own queries share."""
    return AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[DictRow],
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={
            "autocommit": True,
            "prepare_threshold": None,
            "row_factory": dict_row,
            "application_name": name,
        },
    )


async def add_event(
    conn: AsyncConnection[Any], task_id: uuid.UUID, event_type: str, payload: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO task_events (task_id, event_type, payload) VALUES (%s, %s, %s)",
        (task_id, event_type, Jsonb(payload)),
    )


class TaskHandle:
    """What the nodes of one task may do (the ``TaskPort`` of workflows.base)."""

    def __init__(self, pool: Pool, task: dict[str, Any], search: SearchFn | None) -> None:
        self.pool = pool
        self.task = task
        self.task_id: uuid.UUID = task["id"]
        self._search = search
        self._max_attempts = int(task.get("max_attempts", 3))

    async def event(self, event_type: str, payload: dict[str, Any]) -> None:
        async with self.pool.connection() as conn:
            await add_event(conn, self.task_id, event_type, payload)

    async def start_step(self, step: str) -> None:
        # One round trip: the event is written only while the task is not cancelled.
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO task_events (task_id, event_type, payload) "
                    "SELECT %s, 'step_started', %s WHERE EXISTS (SELECT 1 FROM tasks "
                    "WHERE id = %s AND status <> 'CANCELLED') RETURNING seq",
                    (self.task_id, Jsonb({"step": step}), self.task_id),
                )
            ).fetchone()
        if row is None:
            raise TaskCancelled()

    async def tool_result(self, step: str) -> Any:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT result FROM tool_calls WHERE task_id = %s AND step = %s "
                    "AND status = 'DONE'",
                    (self.task_id, step),
                )
            ).fetchone()
        if row is None:
            raise WorkflowError(f"the result of step {step} is gone")
        return row["result"]

    async def agent(self) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT id, name, status, system_prompt, config FROM agents WHERE id = %s",
                    (self.task["agent_id"],),
                )
            ).fetchone()
        if row is None:
            raise WorkflowError("the agent was deleted")
        return {
            "id": str(row["id"]),
            "name": row["name"],
            "status": row["status"],
            "system_prompt": row["system_prompt"],
            "config": row["config"] or {},
        }

    async def search_documents(self, query: str, top_k: int) -> list[dict[str, Any]]:
        if self._search is None:
            return []
        return await self._search(self.task["org_id"], self.task["agent_id"], query, top_k)

    async def tool_call(self, step: str, tool: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The result of this step's call to the local agent; creates the call (once) and
        interrupts the graph until the callback has stored a result."""
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                created = await (
                    await conn.execute(
                        "INSERT INTO tool_calls "
                        "(task_id, org_id, agent_id, step, tool, payload, max_attempts) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (task_id, step) DO NOTHING RETURNING id",
                        (
                            self.task_id,
                            self.task["org_id"],
                            self.task["agent_id"],
                            step,
                            tool,
                            Jsonb(payload),
                            self._max_attempts,
                        ),
                    )
                ).fetchone()
                call = await (
                    await conn.execute(
                        "SELECT id, status, result, error FROM tool_calls "
                        "WHERE task_id = %s AND step = %s",
                        (self.task_id, step),
                    )
                ).fetchone()
                assert call is not None
                if created:
                    await add_event(
                        conn,
                        self.task_id,
                        "tool_call_created",
                        {"step": step, "tool": tool, "tool_call_id": str(call["id"])},
                    )
            if call["status"] == "DONE":
                return call["result"]  # type: ignore[no-any-return]
            if call["status"] == "FAILED":
                raise WorkflowError(f"the {tool} tool call failed: {call['error']}")
            if call["status"] == "CANCELLED":
                raise TaskCancelled()
            # Stops the graph here (the worker is free); the callback's resume job comes back.
            interrupt({"tool_call_id": str(call["id"]), "tool": tool})

    async def save_output(self, output: dict[str, Any]) -> bool:
        """Store the result while the task runs; the runner marks it SUCCESS once the graph
        has ended, so the last step's events come before the task's end."""
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "UPDATE tasks SET output = %s WHERE id = %s "
                    "AND status IN ('RUNNING', 'WAITING') RETURNING id",
                    (Jsonb(output), self.task_id),
                )
            ).fetchone()
        return row is not None


class TaskRunner:
    """Compiles each workflow type once and advances tasks with the Postgres checkpointer."""

    def __init__(
        self,
        pool: Pool,
        router: Any,
        *,
        search: SearchFn | None = None,
        tool_call_max_attempts: int = 3,
    ) -> None:
        self.pool = pool
        self.router = router
        self.search = search
        self.tool_call_max_attempts = tool_call_max_attempts
        self.checkpointer = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}

    def graph(self, type_: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        if type_ not in self._graphs:
            workflow = get_workflow(type_)
            if workflow is None:
                raise WorkflowError(f"unknown workflow type {type_}")
            self._graphs[type_] = workflow.graph().compile(checkpointer=self.checkpointer)
        return self._graphs[type_]

    async def advance(self, task_id: uuid.UUID) -> str | None:
        """Run the task from its checkpoint; returns its status afterwards (None: no task)."""
        async with self.pool.connection() as lock_conn:
            # Waits while another worker holds the task; gives up (job retried) after a while.
            await lock_conn.execute(
                "SELECT set_config('lock_timeout', '60s', true), pg_advisory_lock(%s)",
                (advisory_key(task_id),),
            )
            try:
                return await self._advance_locked(task_id)
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock(%s)", (advisory_key(task_id),))

    async def _advance_locked(self, task_id: uuid.UUID) -> str | None:
        async with self.pool.connection() as conn, conn.transaction():
            task = await (
                await conn.execute(
                    "SELECT id, org_id, agent_id, type, status, input FROM tasks "
                    "WHERE id = %s FOR UPDATE",
                    (task_id,),
                )
            ).fetchone()
            if task is None or task["status"] in FINISHED:
                return task["status"] if task else None
            if task["status"] != "RUNNING":
                await conn.execute(
                    "UPDATE tasks SET status = 'RUNNING', "
                    "started_at = coalesce(started_at, now()) WHERE id = %s",
                    (task_id,),
                )
                await add_event(
                    conn,
                    task_id,
                    "task_started" if task["status"] == "PENDING" else "task_resumed",
                    {},
                )
        handle = TaskHandle(
            self.pool, {**task, "max_attempts": self.tool_call_max_attempts}, self.search
        )
        context = WorkflowContext(
            task_id=task_id,
            org_id=task["org_id"],
            agent_id=task["agent_id"],
            task=handle,
            router=self.router,
        )
        config: dict[str, Any] = {"configurable": {"thread_id": str(task_id)}}
        try:
            graph = self.graph(task["type"])
            graph_input: Any
            # A PENDING task has never run, so it has no checkpoint to look at.
            state = None if task["status"] == "PENDING" else await graph.aget_state(config)  # type: ignore[arg-type]
            if state is None:
                graph_input = {"input": task["input"] or {}}
            elif any(t.interrupts for t in state.tasks):
                graph_input = Command(resume={"resumed_at": datetime.now(UTC).isoformat()})
            elif state.next or state.values:
                graph_input = None  # continue after a crash, from the last checkpoint
            else:
                graph_input = {"input": task["input"] or {}}
            # "sync": a step's checkpoint is stored before the next step starts, so a worker
            # killed at any point loses at most the step it was in.
            result = await graph.ainvoke(  # type: ignore[call-overload]
                graph_input, config, context=context, durability="sync"
            )
        except TaskCancelled:
            return "CANCELLED"
        except WorkflowError as exc:
            return await self.fail(task_id, str(exc))
        except Exception as exc:
            logger.exception("task %s failed", task_id)
            return await self.fail(task_id, f"internal error ({type(exc).__name__}): {exc}")
        if "__interrupt__" in result:
            async with self.pool.connection() as conn, conn.transaction():
                row = await (
                    await conn.execute(
                        "UPDATE tasks SET status = 'WAITING' WHERE id = %s AND status = 'RUNNING' "
                        "RETURNING id",
                        (task_id,),
                    )
                ).fetchone()
                if row:
                    waits = [i.value for i in result["__interrupt__"]]
                    await add_event(conn, task_id, "task_waiting", {"on": waits})
            return "WAITING" if row else await self.status(task_id)
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "UPDATE tasks SET status = 'SUCCESS', error = NULL, finished_at = now() "
                    "WHERE id = %s AND status = 'RUNNING' AND output IS NOT NULL RETURNING id",
                    (task_id,),
                )
            ).fetchone()
            if row:
                await add_event(conn, task_id, "task_succeeded", {})
        if row:
            return "SUCCESS"
        status = await self.status(task_id)
        if status == "RUNNING":
            return await self.fail(task_id, "the workflow ended without saving a result")
        return status

    async def status(self, task_id: uuid.UUID) -> str | None:
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute("SELECT status FROM tasks WHERE id = %s", (task_id,))
            ).fetchone()
        return row["status"] if row else None

    async def fail(self, task_id: uuid.UUID, error: str) -> str:
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "UPDATE tasks SET status = 'FAILED', error = %s, finished_at = now() "
                    "WHERE id = %s AND status NOT IN ('SUCCESS', 'FAILED', 'CANCELLED') "
                    "RETURNING id",
                    (error, task_id),
                )
            ).fetchone()
            if row:
                await add_event(conn, task_id, "task_failed", {"error": error})
                # Nothing may be handed to a local agent for a task that has ended.
                await conn.execute(
                    "UPDATE tool_calls SET status = 'CANCELLED', lease_until = NULL "
                    "WHERE task_id = %s AND status IN ('PENDING', 'CLAIMED')",
                    (task_id,),
                )
        return "FAILED" if row else (await self.status(task_id) or "FAILED")


def org_today(time_zone: str | None) -> Any:
    """Today's date in the org's time zone (UTC when unset or unknown)."""
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()
