"""`make dev`'s supervisor, as real processes: it serves, stops everything, and keeps data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

RUNNER = Path(__file__).resolve().parents[1] / "run.py"


@pytest.fixture
def runners() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The runners a test started; one still running when the test ends (it failed) is stopped
    with its whole stack, which would otherwise outlive the test run."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start(
    env: dict[str, str], log: Path, runners: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER)], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    runners.append(proc)
    return proc


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"dev environment did not become healthy:\n{log.read_text()}")


def _processes_under(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(str(data_dir) in part for part in (p.info["cmdline"] or [])):
            found.append(p)
    return found


def test_serves_stops_cleanly_and_keeps_data(
    data_home: Path,
    stack_ports: Callable[[], dict[str, str]],
    runners: list[subprocess.Popen[bytes]],
) -> None:
    tmp_path = data_home
    ports = stack_ports()
    api_port, router_port = ports["PHI_CORE_API_PORT"], ports["PHI_LLM_ROUTER_PORT"]
    worker_port = ports["PHI_CORE_WORKER_PORT"]
    env = {**os.environ, **ports, "PHI_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    url = f"http://127.0.0.1:{api_port}"
    log = tmp_path / "dev.log"

    proc = _start(env, log, runners)
    _wait_healthy(url, proc, log)
    creds = {"email": "ops@example.com", "password": "keep me around"}
    assert httpx.post(f"{url}/auth/signup", json=creds).status_code == 201
    secret = tmp_path / "data" / "secrets" / "jwt_secret"
    assert secret.exists() and secret.stat().st_mode & 0o077 == 0
    # The LLM router answers OpenAI clients with the token generated into the data dir.
    router = f"http://127.0.0.1:{router_port}"
    _wait_healthy(router, proc, log)
    token = (tmp_path / "data" / "secrets" / "llm_router_token").read_text().strip()
    models = httpx.get(f"{router}/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert "heavy" in {m["id"] for m in models.json()["data"]}

    # Operators' view: each service says where its health, readiness and metrics are, and
    # answers there; the API's log lines are JSON with the request's id.
    r = httpx.get(f"{url}/agents/not-a-uuid", headers={"X-Request-ID": "dev-runner-1"})
    assert r.headers["X-Request-ID"] == "dev-runner-1"
    for base in (url, router, f"http://127.0.0.1:{worker_port}"):
        _wait_healthy(base, proc, log)
        assert httpx.get(f"{base}/ready").status_code == 200, base
        assert "phi_" in httpx.get(f"{base}/metrics").text, base
        assert f"{base.replace('127.0.0.1', 'localhost')}/metrics" in log.read_text()
    api_lines = (tmp_path / "data" / "logs" / "core-api.log").read_text().splitlines()
    entries = [json.loads(line) for line in api_lines if line.startswith("{")]
    mine = [e for e in entries if e.get("request_id") == "dev-runner-1"]
    assert mine and mine[-1]["route"] == "/agents/{agent_id}" and mine[-1]["status"] == 401

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()
    assert _processes_under(tmp_path / "data") == []
    assert "all stopped" in log.read_text()

    # Second start: same data, and Ctrl-C (SIGINT) stops it too.
    proc = _start(env, log, runners)
    _wait_healthy(url, proc, log)
    assert httpx.post(f"{url}/auth/login", json=creds).status_code == 200
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()
    assert _processes_under(tmp_path / "data") == []
