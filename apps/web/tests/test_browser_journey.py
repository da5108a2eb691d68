"""The web app in a real browser against the real services.

Starts core-api, the orchestrator and a worker of each as processes on the test database,
serves the web app's production build (`make web-build`) with `server.mjs`, and runs e2e/journey.mjs
(playwright-core driving Debian's Chromium) through the whole user journey. Screenshots of
every page go to apps/web/e2e/screenshots/ (git-ignored); the JavaScript each route loads
cold is written to e2e/screenshots/js-budget.json and checked against the 200 kB budget.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phi_platform.embedded_pg import free_port
from phi_platform.testing import AUDIT_SECRETS, audit_events_with_secrets

WEB = Path(__file__).resolve().parents[1]
SCREENSHOTS = WEB / "e2e" / "screenshots"
CHROMIUM = os.environ.get("PHI_CHROMIUM", "/usr/bin/chromium")
JS_BUDGET_BYTES = 200 * 1024
ADMIN_EMAIL = "admin-e2e@example.com"


class Proc:
    """A child process whose output is kept (and shown when something fails)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None):
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines[-200:])

    def wait_for(
        self, ready: str | None = None, url: str | None = None, timeout: float = 90
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output}")
            if ready is not None and any(ready in line for line in self.lines):
                return
            if url is not None:
                try:
                    if httpx.get(url, timeout=2).status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start in {timeout}s:\n{self.output}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def own_database_url(pg_server: Any) -> Iterator[str]:
    """A database of its own: the journey's workers must not take other tests' queued jobs."""
    from sqlalchemy import create_engine

    from phi_platform.catalog.seed import seed_catalog
    from phi_platform.db.migrate import upgrade
    from phi_platform.settings import to_sqlalchemy_url

    name = f"phi_web_e2e_{uuid.uuid4().hex[:8]}"
    url = to_sqlalchemy_url(pg_server.ensure_database(name))
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        seed_catalog(conn)
    engine.dispose()
    yield url
    pg_server.drop_database(name)


# The journey's agent task: the model's answers, scripted for the instruction the journey picks
# from the role's suggestions (any other model call gets a 500 and falls back to builtin).
JOURNEY_INSTRUCTION = "Which zone had the most late orders yesterday"
JOURNEY_ANSWER = "Late orders come from cold chain pallets counted after 07:00."
# A second task, typed: its call is rejected in place, and the model reads why.
REJECT_INSTRUCTION = "Remember that dock 2 is the slowest dock"
REJECT_REASON = "dock speeds change every week"
REJECT_ANSWER = "Understood: I did not remember it, since dock speeds change every week."
# A third: it starts a report on the customer's data, which waits for a local agent that never
# takes its call; the journey cancels the task, and the report says why it stopped.
CANCEL_INSTRUCTION = "Report on the 24th from the warehouse database"


@pytest.fixture(scope="module")
def scripted_model() -> Iterator[Any]:
    from collections import deque

    from phi_llm.testing import FakeOpenAIServer

    server = FakeOpenAIServer().start()
    server.default = "500"
    server.by_marker[JOURNEY_INSTRUCTION] = deque(
        [
            "calls:" + json.dumps([{"name": "search_documents", "arguments": {"query": "late"}}]),
            "calls:"
            + json.dumps(
                [{"name": "remember", "arguments": {"text": "Cold chain counts run late."}}]
            ),
            "say:" + JOURNEY_ANSWER,
        ]
    )
    server.by_marker[REJECT_INSTRUCTION] = deque(
        [
            "calls:"
            + json.dumps([{"name": "remember", "arguments": {"text": "Dock 2 is the slowest."}}]),
            "say:" + REJECT_ANSWER,
        ]
    )
    report = {
        "type": "DAILY_WAREHOUSE_REPORT",
        "input": {"day": "2026-11-24", "data_source": "local_agent"},
    }
    server.by_marker[CANCEL_INSTRUCTION] = deque(
        ["calls:" + json.dumps([{"name": "run_workflow", "arguments": report}]), "say:not reached"]
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(
    own_database_url: str, tmp_path_factory: pytest.TempPathFactory, scripted_model: Any
) -> Iterator[dict[str, str]]:
    database_url = own_database_url
    if not (WEB / ".next" / "BUILD_ID").exists() or not (WEB / "node_modules").exists():
        pytest.fail("the web app is not built: run `make web-build` (make test does)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does)")
    data_dir = tmp_path_factory.mktemp("phi-web-e2e")
    core_port, orchestrator_port, web_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PHI_DATA_DIR": str(data_dir),
        "PHI_JWT_SECRET": "e2e-secret-" + "x" * 40,
        "PHI_CORE_API_PORT": str(core_port),
        "PHI_ORCHESTRATOR_PORT": str(orchestrator_port),
        "PHI_ADMIN_EMAILS": ADMIN_EMAIL,
        "PHI_WORKER_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
        # A model that calls tools (scripted), so the journey can give the agent a task.
        "PHI_LLM_ROUTES": "heavy=openai:scripted-model,builtin;light=builtin",
        "PHI_OPENAI_BASE_URL": scripted_model.base_url,
        "PHI_LLM_RETRIES": "0",
        # The journey adds a webhook on loopback (and removes it before anything is sent).
        "PHI_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    started: list[Proc] = []
    try:
        core = Proc("core-api", [sys.executable, "-m", "phi_core_api.main"], env)
        started.append(core)
        worker = Proc("worker", [sys.executable, "-m", "phi_core_api.worker"], env)
        started.append(worker)
        orchestrator = Proc("orchestrator", [sys.executable, "-m", "phi_orchestrator.main"], env)
        started.append(orchestrator)
        orchestrator_worker = Proc(
            "orchestrator-worker", [sys.executable, "-m", "phi_orchestrator.worker"], env
        )
        started.append(orchestrator_worker)
        core.wait_for(url=f"http://127.0.0.1:{core_port}/health")
        orchestrator.wait_for(url=f"http://127.0.0.1:{orchestrator_port}/health")
        worker.wait_for(ready="worker ready")
        orchestrator_worker.wait_for(ready="ready (concurrency")
        web_env = {**env, "NEXT_TELEMETRY_DISABLED": "1"}
        web = Proc(
            "web",
            [
                "node",
                str(WEB / "server.mjs"),
                "--port",
                str(web_port),
                "--hostname",
                "127.0.0.1",
            ],
            web_env,
        )
        started.append(web)
        web.wait_for(url=f"http://127.0.0.1:{web_port}/login")
        yield {
            "web": f"http://127.0.0.1:{web_port}",
            "core": f"http://127.0.0.1:{core_port}",
            # A local agent's heartbeat goes to the orchestrator itself, not through the web app.
            "orchestrator": f"http://127.0.0.1:{orchestrator_port}",
        }
    finally:
        for proc in reversed(started):
            proc.stop()
        for proc in started:
            if proc.proc.returncode not in (0, -15, None):
                print(f"--- {proc.name} output ---\n{proc.output}")


def test_browser_journey(stack: dict[str, str], own_database_url: str, scripted_model: Any) -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    env = {
        **os.environ,
        "BASE_URL": stack["web"].replace("127.0.0.1", "localhost"),
        "CHROMIUM": CHROMIUM,
        "SCREENSHOTS": str(SCREENSHOTS),
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ORCHESTRATOR_URL": stack["orchestrator"],
        "RUN_ID": uuid.uuid4().hex[:8],
        "AGENT_ANSWER": JOURNEY_ANSWER,
        "REJECT_INSTRUCTION": REJECT_INSTRUCTION,
        "REJECT_REASON": REJECT_REASON,
        "REJECT_ANSWER": REJECT_ANSWER,
        "CANCEL_INSTRUCTION": CANCEL_INSTRUCTION,
    }
    done = subprocess.run(
        ["node", str(WEB / "e2e" / "journey.mjs")],
        env=env,
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=480,
    )
    print(done.stdout)
    assert done.returncode == 0, f"journey failed:\n{done.stdout}\n{done.stderr}"
    # The rejection, with its reason, reached the model as the call's error.
    last = scripted_model.requests_with(REJECT_INSTRUCTION)[-1]["body"]["messages"]
    (rejected,) = [m["content"] for m in last if m["role"] == "tool"]
    assert f"a person rejected this call: {REJECT_REASON}" in rejected
    # The cancelled task asked the model once: nothing more after the cancel.
    assert len(scripted_model.requests_with(CANCEL_INSTRUCTION)) == 1

    budget = json.loads((SCREENSHOTS / "js-budget.json").read_text())
    assert len(budget) >= 8, budget  # every page of the journey was measured
    over = {route: size for route, size in budget.items() if size > JS_BUDGET_BYTES}
    assert not over, f"routes over the {JS_BUDGET_BYTES // 1024} kB JS budget: {over}"
    shots = sorted(p.name for p in SCREENSHOTS.glob("*.png"))
    assert len(shots) >= 8, shots

    # The journey's own database is not the shared one the end-of-run scan reads: its audit
    # log (typed passwords, a wrong one too, the key and webhook secrets shown once) is
    # scanned here.
    seen = json.loads((SCREENSHOTS / "secrets-seen.json").read_text())
    assert len(seen) == 5, "two passwords, one local-agent key, two webhook secrets"
    AUDIT_SECRETS.update(seen)
    import psycopg

    with psycopg.connect(own_database_url.replace("postgresql+psycopg://", "postgresql://")) as c:
        actions = {a for (a,) in c.execute("SELECT DISTINCT action FROM audit_events")}
    assert {
        "auth.sign_in_failed",
        "local_agent_key.created",
        "delivery_destination.secret_rotated",
    } <= actions, actions
    leaks = audit_events_with_secrets(own_database_url)
    assert not leaks, "audit events carry secrets:\n" + "\n".join(leaks)
