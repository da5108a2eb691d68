"""PostgreSQL killed (kill -9 of the postmaster) and started again on the same data and port
while report and ask tasks run in real worker processes: every task still ends SUCCESS, and
no step runs again once the task's events say it finished."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from orch_factories import FAST, JWT_SECRET, make_tenant, plain_url, run_task, worker_env

from phi_orchestrator.main import create_app
from phi_orchestrator.settings import OrchestratorSettings
from phi_platform.testing import migrated_database
from phi_service.testing import LiveServer, WorkerProcess

DAY = "2026-11-24"


@pytest.fixture
def stack(
    own_pg_server: Any, tmp_path: Path
) -> Iterator[tuple[Any, OrchestratorSettings, LiveServer]]:
    """The server, a migrated database on it, the orchestrator API on that database."""
    url = migrated_database(own_pg_server, "phi_restart")
    settings = OrchestratorSettings(
        database_url=url, data_dir=tmp_path, jwt_secret=JWT_SECRET, db_pool_size=5, **FAST
    )
    server = LiveServer(create_app(settings), settings).start()
    yield own_pg_server, settings, server
    server.stop()


def _query(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run a query, riding out the outage (the server is down for a moment)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(plain_url(url), autocommit=True, connect_timeout=2) as conn:
                return conn.execute(query, params).fetchall()
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _kill_postmaster(pg: Any) -> None:
    pid = int((Path(pg.pgdata) / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pg.is_running():
        assert time.monotonic() < deadline, "the postmaster did not die"
        time.sleep(0.05)


def _start_again(pg: Any) -> None:
    # The old server's backends notice its death and exit within moments; until then the
    # new one refuses to start (their shared memory is still attached).
    deadline = time.monotonic() + 30
    while True:
        try:
            pg.start()
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_tasks_ride_out_a_database_restart(
    stack: tuple[Any, OrchestratorSettings, LiveServer],
) -> None:
    pg, settings, server = stack
    url = str(settings.database_url)
    workers = [WorkerProcess("phi_orchestrator.worker", worker_env(settings)) for _ in range(2)]
    try:
        for w in workers:
            w.wait_ready()
        tenant = make_tenant(url)
        with httpx.Client(base_url=server.url, timeout=30) as api:
            reports = [
                run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY}) for _ in range(6)
            ]
            asks = [run_task(api, tenant, "ASK", {"question": f"q{i}"}) for i in range(4)]
        ids = reports + asks
        # Kill the server once several tasks are in the middle of their steps.
        deadline = time.monotonic() + 60
        while True:
            (running,) = _query(
                url,
                "SELECT count(DISTINCT task_id) FROM task_events WHERE event_type = "
                "'step_started' AND task_id = ANY(%s::uuid[])",
                ids,
            )[0]
            if running >= 2:
                break
            assert time.monotonic() < deadline, "no task started"
            time.sleep(0.05)
        _kill_postmaster(pg)
        time.sleep(1.0)
        _start_again(pg)

        deadline = time.monotonic() + 120
        while True:
            rows = _query(
                url, "SELECT id::text, status, error FROM tasks WHERE id = ANY(%s::uuid[])", ids
            )
            if all(r[1] in ("SUCCESS", "FAILED", "CANCELLED") for r in rows):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"tasks stranded: {[r for r in rows if r[1] != 'SUCCESS']}")
            time.sleep(0.2)
        assert [r for r in rows if r[1] != "SUCCESS"] == []

        events = _query(
            url,
            "SELECT task_id::text, event_type, payload->>'step' FROM task_events "
            "WHERE task_id = ANY(%s::uuid[]) ORDER BY seq",
            ids,
        )
        # The restart did cut tasks off (each says so once it runs again).
        assert any(kind == "task_retried" for _, kind, _ in events)
        finished: Counter[tuple[str, str]] = Counter()
        for task_id, kind, step in events:
            if kind == "step_finished":
                finished[(task_id, step)] += 1
            if kind == "step_started":
                assert (task_id, step) not in finished, f"{step} of {task_id} ran again"
        assert set(finished.values()) == {1}, finished
        assert {t for t, _ in finished} == set(ids)
    finally:
        for w in workers:
            w.kill()
