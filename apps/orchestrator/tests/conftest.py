from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from orch_factories import FAST, JWT_SECRET, worker_env

from phi_orchestrator.main import create_app
from phi_orchestrator.settings import OrchestratorSettings
from phi_service.testing import LiveServer, WorkerProcess


@pytest.fixture(scope="session")
def orch_settings(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., OrchestratorSettings]:
    data_dir: Path = tmp_path_factory.mktemp("orch-data")

    def make(**overrides: Any) -> OrchestratorSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": data_dir,
            "jwt_secret": JWT_SECRET,
            "db_pool_size": 5,
            **FAST,
        }
        values.update(overrides)
        return OrchestratorSettings(**values)

    return make


@pytest.fixture(scope="session")
def orchestrator(orch_settings: Callable[..., OrchestratorSettings]) -> Iterator[LiveServer]:
    settings = orch_settings()
    server = LiveServer(create_app(settings), settings).start()
    yield server
    server.stop()


@pytest.fixture
def api(orchestrator: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=orchestrator.url, timeout=60) as c:
        yield c


@pytest.fixture
def start_worker(
    orch_settings: Callable[..., OrchestratorSettings],
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start a real worker process (stopped, or killed, at the end of the test)."""
    started: list[WorkerProcess] = []

    def start(**extra: Any) -> WorkerProcess:
        worker = WorkerProcess("phi_orchestrator.worker", worker_env(orch_settings(), **extra))
        started.append(worker.wait_ready())
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture(scope="module")
def worker(orch_settings: Callable[..., OrchestratorSettings]) -> Iterator[WorkerProcess]:
    """One worker process shared by a test module."""
    w = WorkerProcess("phi_orchestrator.worker", worker_env(orch_settings())).wait_ready()
    yield w
    w.kill()
