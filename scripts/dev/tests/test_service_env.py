"""What each process of `make dev` is started with beyond the supervisor's environment."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "run.py"


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("dev_runner_env", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_the_web_server_gets_malloc_settings_the_environment_can_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = _runner()
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    env = runner.WEB.env()
    # big buffers (uploads) mapped on their own and given back when freed (issue 24)
    assert env["MALLOC_MMAP_THRESHOLD_"] == "65536"
    assert env["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert runner.WEB.env()["MALLOC_ARENA_MAX"] == "4"


def test_a_worker_gets_its_own_metrics_port_and_the_rest_as_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = _runner()
    monkeypatch.setenv("PHI_CORE_WORKER_PORT", "18003")
    monkeypatch.setenv("PHI_WORKER_METRICS_PORT", "1")
    worker = next(s for s in runner.SERVICES if s.name == "worker")
    env = worker.env()
    assert env["PHI_WORKER_METRICS_PORT"] == "18003"
    assert "MALLOC_MMAP_THRESHOLD_" not in env
    api = next(s for s in runner.SERVICES if s.name == "core-api")
    assert api.env() is None  # inherits the supervisor's environment
