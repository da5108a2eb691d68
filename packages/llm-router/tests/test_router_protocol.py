"""The in-process router and the service client are interchangeable behind LLMRouter."""

from __future__ import annotations

import inspect

import pytest

from phi_llm import LLMRouter, Router
from phi_llm.client import RouterClient


@pytest.mark.parametrize("implementation", [Router, RouterClient])
@pytest.mark.parametrize("method", ["chat", "complete", "embed", "supports_tools"])
def test_router_and_client_have_the_protocols_signatures(implementation: type, method: str) -> None:
    wanted = inspect.signature(getattr(LLMRouter, method))
    got = inspect.signature(getattr(implementation, method))
    assert list(got.parameters) == list(wanted.parameters), (implementation, method)
    for name, param in wanted.parameters.items():
        assert got.parameters[name].kind == param.kind, (implementation, method, name)
        assert got.parameters[name].default == param.default, (implementation, method, name)
