"""Fixtures of the router service's tests: the scripted OpenAI-compatible server, the real
local embedder and the llama.cpp server (phi_llm.fixtures, shared with the library's tests),
and the service itself on a loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from phi_llm.fixtures import embedder, fake_openai, llama_server
from phi_service.testing import LiveServer

__all__ = ["embedder", "fake_openai", "llama_server", "serve"]


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], LiveServer]]:
    """Start an app on a loopback port; stopped after the test."""
    started: list[LiveServer] = []

    def start(app: FastAPI) -> LiveServer:
        server = LiveServer(app, start_timeout=20).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
