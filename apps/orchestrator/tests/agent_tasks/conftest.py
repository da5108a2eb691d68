"""Fixtures of the agent-task tests: the scripted model server, an orchestrator whose API
sees a model route (so it accepts AGENT_TASK), the worker settings that route to it, tasks
given with a scripted model, and real phi-agent processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_task_helpers import (
    LIMITS,
    AgentTasks,
    OnWarehouse,
    PhiAgent,
    agent_tenant,
    start_phi_agent,
    write_warehouse,
)
from orch_factories import Tenant

from phi_llm.testing import FakeOpenAIServer
from phi_orchestrator.main import create_app
from phi_orchestrator.settings import OrchestratorSettings
from phi_service.testing import LiveServer


@pytest.fixture(scope="session")
def model() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llm_env(model: FakeOpenAIServer) -> dict[str, Any]:
    return {
        "llm_routes": "heavy=openai:scripted-model;light=builtin",
        "openai_base_url": model.base_url,
    }


@pytest.fixture(scope="session")
def agent_orchestrator(
    orch_settings: Callable[..., OrchestratorSettings], llm_env: dict[str, Any]
) -> Iterator[LiveServer]:
    # A lease long enough that a busy machine never hands a call out twice: the tests count
    # how often each statement ran on the customer's side.
    settings = orch_settings(**llm_env, lease_seconds=30)
    server = LiveServer(create_app(settings), settings).start()
    yield server
    server.stop()


@pytest.fixture
def agent_api(agent_orchestrator: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=agent_orchestrator.url, timeout=60) as c:
        yield c


@pytest.fixture
def worker_settings(llm_env: dict[str, Any]) -> dict[str, Any]:
    """What start_worker(**...) needs for a worker that runs agent tasks."""
    return {**llm_env, **LIMITS}


@pytest.fixture
def agent_tasks(agent_api: httpx.Client, model: FakeOpenAIServer) -> AgentTasks:
    return AgentTasks(agent_api, model)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The customer's SQLite warehouse, one a test module."""
    return write_warehouse(tmp_path_factory.mktemp("warehouse") / "wms.sqlite")


@pytest.fixture
def on_warehouse(
    agent_api: httpx.Client,
    agent_orchestrator: LiveServer,
    database_url: str,
    warehouse: Path,
    tmp_path: Path,
) -> Iterator[OnWarehouse]:
    """A tenant (``agent_tenant``'s options) whose agent's local calls are answered by a real
    phi-agent on the module's warehouse (in ``tmp_path/phi``), stopped when the test ends."""
    started: list[PhiAgent] = []

    def start(**tenant_options: Any) -> tuple[Tenant, PhiAgent]:
        tenant = agent_tenant(database_url, **tenant_options)
        directory = tmp_path / "phi"
        started.append(
            start_phi_agent(agent_api, agent_orchestrator.url, tenant, directory, warehouse)
        )
        return tenant, started[-1]

    yield start
    for phi in started:
        phi.stop()
