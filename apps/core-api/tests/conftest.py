from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from phi_core_api.main import create_app
from phi_core_api.settings import CoreApiSettings
from phi_platform.embedded_pg import free_port


class LiveServer:
    """The real app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, settings: CoreApiSettings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            proxy_headers=False,  # as main.run(): the app applies PHI_TRUSTED_PROXIES
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("core-api test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


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
        }
        values.update(overrides)
        return CoreApiSettings(**values)

    return make


@pytest.fixture(scope="session")
def live_server(make_settings: Callable[..., CoreApiSettings]) -> Iterator[LiveServer]:
    server = LiveServer(make_settings()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def start_server(
    make_settings: Callable[..., CoreApiSettings],
) -> Iterator[Callable[..., LiveServer]]:
    """Start an extra server with its own settings (stopped at the end of the run)."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        server = LiveServer(make_settings(**overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c
