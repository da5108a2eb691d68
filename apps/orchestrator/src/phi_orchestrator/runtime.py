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
import copy
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.constants import START
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt
from psycopg import AsyncConnection, AsyncCursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from phi_llm.types import LLMRouter
from phi_orchestrator import agents
from phi_orchestrator.agent_tasks import repository as approvals
from phi_orchestrator.deliveries import attempts as deliveries
from phi_orchestrator.jobs import DROP_WAITING_ADVANCE_SQL, advance_queueing_lock
from phi_orchestrator.notify import TASK_EVENTS, Notifier, wait_for
from phi_orchestrator.tasks import repository as tasks
from phi_orchestrator.tasks.audit import (
    ActingTask,
    acting_of_row,
    acting_task,
    acting_task_cursor,
)
from phi_orchestrator.tasks.events import (
    add_event,
    add_event_if_open,
    add_event_once,
    start_step_cursor,
)
from phi_orchestrator.tool_calls import repository as tool_calls
from phi_orchestrator.workflows.base import (
    STEP_LABEL,
    TaskCancelled,
    WorkflowContext,
    WorkflowError,
    note_tool_wait,
)
from phi_orchestrator.workflows.registry import get_workflow, workflows
from phi_service.audit import Target, record_event
from phi_service.db import check_idle_connection, is_connection_lost

logger = logging.getLogger(__name__)

FINISHED = ("SUCCESS", "FAILED", "CANCELLED")
# A local agent's call not answered yet.
OPEN_CALL = ("PENDING", "CLAIMED")
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


UNLOCK = "SELECT pg_advisory_unlock(%s)"


def advisory_key(task_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for the task."""
    return int.from_bytes(task_id.bytes[8:], "big", signed=True)


Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


def open_pool(
    conninfo: str,
    max_size: int,
    name: str = "phi-orchestrator",
    configure: Callable[[AsyncConnection[DictRow]], Awaitable[None]] | None = None,
) -> Pool:
    """A pool the LangGraph checkpointer accepts (autocommit, dict rows, no prepared
    statements) and that the runner's own queries share. Connections are checked before
    they are lent (:func:`check_idle_connection`), so none that died with a restarted server
    is handed out. ``configure`` runs on each new connection (the round-trip tests trace
    them)."""
    return AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[DictRow],
        min_size=1,
        max_size=max_size,
        open=False,
        configure=configure,
        check=check_idle_connection,
        kwargs={
            "autocommit": True,
            "prepare_threshold": None,
            "row_factory": dict_row,
            "application_name": name,
        },
    )


# A step's writes, as LangGraph's saver stores them (statement and rows), with the events
# staged for the step.
Held = tuple[str, list[Any], list[tuple[str, dict[str, Any]]]]


class TaskSession:
    """The connection one run of a task holds the task's advisory lock on; every statement of
    the run goes through it (the graph's checkpoints included), one at a time.

    Writing through the lock's own session is the fence: should the server restart, the lock
    is gone and so is this connection, so a run that lost its lock cannot store anything more
    (its next statement fails, and the run starts again from the last checkpoint). No check
    per write, and no connection taken from the pool per step.
    """

    def __init__(self, task_id: uuid.UUID, conn: AsyncConnection[DictRow]) -> None:
        self.task_id = task_id
        self.conn = conn
        # LangGraph runs the checkpointer's writes in tasks of their own, beside the nodes.
        self.lock = asyncio.Lock()
        # LangGraph task id (one run of a step) -> events to store with its writes.
        self.staged: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        # Finished steps' writes and events, stored with the checkpoint that follows them.
        self.held: list[Held] = []
        # The task was PENDING: it has never run, so it has no checkpoint to read.
        self.never_ran = False
        # The run's checkpoints before its first step (its input, then the start's writes)
        # are held with the writes, so they are stored with the first step's end.
        self.hold_checkpoint = False
        # The graph's nodes written to since the last checkpoint (LangGraph's ``branch:to:``
        # channels): the steps that run next. ``more``: a write that may start other steps
        # (a join, a Send); with neither, the checkpoint is the graph's last.
        self.upcoming: list[str] = []
        self.more = False
        # A node's name and the state it will run on -> its step label (None: not known).
        self.step_label: Callable[[str, dict[str, Any]], str | None] = lambda node, state: None
        # Step label -> whether its ``step_started`` was written ahead (with the checkpoint
        # before it, or the run's start): False when the task was cancelled by then.
        self.prestarted: dict[str, bool] = {}
        # The task's agent (row and tool keys) and the task as an audit actor, read with the
        # run's start (TaskHandle.agent and .acting use them).
        self.preread: tuple[DictRow | None, list[str], ActingTask] | None = None
        self.unlocked = False

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        async with self.lock:
            yield self.conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        async with self.lock, self.conn.transaction():
            yield self.conn

    @asynccontextmanager
    async def atomic(self, *, then_unlock: bool = False) -> AsyncIterator[AsyncConnection[DictRow]]:
        """One transaction sent as one pipeline (one round trip, where psycopg's
        ``transaction()`` in pipeline mode waits at BEGIN and at COMMIT), beginning with
        the writes and events the run holds; ``then_unlock``: the task's lock is released
        after the commit, in the same round trip (the run's last transaction). Results the
        caller reads must be read after the block: a read inside it waits for the server."""
        async with self.lock:
            conn = self.conn
            try:
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    await self._store_held(conn)
                    yield conn
                    await conn.execute("COMMIT")
                    if then_unlock:
                        await conn.execute(UNLOCK, (advisory_key(self.task_id),))
                        self.unlocked = True
            except BaseException:
                if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                    await conn.execute("ROLLBACK")
                raise

    async def _store_held(self, conn: AsyncConnection[DictRow]) -> None:
        held, self.held = self.held, []
        for query, params, events in held:
            if params:
                async with conn.cursor(binary=True) as cur:
                    await cur.executemany(query, params)
            for event_type, payload in events:
                await add_event(conn, self.task_id, event_type, payload)


# LangGraph's channel a step writes to start the node named after it (an edge, a route),
# and its mark of a step that wrote nothing (both langgraph 1.2).
BRANCH_TO = "branch:to:"
NO_WRITES = "__no_writes__"


def _labels(session: TaskSession, nodes: list[str], state: dict[str, Any]) -> list[str]:
    """The step labels of ``nodes`` about to run on ``state``, where known."""
    labels: list[str] = []
    for node in dict.fromkeys(nodes):
        label = session.step_label(node, state)
        if label is not None and label not in labels:
            labels.append(label)
    return labels


def step_labels(
    graph: CompiledStateGraph[Any, Any, Any, Any],
) -> Callable[[str, dict[str, Any]], str | None]:
    """A node's step label (``workflows.base.step``) from its name and the state it runs on:
    the same function of the same state as the node's own, so the label written ahead is the
    one the node starts with. None for a node not made by ``step``, or a state holding
    values LangGraph keeps as deltas (not the node's view of them)."""
    nodes = graph.builder.nodes

    def label(node: str, state: dict[str, Any]) -> str | None:
        spec = nodes.get(node)
        name = getattr(getattr(spec.runnable, "afunc", None), STEP_LABEL, None) if spec else None
        if name is None or isinstance(name, str):
            return name
        if any(isinstance(v, _DeltaSnapshot) for v in state.values()):
            return None
        try:
            found = name(state)
        except Exception:
            return None
        return found if isinstance(found, str) else None

    return label


# The run a coroutine belongs to (LangGraph copies the context into the tasks it starts).
current_session: ContextVar[TaskSession | None] = ContextVar("phi_task_session", default=None)


class TaskCheckpointer(AsyncPostgresSaver):
    """LangGraph's Postgres checkpointer, writing each run's checkpoints on the run's
    :class:`TaskSession`, and storing each finished step with the checkpoint after it.

    A finished step is three things: its writes (its state update), its ``step_finished``
    event (and any other event staged by the step), and the checkpoint that applies the
    writes. The writes and events are held until that checkpoint and the three go in one
    transaction, sent as one pipeline: one round trip per step. On resume LangGraph skips a
    step whose writes or checkpoint are stored and runs again one whose are not; with the
    event in the same transaction, "finished" in the task's events means exactly "will not
    run again". (Written by the node itself, the event could commit and the writes be lost to
    a worker killed in between: the step then ran twice.) Since the checkpoint applies the
    writes in that same transaction, the writes themselves are left out of it
    (``_drop_applied_writes``). Writes no checkpoint follows (an interrupt's, a resume value,
    a step that finished beside one that stopped) go with the run's last transaction, which
    marks the task waiting; lost with a killed worker, they only make the step run again.

    The checkpoints of a task's first run before its first step (its input, then the input
    applied) are held the same way and stored with the first step's end: lost with a killed
    worker, the run that takes over starts the task from its input, as it would from them.
    The graph's last checkpoint (after a step that starts no other) is held too, and stored
    with the run's end, the task's success: lost with a killed worker, the last step runs
    again, as any step cut off before its end.

    A step's start (``step_started``, written only while the task is not cancelled) goes in
    the transaction of the checkpoint before it: the writes a step stores name the nodes that
    run next (LangGraph's ``branch:to:<node>`` channels), and their labels are worked out as
    the nodes will (``step_labels``); the step then finds its start written (or refused, the
    task cancelled meanwhile) without a round trip of its own. A PENDING task's first step
    starts with the run (``tasks.start_run``). The start is stored a moment before the step
    runs; a worker killed in between leaves it with no end, and the step's start appears
    again when it runs, as for a step cut off.
    """

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        session = current_session.get()
        if session is None:
            async with super()._cursor(pipeline=pipeline) as cur:
                yield cur
        elif pipeline:
            # A checkpoint: its blobs and row, with what the run holds.
            async with (
                session.atomic() as conn,
                conn.cursor(binary=True, row_factory=dict_row) as cur,
            ):
                yield cur
        else:
            async with (
                session.use() as conn,
                conn.cursor(binary=True, row_factory=dict_row) as cur,
            ):
                yield cur

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """``AsyncPostgresSaver.aput`` (langgraph-checkpoint-postgres 3.2.0) with the channel
        values serialised in place: the saver hands them to a thread (``asyncio.to_thread``)
        for every checkpoint, a hand-off that costs more than serialising a step's state
        (the report keeps its data rows out of the state). Same statements, same rows."""
        if current_session.get() is None:
            return await super().aput(config, checkpoint, metadata, new_versions)
        configurable = config["configurable"].copy()
        thread_id = configurable.pop("thread_id")
        checkpoint_ns = configurable.pop("checkpoint_ns")
        checkpoint_id = configurable.pop("checkpoint_id", None)
        stored = checkpoint.copy()
        stored["channel_values"] = stored["channel_values"].copy()
        next_config: RunnableConfig = {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }
        # Primitive values stay in the checkpoint row, the others go to the blobs table.
        blob_values = {}
        for k, v in checkpoint["channel_values"].items():
            if isinstance(v, _DeltaSnapshot):
                blob_values[k] = stored["channel_values"].pop(k)
                stored["channel_values"][k] = True
            elif v is None or isinstance(v, (str, int, float, bool)):
                pass
            else:
                blob_values[k] = stored["channel_values"].pop(k)
        blob_versions = {k: v for k, v in new_versions.items() if k in blob_values}
        blobs = self._dump_blobs(thread_id, checkpoint_ns, blob_values, blob_versions)
        row = (
            thread_id,
            checkpoint_ns,
            checkpoint["id"],
            checkpoint_id,
            Jsonb(stored),
            Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
        )
        session = current_session.get()
        assert session is not None
        self._drop_applied_writes(session, checkpoint_id)
        upcoming, session.upcoming = session.upcoming, []
        more, session.more = session.more, False
        first = session.hold_checkpoint and metadata.get("step", 1) <= 0
        last = not upcoming and not more and metadata.get("source") == "loop"
        if first or last:
            # Held, to go with the next transaction: the first step's end, or the run's end
            # (see the class docstring).
            if blobs:
                session.held.append((self.UPSERT_CHECKPOINT_BLOBS_SQL, blobs, []))
            session.held.append((self.UPSERT_CHECKPOINTS_SQL, [row], []))
            return next_config
        labels = _labels(session, upcoming, checkpoint["channel_values"])
        async with session.atomic() as conn:
            async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                if blobs:
                    await cur.executemany(self.UPSERT_CHECKPOINT_BLOBS_SQL, blobs)
                await cur.execute(self.UPSERT_CHECKPOINTS_SQL, row)
            # The next steps' starts, with the cancellation check each makes (see
            # TaskHandle.start_step): no round trip of their own.
            starts = [
                (label, await start_step_cursor(conn, session.task_id, label)) for label in labels
            ]
        session.prestarted = {label: await c.fetchone() is not None for label, c in starts}
        return next_config

    def _drop_applied_writes(self, session: TaskSession, parent: str | None) -> None:
        """Leave out of what the run holds the steps' writes the checkpoint being saved
        applies (the writes of the steps that ran from its parent): they would be stored in
        the same transaction as the checkpoint, and LangGraph reads a checkpoint's writes only
        while it is the latest (to skip the steps that finished from it), which the parent
        no longer is once that transaction commits. Each step's state update was stored
        twice, as its writes and in the checkpoint's blobs; now once. LangGraph's own writes
        (an interrupt, a resume value, an error) are kept as they are."""
        if parent is None:
            return
        writes = (self.INSERT_CHECKPOINT_WRITES_SQL, self.UPSERT_CHECKPOINT_WRITES_SQL)
        kept: list[Held] = []
        for query, params, events in session.held:
            if query in writes:
                # Rows as _dump_writes makes them: checkpoint id third, channel seventh.
                params = [p for p in params if p[2] != parent or p[6] in WRITES_IDX_MAP]
            if params or events:
                kept.append((query, params, events))
        session.held = kept

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        session = current_session.get()
        if session is not None and session.never_ran:
            session.never_ran = False
            return None  # LangGraph looks for one as the run starts: no round trip for that
        return await super().aget_tuple(config)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Any,
        task_id: str,
        task_path: str = "",
    ) -> None:
        session = current_session.get()
        if session is None:
            return await super().aput_writes(config, writes, task_id, task_path)
        query = (
            self.UPSERT_CHECKPOINT_WRITES_SQL
            if all(w[0] in WRITES_IDX_MAP for w in writes)
            else self.INSERT_CHECKPOINT_WRITES_SQL
        )
        # A step's state update is small: not worth a thread. Held before any await, so the
        # checkpoint LangGraph saves after these writes always finds them.
        params = self._dump_writes(
            config["configurable"]["thread_id"],
            config["configurable"]["checkpoint_ns"],
            config["configurable"]["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        session.held.append((query, params, session.staged.pop(task_id, [])))
        for channel, _ in writes:
            if channel.startswith(BRANCH_TO):
                session.upcoming.append(channel.removeprefix(BRANCH_TO))
            elif channel != NO_WRITES and (channel.startswith("__") or ":" in channel):
                # Any other of LangGraph's channels (a Send, a join, an interrupt...): maybe
                # more steps to come.
                session.more = True
        return None


class TaskHandle:
    """What the nodes of one task may do (the ``TaskPort`` of workflows.base), each statement
    on the run's :class:`TaskSession`."""

    def __init__(
        self,
        session: TaskSession,
        task: dict[str, Any],
        knowledge: KnowledgePort | None,
        defer: DeferFn | None = None,
        waiter: Notifier | None = None,
        tool_wait_seconds: float = 0.0,
    ) -> None:
        self._defer = defer
        self._waiter = waiter
        self._tool_wait_seconds = tool_wait_seconds
        self.session = session
        self.task = task
        self.task_id: uuid.UUID = task["id"]
        self._knowledge = knowledge
        self._max_attempts = int(task.get("max_attempts", 3))
        self._agent: dict[str, Any] | None = None
        self._acting: ActingTask | None = None
        # Step -> the result of its local-agent call, as this run read it with the answer;
        # the next tool_result(step) takes it instead of reading megabytes again.
        self._answered: dict[str, Any] = {}

    async def event(self, event_type: str, payload: dict[str, Any]) -> None:
        async with self.session.use() as conn:
            await add_event(conn, self.task_id, event_type, payload)

    async def event_once(self, event_type: str, key: str, payload: dict[str, Any]) -> None:
        # Only this run writes the task's events (it holds the task's lock): no race.
        async with self.session.use() as conn:
            await add_event_once(conn, self.task_id, event_type, key, payload)

    async def start_step(self, step: str) -> None:
        # Written only while the task is not cancelled, in one statement; or already written
        # so with the checkpoint before it (or the run's start). The run holds the task's
        # lock as long as its session lives (see TaskSession).
        written = self.session.prestarted.pop(step, None)
        if written is not None:
            if not written:
                raise TaskCancelled()
            return
        async with self.session.use() as conn:
            if not await add_event_if_open(conn, self.task_id, "step_started", {"step": step}):
                raise TaskCancelled()

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
            self.session.staged.setdefault(step_run, []).append((event_type, payload))

    async def tool_result(self, step: str) -> Any:
        """The result of the step's call (DONE), which a later step reads: the one this run
        has just read with the answer when it has (taken once, so the run does not keep
        megabytes of rows to its end; a stored result never changes), else from its row."""
        if step in self._answered:
            return self._answered.pop(step)
        async with self.session.use() as conn:
            row = await tool_calls.result_of_step(conn, self.task_id, step)
        if row is None:
            raise WorkflowError(f"the result of step {step} is gone")
        return row["result"]

    async def agent(self) -> dict[str, Any]:
        """The agent as this run sees it (read once per run: the agent and its tools in
        one round trip)."""
        if self._agent is None:
            if self.session.preread is not None:
                row, tool_keys, _ = self.session.preread
            else:
                async with self.session.use() as conn:
                    async with conn.pipeline():
                        row_cur = await agents.for_run_cursor(conn, self.task["agent_id"])
                        keys_cur = await agents.tool_keys_cursor(conn, self.task["agent_id"])
                    row = await row_cur.fetchone()
                    tool_keys = [r["key"] for r in await keys_cur.fetchall()]
            if row is None:
                raise WorkflowError("the agent was deleted")
            self._agent = {
                "id": str(row["id"]),
                "name": row["name"],
                "status": row["status"],
                "system_prompt": row["system_prompt"],
                "config": row["config"] or {},
                "time_zone": row["time_zone"],
                "tools": tool_keys,
            }
        return copy.deepcopy(self._agent)

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
        """This task as the actor of the audit events of what it changes (read once per
        run)."""
        if self._acting is None:
            if self.session.preread is not None:
                self._acting = self.session.preread[2]
            else:
                async with self.session.use() as conn:
                    self._acting = await acting_task(conn, self.task_id)
        return self._acting

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

    async def _call_once(
        self,
        step: str,
        tool: str,
        payload: dict[str, Any],
        deadline_seconds: float | None = None,
    ) -> DictRow:
        """The step's call to the local agent, created (once, with its event) if need be."""
        async with self.session.use() as conn:
            return await tool_calls.of_step_once(
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

    async def _answered_call(
        self,
        step: str,
        tool: str,
        payload: dict[str, Any],
        deadline_seconds: float | None = None,
    ) -> DictRow:
        """The step's call (created once), waited for a moment when it is still open.

        A local agent answers most calls within a fraction of a second. Rather than give the
        worker up at once (an interrupt: the task WAITING, then the callback's job picking
        it up again, locking it and loading its checkpoint), the run waits up to
        ``tool_wait_seconds`` for the answer, woken by the call's events (``NOTIFY
        phi_task_events``: claimed, completed, failed, the task cancelled). A call still open
        after that interrupts the graph as before. Nothing is stored for the wait: a worker
        killed in it leaves the task RUNNING, and the run that takes it over finds the same
        call (one per task and step), answered or not; the callback's job, queued in any case,
        finds the task in whatever state the wait left it."""
        waiter = self._waiter
        if waiter is None or self._tool_wait_seconds <= 0 or not waiter.connected.is_set():
            return await self._call_once(step, tool, payload, deadline_seconds)
        # Listening before the call exists: no answer can slip in between.
        with waiter.subscribe(TASK_EVENTS, str(self.task_id)) as woken:
            call = await self._call_once(step, tool, payload, deadline_seconds)
            give_up = time.monotonic() + self._tool_wait_seconds
            while call["status"] in OPEN_CALL:
                left = give_up - time.monotonic()
                if left <= 0:
                    break
                waiting = time.perf_counter()
                answered = await wait_for(woken, left)
                note_tool_wait(time.perf_counter() - waiting)
                if not answered:
                    break
                async with self.session.use() as conn:
                    now = await tool_calls.state(conn, call["id"])
                if now is None:
                    raise WorkflowError(f"the {tool} tool call was deleted")
                call = now
        return call

    async def tool_call(self, step: str, tool: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The result of this step's call to the local agent; creates the call (once), waits
        a moment for it (see :meth:`_answered_call`), else interrupts the graph until the
        callback has stored a result."""
        while True:
            call = await self._answered_call(step, tool, payload)
            if call["status"] == "DONE":
                self._answered[step] = call["result"]
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
            call = await self._answered_call(step, tool, payload, deadline_seconds)
            if call["status"] in ("DONE", "FAILED"):
                return dict(call)
            if call["status"] == "CANCELLED":
                raise TaskCancelled()
            interrupt({"tool_call_id": str(call["id"]), "tool": tool})

    async def approval(self, key: str, request: dict[str, Any]) -> dict[str, Any]:
        """The decision on approval ``key`` (``decision``, ``by``, ``reason``, and
        ``waited_seconds``), asking for it (once) and stopping the graph until one exists."""
        while True:
            async with self.session.transaction() as conn:
                requested, decided = await approvals.approval_state(conn, self.task_id, key)
                if requested is None:
                    await approvals.request_approval(conn, self.task_id, {**request, "key": key})
            if decided is not None and requested is not None:
                waited = (decided["timestamp"] - requested["timestamp"]).total_seconds()
                return {**decided["payload"], "waited_seconds": waited}
            interrupt({"approval": key, "tool": request.get("tool")})

    async def child_task(
        self, step: str, type_: str, input_: dict[str, Any], wait_seconds: float
    ) -> dict[str, Any]:
        """The task this step starts (once), when it has finished: its status, output and
        error, and ``past_deadline``; the graph stops until then (the child's end advances
        this task again). Unfinished ``wait_seconds`` after it was started, the housekeeping
        job cancels it (and so ends the wait)."""
        while True:
            async with self.session.transaction() as conn:
                created, child = await approvals.create_child(
                    conn, self.task_id, step, type_, input_, wait_seconds
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
        async with self.session.use() as conn:
            return await tasks.save_output(conn, self.task_id, output)


@dataclass(frozen=True)
class RunOutcome:
    """How a run of a task ended: the task's status (None: no such task), the deliveries its
    success created, and the task waiting for it (the agent task that started it), if any."""

    status: str | None
    deliveries: tuple[uuid.UUID, ...] = ()
    waiting_parent: uuid.UUID | None = None


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
        waiter: Notifier | None = None,
        tool_wait_seconds: float = 0.0,
    ) -> None:
        self.pool = pool
        self.router = router
        self.knowledge = knowledge
        self.extras = extras or {}
        self.defer = defer
        # Listens to task events: a run waits on it for a local agent's quick answer.
        self.waiter = waiter
        self.tool_wait_seconds = tool_wait_seconds
        self.tool_call_max_attempts = tool_call_max_attempts
        self.checkpointer = TaskCheckpointer(pool)  # type: ignore[arg-type]
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}
        self._labels: dict[str, Callable[[str, dict[str, Any]], str | None]] = {}
        self._first_steps: dict[str, str] | None = None

    def graph(self, type_: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        if type_ not in self._graphs:
            workflow = get_workflow(type_)
            if workflow is None:
                raise WorkflowError(f"unknown workflow type {type_}")
            graph = workflow.graph().compile(checkpointer=self.checkpointer)
            self._labels[type_] = step_labels(graph)
            self._graphs[type_] = graph
        return self._graphs[type_]

    def first_steps(self) -> dict[str, str]:
        """Workflow type -> the label of the step its graph starts with, where that is one
        fixed step (every graph compiled once, on the first call)."""
        if self._first_steps is None:
            found: dict[str, str] = {}
            for type_ in workflows():
                try:
                    builder = self.graph(type_).builder
                except Exception:
                    # A type whose graph cannot be built fails its own tasks (in _run_locked),
                    # not every task's start.
                    logger.exception("workflow type %s: its graph cannot be compiled", type_)
                    continue
                firsts = [to for start, to in builder.edges if start == START]
                spec = builder.nodes.get(firsts[0]) if len(firsts) == 1 else None
                if spec is None or builder.branches.get(START):
                    continue
                label = getattr(getattr(spec.runnable, "afunc", None), STEP_LABEL, None)
                if isinstance(label, str):
                    found[type_] = label
            self._first_steps = found
        return self._first_steps

    async def advance(self, task_id: uuid.UUID) -> str | None:
        """Run the task from its checkpoint; returns its status afterwards (None: no task)."""
        return (await self.run(task_id)).status

    async def run(self, task_id: uuid.UUID) -> RunOutcome:
        """Run the task from its checkpoint until it finishes, fails or waits. A lost
        database connection runs the stretch again (see the module's docstring)."""
        give_up = time.monotonic() + OUTAGE_RETRY_SECONDS
        delay = 0.5
        retry_reason: str | None = None
        while True:
            try:
                return await self._run_once(task_id, retry_reason)
            except Exception as exc:
                if not _run_again(exc) or time.monotonic() > give_up:
                    raise
                retry_reason = f"database connection lost ({type(exc).__name__}: {exc})"
                logger.warning("task %s: %s; running it again in %.1f s", task_id, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _run_once(self, task_id: uuid.UUID, retry_reason: str | None) -> RunOutcome:
        key = advisory_key(task_id)
        async with self.pool.connection() as conn:
            session = TaskSession(task_id, conn)
            token = current_session.set(session)
            try:
                # Waits while another worker holds the task (the job is retried after a
                # while), then starts the run: one round trip for both.
                async with conn.pipeline():
                    await conn.execute(
                        "SELECT set_config('lock_timeout', '60s', true), pg_advisory_lock(%s)",
                        (key,),
                    )
                    started = await tasks.start_run(conn, task_id, retry_reason, self.first_steps())
                    # What most runs read of the task's agent and of the task as an audit
                    # actor, read with the start rather than in round trips of their own.
                    agent_cur, tools_cur = await agents.for_run_of_task_cursors(conn, task_id)
                    acting_cur = await acting_task_cursor(conn, task_id)
                task = await started.fetchone()
                session.preread = (
                    await agent_cur.fetchone(),
                    [r["key"] for r in await tools_cur.fetchall()],
                    acting_of_row(task_id, await acting_cur.fetchone()),
                )
                if task is None or task["status"] in FINISHED:
                    status = task["status"] if task else None
                    return await self._end(session, status, with_parent=status is not None)
                if not task["can_start"]:
                    # Still awaiting a person's decision: nothing to resume (tasks.start_run).
                    return await self._end(session, task["status"])
                if task["status"] == "PENDING" and task["type"] in self.first_steps():
                    # Its step_started went with the start (see tasks.start_run).
                    session.prestarted[self.first_steps()[task["type"]]] = True
                return await self._run_locked(session, task)
            finally:
                current_session.reset(token)
                if not session.unlocked and not conn.broken:
                    await conn.execute(UNLOCK, (key,))

    async def _run_locked(self, session: TaskSession, task: DictRow) -> RunOutcome:
        task_id: uuid.UUID = task["id"]
        handle = TaskHandle(
            session,
            {**task, "max_attempts": self.tool_call_max_attempts},
            self.knowledge,
            self.defer,
            self.waiter,
            self.tool_wait_seconds,
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
            session.step_label = self._labels[task["type"]]
            graph_input: Any
            if task["status"] == "PENDING":
                # Never run (a run makes it RUNNING first), so no checkpoint to look at.
                session.never_ran = True
                session.hold_checkpoint = True
                graph_input = {"input": task["input"] or {}}
            elif task["status"] in ("WAITING", "AWAITING_APPROVAL"):
                # Only an interrupt makes a task wait; nothing ran since (a run that did
                # would have left it RUNNING).
                graph_input = Command(resume={"resumed_at": datetime.now(UTC).isoformat()})
            else:
                # RUNNING: a run cut off (a crash, a lost connection); see where it was.
                state = await graph.aget_state(config)  # type: ignore[arg-type]
                if any(t.interrupts for t in state.tasks):
                    graph_input = Command(resume={"resumed_at": datetime.now(UTC).isoformat()})
                elif state.next or state.values:
                    graph_input = None  # continue from the last checkpoint
                else:
                    graph_input = {"input": task["input"] or {}}
            # "sync": a step's checkpoint is stored before the next step starts, so a worker
            # killed at any point loses at most the step it was in.
            result = await graph.ainvoke(  # type: ignore[call-overload]
                graph_input, config, context=context, durability="sync"
            )
        except TaskCancelled:
            return await self._end(session, "CANCELLED", with_parent=True)
        except WorkflowError as exc:
            return await self.fail(session, str(exc))
        except Exception as exc:
            if _run_again(exc):
                raise  # not the task's fault: run() runs it again
            logger.exception("task %s failed", task_id)
            return await self.fail(session, f"internal error ({type(exc).__name__}): {exc}")
        if "__interrupt__" in result:
            waits = [i.value for i in result["__interrupt__"]]
            # A person's approval, or a tool call / another task.
            wait_status = (
                "AWAITING_APPROVAL"
                if any(isinstance(w, dict) and "approval" in w for w in waits)
                else "WAITING"
            )
            event_type = "task_waiting" if wait_status == "WAITING" else "task_awaiting_approval"
            async with session.atomic(then_unlock=True) as conn:
                waiting = await tasks.mark_waiting_logged(
                    conn, task_id, wait_status, event_type, {"on": waits}
                )
            if await waiting.fetchone() is not None:
                return RunOutcome(wait_status)
            status = await self.status(session, task_id)
            return await self._end(session, status, with_parent=status in FINISHED)
        async with session.atomic(then_unlock=True) as conn:
            succeeded = await tasks.mark_succeeded_logged(conn, task_id)
            # With the success, so that a task delivers exactly when it succeeded.
            created = await deliveries.create_for_task(conn, task_id)
            parent = await approvals.waiting_parent_cursor(conn, task_id)
            # A job a callback queued while this run waited in place has nothing left to do.
            await conn.execute(
                DROP_WAITING_ADVANCE_SQL,
                {"lock": advance_queueing_lock(task_id), "task_id": task_id},
            )
        if await succeeded.fetchone() is not None:
            return RunOutcome(
                "SUCCESS",
                tuple(r["id"] for r in await created.fetchall()),
                await _parent_of(parent),
            )
        status = await self.status(session, task_id)
        if status == "RUNNING":
            return await self.fail(session, "the workflow ended without saving a result")
        return await self._end(session, status, with_parent=status in FINISHED)

    async def _end(
        self, session: TaskSession, status: str | None, *, with_parent: bool = False
    ) -> RunOutcome:
        """The outcome of a run that stores nothing more; a finished task's waiting parent
        is read with the unlock."""
        parent = None
        async with session.use() as conn, conn.pipeline():
            if with_parent:
                parent = await approvals.waiting_parent_cursor(conn, session.task_id)
            if not session.unlocked:
                await conn.execute(UNLOCK, (advisory_key(session.task_id),))
                session.unlocked = True
        return RunOutcome(status, (), await _parent_of(parent) if parent else None)

    async def status(self, session: TaskSession, task_id: uuid.UUID) -> str | None:
        async with session.use() as conn:
            return await tasks.status(conn, task_id)

    async def fail(self, session: TaskSession, error: str) -> RunOutcome:
        task_id = session.task_id
        session.held.clear()
        async with session.transaction() as conn:
            failed = await tasks.mark_failed(conn, task_id, error)
            if failed:
                await add_event(conn, task_id, "task_failed", {"error": error})
                # Nothing may be handed to a local agent for a task that has ended.
                await tool_calls.cancel_open(conn, task_id)
        status = "FAILED" if failed else (await self.status(session, task_id) or "FAILED")
        return await self._end(session, status, with_parent=status in FINISHED)


async def _parent_of(cursor: AsyncCursor[DictRow]) -> uuid.UUID | None:
    row = await cursor.fetchone()
    return row["id"] if row else None


def _run_again(exc: BaseException) -> bool:
    """A stretch cut off by the database, not by the task: run it again from the checkpoint."""
    return is_connection_lost(exc)


def org_today(time_zone: str | None) -> Any:
    """Today's date in the org's time zone (UTC when unset or unknown)."""
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()
