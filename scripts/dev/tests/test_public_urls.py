"""The orchestrator URL that core-api writes into exported configs follows the stack's port."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[1] / "run.py"


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("dev_runner", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_orchestrator_url_follows_its_port_unless_set() -> None:
    runner = _runner()
    env = {"PHI_ORCHESTRATOR_PORT": "18001"}
    runner.set_public_urls(env)
    assert env["PHI_ORCHESTRATOR_URL"] == "http://localhost:18001"
    default: dict[str, str] = {}
    runner.set_public_urls(default)
    assert default["PHI_ORCHESTRATOR_URL"] == "http://localhost:8001"
    chosen = {"PHI_ORCHESTRATOR_PORT": "18001", "PHI_ORCHESTRATOR_URL": "https://phi.example.com"}
    runner.set_public_urls(chosen)
    assert chosen["PHI_ORCHESTRATOR_URL"] == "https://phi.example.com"


def test_core_api_trusts_the_web_server_beside_it_unless_told_otherwise() -> None:
    runner = _runner()
    env: dict[str, str] = {}
    runner.set_trusted_proxies(env)
    assert env["PHI_TRUSTED_PROXIES"] == "127.0.0.1"
    chosen = {"PHI_TRUSTED_PROXIES": "10.0.0.5"}
    runner.set_trusted_proxies(chosen)
    assert chosen["PHI_TRUSTED_PROXIES"] == "10.0.0.5"
    web = next((s for s in runner.SERVICES if s.name == "web"), None)
    if web is not None:  # listed once the web app is built (make test builds it)
        # The server that appends the browser's address, not `next start`.
        assert web.argv()[1].endswith("server.mjs")
