"""Fixtures of the agent-task tests: the scripted model server, an orchestrator whose API
sees a model route (so it accepts AGENT_TASK), and the worker settings that route to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from agent_task_helpers import LIMITS

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
