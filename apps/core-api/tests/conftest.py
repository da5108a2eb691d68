from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# Shared with tests/profiles/conftest.py (a conftest cannot be imported by module name).
from core_workers import _worker_factory

from phi_core_api.main import create_app
from phi_core_api.settings import CoreApiSettings
from phi_service.testing import LiveServer, WorkerProcess


@pytest.fixture(scope="session")
def make_settings(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., CoreApiSettings]:
    data_dir: Path = tmp_path_factory.mktemp("phi-data")

    def make(**overrides: Any) -> CoreApiSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": data_dir,
            "jwt_secret": "test-secret-" + "x" * 40,
            "db_pool_size": 5,
            # Every test signs up from 127.0.0.1: the limit on sign-ups for taken emails
            # per address would soon refuse them all (tests/auth/test_signup.py tests it).
            "signup_max_existing_per_address": 1_000_000,
        }
        values.update(overrides)
        return CoreApiSettings(**values)

    return make


@pytest.fixture(scope="session")
def live_server(make_settings: Callable[..., CoreApiSettings]) -> Iterator[LiveServer]:
    settings = make_settings()
    server = LiveServer(create_app(settings), settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def start_server(
    make_settings: Callable[..., CoreApiSettings],
) -> Iterator[Callable[..., LiveServer]]:
    """Start an extra server with its own settings (stopped at the end of the run)."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        settings = make_settings(**overrides)
        server = LiveServer(create_app(settings), settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def start_worker(live_server: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes on the test database and data dir (stopped after the module)."""
    yield from _worker_factory(live_server)


@pytest.fixture
def start_own_worker(live_server: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """Like ``start_worker`` but the workers stop at the end of the test. Their jobs are left
    behind on purpose (long manuals that keep the slots busy), so they get 1 s to finish
    before SIGKILL instead of 20; the tests clear the queue they leave."""
    yield from _worker_factory(live_server, grace=1)
