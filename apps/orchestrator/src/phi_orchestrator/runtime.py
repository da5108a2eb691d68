"""Runs a task's graph one stretch at a time: from its last checkpoint until it finishes,
fails, or waits on a tool call. Called by the worker's ``advance_task`` job.

Only one process advances a task at a time: the job carries a procrastinate lock named after
the task, and the runner also holds a PostgreSQL advisory lock on the task for the whole
stretch (released by the server if the process dies), so two workers never run the same step
at once even if a stalled job is handed out again while its first worker still lives.

A lost database connection (a server restart, a failover) never fails a task: the stretch
is run again from the task's last checkpoint once the server answers, the step that was cut
off included. Should the database stay away longer than ``OUTAGE_RETRY_SECONDS``, the job
gives up and the task stays RUNNING; ``requeue_pending_tasks`` queues it again later.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import WRITES_IDX_MAP
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from phi_llm.types import LLMRouter
from phi_orchestrator import agents
from phi_orchestrator.agent_tasks import repository as approvals
from phi_orchestrator.deliveries import attempts as deliveries
from phi_orchestrator.tasks import repository as tasks
from phi_orchestrator.tasks.audit import ActingTask, acting_task
from phi_orchestrator.tasks.events import add_event
from phi_orchestrator.tool_calls import repository as tool_calls
from phi_orchestrator.workflows.base import TaskCancelled, WorkflowContext, WorkflowError
from phi_orchestrator.workflows.registry import get_workflow
from phi_service.audit import Target, record_event
from phi_service.db import is_connection_lost

logger = logging.getLogger(__name__)

FINISHED = ("SUCCESS", "FAILED", "CANCELLED")
# How long a job keeps running a task again after lost connections before it gives up.
OUTAGE_RETRY_SECONDS = 300.0
# Queue a run of a task (jobs.defer_advance on the worker's job app).
DeferFn = Callable[[uuid.UUID], Awaitable[None]]


class KnowledgePort(Protocol):
    """Document search and memory (``phi_orchestrator.knowledge.Knowledge``)."""

    async def search_documents(
        self, org_id: uuid.UUID, agent_id: uuid.UUID, query: str, top_k: int
    ) -> list[dict[str, Any]]: ...

    async def recall(
        self, org_id: uuid.UUID, agent_id: uuid.UUID, query: str, top_k: int
    ) -> list[dict[str, Any]]: ...

    async def remember(
        self,
        org_id: uuid.UUID,
        agent_id: uuid.UUID,
        task_id: uuid.UUID,
        text_: str,
        valid_until: datetime | None = None,
        by: ActingTask | None = None,
    ) -> dict[str, Any]: ...

    async def remember_report_day(
        self,
        org_id: uuid.UUID,
        agent_id: uuid.UUID,
        task_id: uuid.UUID,
        day: date,
        text_: str,
        by: ActingTask | None = None,
    ) -> dict[str, Any]: ...


def advisory_key(task_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for the task."""
    return int.from_bytes(task_id.bytes[8:], "big", signed=True)


class TaskLockLost(Exception):
    """The session holding the task's advisory lock is gone (the server restarted): another
    worker may be running the task, so this run must store nothing more."""


@dataclass(frozen=True)
class Fence:
    """The advisory lock a run holds on its task: the backend holding it and the key, as
    ``pg_locks`` shows them. Writes that must not come from a run that lost the lock check
    it in their own statement or transaction."""

    backend_pid: int
    key: int

    SQL: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = %s AND classid = %s::oid AND objid = %s::oid AND objsubid = 1)"
    )

    @property
    def params(self) -> tuple[int, int, int]:
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        return (self.backend_pid, unsigned >> 32, unsigned & 0xFFFF_FFFF)

    async def check(self, conn: AsyncConnection[Any]) -> None:
        row = await (await conn.execute(f"SELECT {self.SQL} AS held", self.params)).fetchone()
        if not row or not (row["held"] if isinstance(row, dict) else row[0]):
            raise TaskLockLost()


Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


def open_pool(conninfo: str, max_size: int, name: str = "phi-orchestrator") -> Pool:
    """A pool the LangGraph checkpointer accepts (autocommit, dict rows, no prepared
    statements) and that the runner's own queries share. Connections are checked before
    they are lent, so none that died with a restarted server is handed out."""
    return AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[DictRow],
        min_size=1,
        max_size=max_size,
        open=False,
        check=AsyncConnectionPool.check_connection,
        kwargs={
            "autocommit": True,
            "prepare_threshold": None,
            "row_factory": dict_row,
            "application_name": name,
        },
    )


class TaskCheckpointer(AsyncPostgresSaver):
    """LangGraph's Postgres checkpointer, storing each step's ``step_finished`` event in the
    transaction that stores the step's writes (its state update).

    On resume LangGraph skips a step whose writes are stored and runs again one whose writes
    are not; with the event in the same transaction, "finished" in the task's events means
    exactly "will not run again". (Written by the node itself, the event could commit and
    the writes be lost to a worker killed in between: the step then ran twice.)
    """

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool)  # type: ignore[arg-type]
        # LangGraph task id (one step of one run) -> (task, event type, payload) to store.
        self._staged: dict[str, list[tuple[uuid.UUID, str, dict[str, Any]]]] = {}
        # Thread (task) id -> the advisory lock its run holds.
        self._fences: dict[str, Fence] = {}

    def set_fence(self, task_id: uuid.UUID, fence: Fence | None) -> None:
        if fence is None:
            self._fences.pop(str(task_id), None)
        else:
            self._fences[str(task_id)] = fence

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Any,
        metadata: Any,
        new_versions: Any,
    ) -> RunnableConfig:
        fence = self._fences.get(config["configurable"]["thread_id"])
        if fence is not None:
            async with self._cursor() as cur:
                await fence.check(cur.connection)
        return await super().aput(config, checkpoint, metadata, new_versions)

    def stage_event(
        self, step_run: str, task_id: uuid.UUID, event_type: str, payload: dict[str, Any]
    ) -> None:
        """Store this event with the writes of LangGraph task ``step_run``."""
        self._staged.setdefault(step_run, []).append((task_id, event_type, payload))

    def drop_staged(self, task_id: uuid.UUID) -> None:
        """Forget events staged for a task whose run ended before its writes were stored."""
        for key in [k for k, v in self._staged.items() if v and v[0][0] == task_id]:
            del self._staged[key]

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Any,
        task_id: str,
        task_path: str = "",
    ) -> None:
        events = self._staged.pop(task_id, None)
        if not events:
            return await super().aput_writes(config, writes, task_id, task_path)
        # As the parent class stores writes, plus the events, in one transaction.
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(w[0] in WRITES_IDX_MAP for w in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        params = await asyncio.to_thread(
            self._dump_writes,
            config["configurable"]["thread_id"],
            config["configurable"]["checkpoint_ns"],
            config["configurable"]["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        fence = self._fences.get(config["configurable"]["thread_id"])
        async with self._cursor() as cur, cur.connection.transaction():
            if fence is not None:
                await fence.check(cur.connection)
            await cur.executemany(query, params)
            for event_task, event_type, payload in events:
                await add_event(cur.connection, event_task, event_type, payload)


class TaskHandle:
    """What the nodes of one task may do (the ``TaskPort`` of workflows.base)."""

    def __init__(
        self,
        pool: Pool,
        checkpointer: TaskCheckpointer,
        task: dict[str, Any],
        knowledge: KnowledgePort | None,
        fence: Fence,
        defer: DeferFn | None = None,
    ) -> None:
        self._defer = defer
        self.pool = pool
        self.checkpointer = checkpointer
        self.fence = fence
        self.task = task
        self.task_id: uuid.UUID = task["id"]
        self._knowledge = knowledge
        self._max_attempts = int(task.get("max_attempts", 3))

    async def event(self, event_type: str, payload: dict[str, Any]) -> None:
        async with self.pool.connection() as conn:
            await add_event(conn, self.task_id, event_type, payload)

    async def event_once(self, event_type: str, key: str, payload: dict[str, Any]) -> None:
        # Only this run writes the task's events (it holds the task's lock): no race.
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "SELECT 1 FROM task_events WHERE task_id = %s AND event_type = %s "
                    "AND payload->>'key' = %s",
                    (self.task_id, event_type, key),
                )
            ).fetchone()
            if row is None:
                await add_event(conn, self.task_id, event_type, {**payload, "key": key})

    async def start_step(self, step: str) -> None:
        # The event is written only while the task is not cancelled and this run still
        # holds the task's lock.
        async with self.pool.connection() as conn, conn.transaction():
            row = await tasks.open_under_lock(conn, self.task_id, Fence.SQL, self.fence.params)
            if not row["held"]:
                raise TaskLockLost()
            if not row["open"]:
                raise TaskCancelled()
            await add_event(conn, self.task_id, "step_started", {"step": step})

    async def finish_step(self, step_run: str | None, payload: dict[str, Any]) -> None:
        await self.stage_event(step_run, "step_finished", payload)

    async def stage_event(
        self, step_run: str | None, event_type: str, payload: dict[str, Any]
    ) -> None:
        """An event stored with the writes of LangGraph task ``step_run`` (so exactly once
        for a step that finishes), or at once without one."""
        if step_run is None:
            await self.event(event_type, payload)
        else:
            self.checkpointer.stage_event(step_run, self.task_id, event_type, payload)

    async def tool_result(self, step: str) -> Any:
        async with self.pool.connection() as conn:
            row = await tool_calls.result_of_step(conn, self.task_id, step)
        if row is None:
            raise WorkflowError(f"the result of step {step} is gone")
        return row["result"]

    async def agent(self) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            row = await agents.for_run(conn, self.task["agent_id"])
            tool_keys = await agents.tool_keys(conn, self.task["agent_id"])
        if row is None:
            raise WorkflowError("the agent was deleted")
        return {
            "id": str(row["id"]),
            "name": row["name"],
            "status": row["status"],
            "system_prompt": row["system_prompt"],
            "config": row["config"] or {},
            "time_zone": row["time_zone"],
            "tools": tool_keys,
        }

    async def search_documents(self, query: str, top_k: int) -> list[dict[str, Any]]:
        if self._knowledge is None:
            return []
        return await self._knowledge.search_documents(
            self.task["org_id"], self.task["agent_id"], query, top_k
        )

    async def recall(self, query: str, top_k: int) -> list[dict[str, Any]]:
        if self._knowledge is None:
            return []
        return await self._knowledge.recall(
            self.task["org_id"], self.task["agent_id"], query, top_k
        )

    def _memory(self) -> KnowledgePort:
        if self._knowledge is None:
            raise WorkflowError("memory is not available to this runner")
        return self._knowledge

    async def acting(self) -> ActingTask:
        """This task as the actor of the audit events of what it changes."""
        async with self.pool.connection() as conn:
            return await acting_task(conn, self.task_id)

    async def remember(self, text: str, valid_until: datetime | None = None) -> dict[str, Any]:
        memory = self._memory()
        return await memory.remember(
            self.task["org_id"],
            self.task["agent_id"],
            self.task_id,
            text,
            valid_until,
            by=await self.acting(),
        )

    async def remember_report_day(self, day: date, text: str) -> dict[str, Any]:
        memory = self._memory()
        return await memory.remember_report_day(
            self.task["org_id"],
            self.task["agent_id"],
            self.task_id,
            day,
            text,
            by=await self.acting(),
        )

    async def tool_call(self, step: str, tool: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The result of this step's call to the local agent; creates the call (once) and
        interrupts the graph until the callback has stored a result."""
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                created = await tool_calls.create_once(
                    conn,
                    task_id=self.task_id,
                    org_id=self.task["org_id"],
                    agent_id=self.task["agent_id"],
                    step=step,
                    tool=tool,
                    payload=payload,
                    max_attempts=self._max_attempts,
                )
                call = await tool_calls.of_step(conn, self.task_id, step)
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

    async def local_call(
        self, step: str, tool: str, payload: dict[str, Any], deadline_seconds: float
    ) -> dict[str, Any]:
        """Like :meth:`tool_call`, for a loop that wants the outcome whatever it is: the call
        row (``status`` DONE or FAILED, ``result``, ``error``) once answered. The call must
        be answered within ``deadline_seconds`` of its creation (the housekeeping job fails
        it after that). Raises TaskCancelled when it was withdrawn."""
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                created = await tool_calls.create_once(
                    conn,
                    task_id=self.task_id,
                    org_id=self.task["org_id"],
                    agent_id=self.task["agent_id"],
                    step=step,
                    tool=tool,
                    payload=payload,
                    max_attempts=self._max_attempts,
                    deadline_seconds=deadline_seconds,
                )
                call = await tool_calls.of_step(conn, self.task_id, step)
                if created:
                    await add_event(
                        conn,
                        self.task_id,
                        "tool_call_created",
                        {"step": step, "tool": tool, "tool_call_id": str(call["id"])},
                    )
            if call["status"] in ("DONE", "FAILED"):
                return dict(call)
            if call["status"] == "CANCELLED":
                raise TaskCancelled()
            interrupt({"tool_call_id": str(call["id"]), "tool": tool})

    async def approval(self, key: str, request: dict[str, Any]) -> dict[str, Any]:
        """The decision on approval ``key`` (``decision``, ``by``, ``reason``, and
        ``waited_seconds``), asking for it (once) and stopping the graph until one exists."""
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                requested, decided = await approvals.approval_state(conn, self.task_id, key)
                if requested is None:
                    await approvals.request_approval(conn, self.task_id, {**request, "key": key})
            if decided is not None and requested is not None:
                waited = (decided["timestamp"] - requested["timestamp"]).total_seconds()
                return {**decided["payload"], "waited_seconds": waited}
            interrupt({"approval": key, "tool": request.get("tool")})

    async def child_task(self, step: str, type_: str, input_: dict[str, Any]) -> dict[str, Any]:
        """The task this step starts (once), when it has finished: its status, output and
        error; the graph stops until then (the child's end advances this task again)."""
        while True:
            async with self.pool.connection() as conn, conn.transaction():
                created, child = await approvals.create_child(
                    conn, self.task_id, step, type_, input_
                )
                if created:
                    await add_event(
                        conn,
                        child["id"],
                        "task_created",
                        {"trigger": "agent_task", "parent_task_id": str(self.task_id)},
                    )
                    by = await acting_task(conn, self.task_id)
                    await record_event(
                        conn,
                        self.task["org_id"],
                        by.actor,
                        "task.started",
                        Target("task", child["id"], type_),
                        workflow=type_,
                        trigger="agent_task",
                        agent_id=self.task["agent_id"],
                        agent_name=by.agent_name,
                        parent_task_id=self.task_id,
                    )
            if created and self._defer is not None:
                await self._defer(child["id"])
            if child["status"] in FINISHED:
                return dict(child)
            interrupt({"child_task_id": str(child["id"]), "type": type_})

    async def save_output(self, output: dict[str, Any]) -> bool:
        """Store the result while the task runs; the runner marks it SUCCESS once the graph
        has ended, so the last step's events come before the task's end."""
        async with self.pool.connection() as conn:
            return await tasks.save_output(conn, self.task_id, output)


class TaskRunner:
    """Compiles each workflow type once and advances tasks with the Postgres checkpointer."""

    def __init__(
        self,
        pool: Pool,
        router: LLMRouter,
        *,
        knowledge: KnowledgePort | None = None,
        tool_call_max_attempts: int = 3,
        extras: dict[str, Any] | None = None,
        defer: DeferFn | None = None,
    ) -> None:
        self.pool = pool
        self.router = router
        self.knowledge = knowledge
        self.extras = extras or {}
        self.defer = defer
        self.tool_call_max_attempts = tool_call_max_attempts
        self.checkpointer = TaskCheckpointer(pool)
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}

    def graph(self, type_: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        if type_ not in self._graphs:
            workflow = get_workflow(type_)
            if workflow is None:
                raise WorkflowError(f"unknown workflow type {type_}")
            self._graphs[type_] = workflow.graph().compile(checkpointer=self.checkpointer)
        return self._graphs[type_]

    async def advance(self, task_id: uuid.UUID) -> str | None:
        """Run the task from its checkpoint; returns its status afterwards (None: no task).
        A lost database connection runs the stretch again (see the module's docstring)."""
        give_up = time.monotonic() + OUTAGE_RETRY_SECONDS
        delay = 0.5
        retry_reason: str | None = None
        while True:
            try:
                return await self._advance_once(task_id, retry_reason)
            except Exception as exc:
                if not _run_again(exc) or time.monotonic() > give_up:
                    raise
                retry_reason = f"database connection lost ({type(exc).__name__}: {exc})"
                logger.warning("task %s: %s; running it again in %.1f s", task_id, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _advance_once(self, task_id: uuid.UUID, retry_reason: str | None) -> str | None:
        async with self.pool.connection() as lock_conn:
            # Waits while another worker holds the task; gives up (job retried) after a while.
            await lock_conn.execute(
                "SELECT set_config('lock_timeout', '60s', true), pg_advisory_lock(%s)",
                (advisory_key(task_id),),
            )
            fence = Fence(lock_conn.info.backend_pid, advisory_key(task_id))
            self.checkpointer.set_fence(task_id, fence)
            try:
                return await self._advance_locked(task_id, retry_reason, fence)
            finally:
                self.checkpointer.set_fence(task_id, None)
                self.checkpointer.drop_staged(task_id)
                await lock_conn.execute("SELECT pg_advisory_unlock(%s)", (advisory_key(task_id),))

    async def _advance_locked(
        self, task_id: uuid.UUID, retry_reason: str | None, fence: Fence
    ) -> str | None:
        async with self.pool.connection() as conn, conn.transaction():
            task = await tasks.get_for_run(conn, task_id)
            if task is None or task["status"] in FINISHED:
                return task["status"] if task else None
            if task["status"] != "RUNNING":
                await tasks.mark_running(conn, task_id)
                await add_event(
                    conn,
                    task_id,
                    "task_started" if task["status"] == "PENDING" else "task_resumed",
                    {},
                )
            elif retry_reason:
                await add_event(conn, task_id, "task_retried", {"reason": retry_reason})
        handle = TaskHandle(
            self.pool,
            self.checkpointer,
            {**task, "max_attempts": self.tool_call_max_attempts},
            self.knowledge,
            fence,
            self.defer,
        )
        context = WorkflowContext(
            task_id=task_id,
            org_id=task["org_id"],
            agent_id=task["agent_id"],
            task=handle,
            router=self.router,
            extras=self.extras,
        )
        # A loop (AGENT_TASK) takes two graph steps per turn; its own limits stop it.
        config: dict[str, Any] = {
            "configurable": {"thread_id": str(task_id)},
            "recursion_limit": 10_000,
        }
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
            if _run_again(exc):
                raise  # not the task's fault: advance() runs it again
            logger.exception("task %s failed", task_id)
            return await self.fail(task_id, f"internal error ({type(exc).__name__}): {exc}")
        if "__interrupt__" in result:
            waits = [i.value for i in result["__interrupt__"]]
            # A person's approval, or a tool call / another task.
            wait_status = (
                "AWAITING_APPROVAL"
                if any(isinstance(w, dict) and "approval" in w for w in waits)
                else "WAITING"
            )
            async with self.pool.connection() as conn, conn.transaction():
                waiting = await tasks.mark_waiting(conn, task_id, wait_status)
                if waiting:
                    await add_event(
                        conn,
                        task_id,
                        "task_waiting" if wait_status == "WAITING" else "task_awaiting_approval",
                        {"on": waits},
                    )
            return wait_status if waiting else await self.status(task_id)
        async with self.pool.connection() as conn, conn.transaction():
            succeeded = await tasks.mark_succeeded(conn, task_id)
            if succeeded:
                await add_event(conn, task_id, "task_succeeded", {})
                # With the success, so that a task delivers exactly when it succeeded.
                await deliveries.create_for_task(conn, task_id)
        if succeeded:
            return "SUCCESS"
        status = await self.status(task_id)
        if status == "RUNNING":
            return await self.fail(task_id, "the workflow ended without saving a result")
        return status

    async def status(self, task_id: uuid.UUID) -> str | None:
        async with self.pool.connection() as conn:
            return await tasks.status(conn, task_id)

    async def fail(self, task_id: uuid.UUID, error: str) -> str:
        async with self.pool.connection() as conn, conn.transaction():
            failed = await tasks.mark_failed(conn, task_id, error)
            if failed:
                await add_event(conn, task_id, "task_failed", {"error": error})
                # Nothing may be handed to a local agent for a task that has ended.
                await tool_calls.cancel_open(conn, task_id)
        return "FAILED" if failed else (await self.status(task_id) or "FAILED")


def _run_again(exc: BaseException) -> bool:
    """A stretch cut off by the database, not by the task: run it again from the checkpoint."""
    return is_connection_lost(exc) or isinstance(exc, TaskLockLost)


def org_today(time_zone: str | None) -> Any:
    """Today's date in the org's time zone (UTC when unset or unknown)."""
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()
