"""Round trips to PostgreSQL per task run and per step, pinned: a statement added back to
every step (or to every run) fails here. Counted by libpq's trace of the runner's pool
(``phi_service.round_trips``); the runner runs in this process on the real database, the
model and the embeddings are the scripted model server's, and a report's tool call goes to a
scripted local agent over the orchestrator's HTTP API. The router's budget and the memory
store use connections of their own, not counted here.

What a step costs (docs/orchestrator.md, "Round trips"): its end (its writes, its
``step_finished`` event, the checkpoint after it and the next step's ``step_started`` with
its cancellation check: one transaction sent as one pipeline); a PENDING task's first step
starts with the run, its last ends with the task's success. An agent step is a model turn
and a tool call: two graph steps, plus the tool call's ``tool_call_started`` event.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from agent_task_helpers import calls, script
from langgraph.checkpoint.base import WRITES_IDX_MAP
from orch_factories import (
    ScriptedLocalAgent,
    contract_result,
    create_key,
    make_tenant,
    plain_url,
    sql,
)

from phi_llm.testing import FakeOpenAIServer
from phi_orchestrator.knowledge import Knowledge
from phi_orchestrator.notify import TASK_EVENTS, Notifier
from phi_orchestrator.runtime import TaskRunner, open_pool
from phi_orchestrator.settings import OrchestratorSettings
from phi_orchestrator.workflows.agent_task.limits import AgentTaskLimits
from phi_service.round_trips import RoundTrips

DAY = "2026-11-24"
# One agent step: a model turn (end) and its tool call (tool_call_started, end).
AGENT_STEP = 3
# Whole tasks: an agent task of one step (the warm-up one excluded), the report.
AGENT_TASK_ONE_STEP = 8
REPORT_ON_SAMPLE = 9
REPORT_THROUGH_LOCAL_AGENT = 16
# The same report when the run waits in place for the local agent's answer: one run, with a
# read of the call each time one of the task's events wakes it (the call created, claimed,
# answered: 3, or 2 when the answer is in before the claim's read).
REPORT_THROUGH_LOCAL_AGENT_IN_ONE_RUN = 13


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def runner_settings(
    orch_settings: Callable[..., OrchestratorSettings],
    model: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> OrchestratorSettings:
    # The in-process router reads its routes from the environment, as in a worker.
    monkeypatch.setenv("PHI_LLM_ROUTES", "heavy=openai:scripted-model;light=builtin")
    monkeypatch.setenv("PHI_OPENAI_BASE_URL", model.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    return orch_settings(
        embedding_provider="openai", embedding_base_url=model.base_url, embedding_api_key="test"
    )


class TracedRunner:
    """A TaskRunner as the worker builds it, on a pool whose connections are traced."""

    def __init__(
        self,
        settings: OrchestratorSettings,
        limits: AgentTaskLimits,
        waiter: Notifier | None = None,
        tool_wait_seconds: float = 0.0,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.waiter = waiter
        self.tool_wait_seconds = tool_wait_seconds
        self.trips = RoundTrips()

    async def __aenter__(self) -> TracedRunner:
        from phi_orchestrator.worker import build_router
        from phi_platform.db.session import create_engine, create_sessionmaker

        self.engine = create_engine(self.settings.resolved_database_url, pool_size=2)
        sessionmaker = create_sessionmaker(self.engine)
        self.pool = open_pool(
            plain_url(str(self.settings.database_url)), max_size=4, configure=self.trips.trace
        )
        await self.pool.open()
        self.runner = TaskRunner(
            self.pool,
            build_router(self.settings, sessionmaker),
            knowledge=Knowledge(self.settings, sessionmaker),
            extras={"agent_task_limits": self.limits},
            waiter=self.waiter,
            tool_wait_seconds=self.tool_wait_seconds,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.close()
        await self.engine.dispose()
        self.trips.close()

    async def run(self, task_ids: list[str]) -> list[int]:
        """Runs each task once, in order; the round trips of each run."""
        counts = []
        for task_id in task_ids:
            before = self.trips.count()
            await self.runner.advance(uuid.UUID(task_id))
            counts.append(self.trips.count() - before)
        return counts


def _task(database_url: str, tenant: Any, type_: str, input_: dict[str, Any]) -> str:
    ((task_id,),) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, input) VALUES (%s, %s, %s, %s) RETURNING id",
        tenant.agent_id,
        tenant.org_id,
        type_,
        json.dumps(input_),
    )
    return str(task_id)


def _status(database_url: str, task_id: str) -> tuple[str, str | None]:
    ((status, error),) = sql(database_url, "SELECT status, error FROM tasks WHERE id = %s", task_id)
    return status, error


def _agent_task(database_url: str, model: FakeOpenAIServer, tenant: Any, steps: int) -> str:
    searches = [calls(("search_documents", {"query": f"late orders {i}"})) for i in range(steps)]
    marker = script(model, *searches, "say:Zone B had the most late orders.")
    return _task(database_url, tenant, "AGENT_TASK", {"instruction": f"Which zone? {marker}"})


def test_each_agent_step_costs_three_round_trips(
    database_url: str, model: FakeOpenAIServer, runner_settings: OrchestratorSettings
) -> None:
    tenant = make_tenant(database_url)
    # A warm-up task first: the pool's first connection, the graph's compilation.
    ids = [_agent_task(database_url, model, tenant, n) for n in (1, 1, 2, 4)]

    async def runs() -> list[int]:
        async with TracedRunner(runner_settings, AgentTaskLimits(max_steps=6)) as runner:
            return await runner.run(ids)

    counts = asyncio.run(runs())
    for task_id in ids:
        assert _status(database_url, task_id) == ("SUCCESS", None)
    _, one, two, four = counts
    assert (two - one, (four - two) / 2) == (AGENT_STEP, AGENT_STEP), counts
    assert one == AGENT_TASK_ONE_STEP, counts


def test_a_report_costs_its_pinned_round_trips(
    api: httpx.Client,
    orchestrator: Any,
    database_url: str,
    runner_settings: OrchestratorSettings,
) -> None:
    tenant = make_tenant(database_url)
    warm_up = _task(database_url, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY})
    sample = _task(database_url, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY})
    local = _task(
        database_url, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY, "data_source": "local_agent"}
    )
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    agent.heartbeat()

    async def runs() -> list[int]:
        async with TracedRunner(runner_settings, AgentTaskLimits()) as runner:
            # The local-agent report's first stretch ends waiting for its tool call; the
            # scripted local agent answers over HTTP; the second stretch finishes it.
            counts = await runner.run([warm_up, sample, local])
            call = await asyncio.to_thread(agent.claim)
            response = await asyncio.to_thread(
                agent.callback, call, contract_result(call["payload"], DAY)
            )
            assert response.status_code == 200, response.text
            return counts + await runner.run([local])

    try:
        counts = asyncio.run(runs())
    finally:
        agent.close()
    assert _status(database_url, sample) == ("SUCCESS", None)
    assert _status(database_url, local) == ("SUCCESS", None)
    _, on_sample, waiting, resumed = counts
    assert on_sample == REPORT_ON_SAMPLE, counts
    assert waiting + resumed == REPORT_THROUGH_LOCAL_AGENT, counts
    # Each step's state update is stored once, in the checkpoint's blobs: the checkpoint
    # applies the step's writes in their transaction, so those are not stored. What stays
    # are LangGraph's own writes of the stretch that stopped (the interrupt, the resume).
    writes = "SELECT channel FROM checkpoint_writes WHERE thread_id = %s ORDER BY channel"
    assert sql(database_url, writes, sample) == []
    assert {c for (c,) in sql(database_url, writes, local)} <= set(WRITES_IDX_MAP), sql(
        database_url, writes, local
    )
    blobs = "SELECT channel FROM checkpoint_blobs WHERE thread_id = %s"
    for task_id in (sample, local):
        stored = {c for (c,) in sql(database_url, blobs, task_id)}
        assert {"input", "agent", "data", "metrics", "trends", "output"} <= stored, stored
        # The figures and the day's memory are kept apart from the written report in the
        # state; the saved result has them all.
        ((output,),) = sql(database_url, "SELECT output FROM tasks WHERE id = %s", task_id)
        assert output["metrics"]["day"] == DAY and output["trends"], output.keys()
        assert output["memory_id"] and output["full_report_md"] and output["charts"]


def test_a_report_waiting_in_its_run_for_a_quick_answer_costs_fewer_round_trips(
    api: httpx.Client,
    orchestrator: Any,
    database_url: str,
    runner_settings: OrchestratorSettings,
) -> None:
    tenant = make_tenant(database_url)
    warm_up = _task(database_url, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY})
    local = _task(
        database_url, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY, "data_source": "local_agent"}
    )
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    agent.heartbeat()

    def answer() -> int:
        call = agent.claim()
        return agent.callback(call, contract_result(call["payload"], DAY)).status_code

    async def runs() -> list[int]:
        waiter = Notifier(plain_url(database_url), (TASK_EVENTS,))
        await waiter.start()
        try:
            await asyncio.wait_for(waiter.connected.wait(), 10)
            async with TracedRunner(
                runner_settings, AgentTaskLimits(), waiter=waiter, tool_wait_seconds=30
            ) as runner:
                await runner.run([warm_up])
                answering = asyncio.create_task(asyncio.to_thread(answer))
                counts = await runner.run([local])
                assert await answering == 200
                return counts
        finally:
            await waiter.stop()

    try:
        (in_one_run,) = asyncio.run(runs())
    finally:
        agent.close()
    assert _status(database_url, local) == ("SUCCESS", None)
    kinds = [
        k
        for (k,) in sql(
            database_url,
            "SELECT event_type FROM task_events WHERE task_id = %s ORDER BY seq",
            local,
        )
    ]
    assert "task_waiting" not in kinds and "task_resumed" not in kinds, kinds
    assert in_one_run <= REPORT_THROUGH_LOCAL_AGENT_IN_ONE_RUN, in_one_run
