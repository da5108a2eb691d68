from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

# The worker-process helper of the core-api tests, shared rather than copied.
from core_workers import _worker_factory

from phi_llm.testing import FakeOpenAIServer


@pytest.fixture(scope="module")
def profile_worker_factory(live_server: Any) -> Iterator[Callable[..., Any]]:
    yield from _worker_factory(live_server)


@pytest.fixture
def own_worker(live_server: Any) -> Iterator[Callable[..., Any]]:
    """Workers that stop at the end of the test (for tests that need their own LLM settings)."""
    yield from _worker_factory(live_server)


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()
