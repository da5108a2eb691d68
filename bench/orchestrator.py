"""Orchestrator benchmark: claim latency, orchestration overhead, task throughput.

    .venv/bin/python bench/orchestrator.py [--calls 40] [--tasks 20] [--throughput 40]
        [--parts claims,overhead,throughput] [--sources local_agent,sample] [--smoke]

Everything runs on loopback against one migrated database: the orchestrator API in this
process (uvicorn), workers as real processes, and scripted local agents speaking the protocol
over HTTP.

1. Tool call created → claimed: one local agent long-polls (``wait=30``), another polls every
   5 s without waiting, both in the same run; calls for both are created at the same moments.
   Latency is ``claimed_at - created_at`` of the call, both stamped by the database.
2. Orchestration overhead of a DAILY_WAREHOUSE_REPORT task: its wall time (created → finished)
   minus the time spent inside its graph nodes (their ``step_finished`` durations: data
   generation, analysis, the model; a step's wait in place for the local agent is not in
   its duration) and minus the tool time (call created → result stored). What remains is
   queueing, checkpoints, events, storing the result and waking the run (or the interrupt and
   the resume). Tasks run one at a time on one worker, after two warm-up tasks.
3. Tasks completed per second with 1 and 2 workers (4 jobs at once each): a batch of ASK tasks
   (builtin answer, no documents: mostly orchestration) and of sample reports (CPU-bound).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402

JWT_SECRET = "bench-" + "x" * 40
DAY = "2026-11-24"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    return (
        f"n={len(values)} p50={pct(values, 0.5):.1f} p95={pct(values, 0.95):.1f} "
        f"max={max(values):.1f}"
    )


class Tenant:
    def __init__(self, url: str) -> None:
        from phi_service.tokens import create_access_token

        with psycopg.connect(url, autocommit=True) as conn:
            (user,) = conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
                (f"{uuid.uuid4().hex}@bench",),
            ).fetchone()  # type: ignore[misc]
            (org,) = conn.execute(
                "INSERT INTO organizations (name) VALUES ('bench') RETURNING id"
            ).fetchone()  # type: ignore[misc]
            conn.execute(
                "INSERT INTO organization_members (org_id, user_id, role) VALUES (%s, %s, 'OWNER')",
                (org, user),
            )
            (agent,) = conn.execute(
                "INSERT INTO agents (org_id, name) VALUES (%s, 'bench') RETURNING id", (org,)
            ).fetchone()  # type: ignore[misc]
        self.org_id, self.agent_id = str(org), str(agent)
        self.headers = {"Authorization": f"Bearer {create_access_token(user, JWT_SECRET, 600)[0]}"}


class LocalAgent:
    def __init__(self, base: str, api: httpx.Client, tenant: Tenant) -> None:
        r = api.post(
            f"/agents/{tenant.agent_id}/local-agent-keys",
            json={"name": "b"},
            headers=tenant.headers,
        )
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {r.json()['key']}"}, timeout=60
        )
        hb = self.http.post("/local-agents/heartbeat", json={"name": "bench", "tools": ["db"]})
        self.id = hb.json()["local_agent_id"]
        self.stop = threading.Event()

    def poll(self, wait: int) -> list[dict[str, Any]]:
        r = self.http.get(
            f"/local-agents/{self.id}/pending-tasks", params={"wait": wait, "max": 20}
        )
        return r.json()["tasks"]  # type: ignore[no-any-return]


def create_calls(url: str, tenants: list[Tenant]) -> None:
    """A WAITING task with a PENDING call for each tenant, created in one transaction."""
    with psycopg.connect(url) as conn:
        for t in tenants:
            (task,) = conn.execute(
                "INSERT INTO tasks (agent_id, org_id, type, status, input) "
                "VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'WAITING', '{}') RETURNING id",
                (t.agent_id, t.org_id),
            ).fetchone()  # type: ignore[misc]
            conn.execute(
                "INSERT INTO tool_calls (task_id, org_id, agent_id, step, tool, payload, "
                "created_at) VALUES (%s, %s, %s, 'fetch_data', 'db', '{}', clock_timestamp())",
                (task, t.org_id, t.agent_id),
            )


def claim_latency(
    url: str, base: str, api: httpx.Client, calls: int, poll_every: float = 5.0
) -> dict[str, list[float]]:
    long_t, fixed_t = Tenant(url), Tenant(url)
    long_agent, fixed_agent = LocalAgent(base, api, long_t), LocalAgent(base, api, fixed_t)

    def long_poll() -> None:
        while not long_agent.stop.is_set():
            long_agent.poll(30 if not long_agent.stop.is_set() else 0)

    def fixed_poll() -> None:
        while not fixed_agent.stop.is_set():
            fixed_agent.poll(0)
            fixed_agent.stop.wait(poll_every)

    threads = [threading.Thread(target=long_poll), threading.Thread(target=fixed_poll)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    rng = __import__("random").Random(7)
    for _ in range(calls):
        create_calls(url, [long_t, fixed_t])
        time.sleep(rng.uniform(0.2, 1.2))
    deadline = time.monotonic() + 15
    with psycopg.connect(url) as conn:
        while time.monotonic() < deadline:
            (open_calls,) = conn.execute(
                "SELECT count(*) FROM tool_calls WHERE status = 'PENDING'"
            ).fetchone()  # type: ignore[misc]
            if not open_calls:
                break
            time.sleep(0.2)
    fixed_agent.stop.set()
    long_agent.stop.set()
    # Wake the long poll so its thread ends.
    create_calls(url, [long_t])
    for t in threads:
        t.join(40)
    out: dict[str, list[float]] = {}
    with psycopg.connect(url) as conn:
        for name, tenant in (("long_poll", long_t), (f"poll_{poll_every:g}s", fixed_t)):
            rows = conn.execute(
                "SELECT extract(epoch FROM claimed_at - created_at) * 1000 FROM tool_calls "
                "WHERE agent_id = %s AND claimed_at IS NOT NULL ORDER BY created_at LIMIT %s",
                (tenant.agent_id, calls),
            ).fetchall()
            out[name] = [float(r[0]) for r in rows]
    return out


def worker_env(url: str, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
    env.update(
        {
            "PHI_DATABASE_URL": url,
            "PHI_DATA_DIR": data_dir,
            "PHI_JWT_SECRET": JWT_SECRET,
            "PHI_WORKER_CONCURRENCY": "4",
            "PHI_LLM_ROUTES": "heavy=builtin;light=builtin",
        }
    )
    return env


def answer_calls(base: str, api: httpx.Client, tenant: Tenant, stop: threading.Event) -> None:
    """A scripted local agent answering report calls from the sample warehouse at once."""
    from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_result

    agent = LocalAgent(base, api, tenant)
    # The result a local agent sends over the demo data: every query of the report's payload
    # (range checks and trends included), read from the same rows as the in-app sample.
    answer = sample_result(__import__("datetime").date.fromisoformat(DAY))
    while not stop.is_set():
        for call in agent.poll(2):
            names = [q["name"] for q in call["payload"]["queries"]]
            results = {name: answer["results"][name] for name in names}
            agent.http.post(
                "/tool-callbacks",
                content=json.dumps(
                    {
                        "tool_call_id": call["tool_call_id"],
                        "task_id": call["task_id"],
                        "attempt": call["attempt"],
                        "tool": "db",
                        "result": {"results": results},
                        "error": None,
                    }
                ),
                headers={"Content-Type": "application/json"},
            )


def run_and_wait(api: httpx.Client, url: str, tenant: Tenant, body: dict[str, Any]) -> str:
    r = api.post(f"/agents/{tenant.agent_id}/run-task", json=body, headers=tenant.headers)
    task_id = r.json()["task_id"]
    with psycopg.connect(url) as conn:
        while True:
            (status,) = conn.execute(
                "SELECT status FROM tasks WHERE id = %s", (task_id,)
            ).fetchone()  # type: ignore[misc]
            if status in ("SUCCESS", "FAILED", "CANCELLED"):
                if status != "SUCCESS":
                    raise RuntimeError(f"task {task_id} ended {status}")
                return str(task_id)
            time.sleep(0.01)


def overhead_ms(url: str, task_id: str) -> float:
    with psycopg.connect(url) as conn:
        (total,) = conn.execute(
            "SELECT extract(epoch FROM finished_at - created_at) * 1000 FROM tasks WHERE id = %s",
            (task_id,),
        ).fetchone()  # type: ignore[misc]
        (steps,) = conn.execute(
            "SELECT coalesce(sum((payload->>'duration_ms')::float), 0) FROM task_events "
            "WHERE task_id = %s AND event_type = 'step_finished'",
            (task_id,),
        ).fetchone()  # type: ignore[misc]
        (tool,) = conn.execute(
            "SELECT coalesce(sum(extract(epoch FROM completed_at - created_at) * 1000), 0) "
            "FROM tool_calls WHERE task_id = %s",
            (task_id,),
        ).fetchone()  # type: ignore[misc]
    return float(total) - float(steps) - float(tool)


def throughput(api: httpx.Client, url: str, tenant: Tenant, body: dict[str, Any], n: int) -> float:
    ids = [
        api.post(f"/agents/{tenant.agent_id}/run-task", json=body, headers=tenant.headers).json()[
            "task_id"
        ]
        for _ in range(n)
    ]
    with psycopg.connect(url) as conn:
        while True:
            (done,) = conn.execute(
                "SELECT count(*) FROM tasks WHERE id = ANY(%s::uuid[]) AND status = 'SUCCESS'",
                (ids,),
            ).fetchone()  # type: ignore[misc]
            if done == n:
                break
            time.sleep(0.05)
        (seconds,) = conn.execute(
            "SELECT extract(epoch FROM max(finished_at) - min(created_at)) FROM tasks "
            "WHERE id = ANY(%s::uuid[])",
            (ids,),
        ).fetchone()  # type: ignore[misc]
    return n / float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--throughput", type=int, default=40)
    parser.add_argument(
        "--parts",
        default="claims,overhead,throughput",
        help="which of the three measurements to run (comma-separated)",
    )
    parser.add_argument(
        "--sources",
        default="local_agent,sample",
        help="the reports' data sources the overhead part measures (comma-separated)",
    )
    smoke_argument(parser)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    poll_every = 5.0
    if args.smoke:
        # The smoke's poller polls every second: waiting out a 5 s poll proves nothing more.
        args.calls, args.tasks, args.throughput, poll_every = 2, 1, 3, 1.0

    from phi_orchestrator.main import create_app
    from phi_orchestrator.settings import OrchestratorSettings
    from phi_service.testing import LiveServer, WorkerProcess

    print(f"cores: {os.cpu_count()}")
    with server() as server_url, tempfile.TemporaryDirectory() as data_dir:
        url = database(server_url, "bench_orchestrator", fresh=True)
        settings = OrchestratorSettings(
            database_url=url, data_dir=data_dir, jwt_secret=JWT_SECRET, lease_seconds=60
        )
        live = LiveServer(create_app(settings), settings).start()
        api = httpx.Client(base_url=live.url, timeout=120)
        workers: list[Any] = []
        try:
            if "claims" in parts:
                lat = claim_latency(url, live.url, api, args.calls, poll_every)
                for name, values in lat.items():
                    print(f"claim latency ms, {name}: {summary(values)}")

            workers.append(WorkerProcess("phi_orchestrator.worker", worker_env(url, data_dir)))
            workers[0].wait_ready()
            tenant = Tenant(url)
            stop = threading.Event()
            answerer = threading.Thread(target=answer_calls, args=(live.url, api, tenant, stop))
            answerer.start()
            for source in args.sources.split(",") if "overhead" in parts else ():
                body = {
                    "type": "DAILY_WAREHOUSE_REPORT",
                    "input": {"day": DAY, "data_source": source},
                }
                for _ in range(0 if args.smoke else 2):
                    run_and_wait(api, url, tenant, body)  # warm-up
                values = [
                    overhead_ms(url, run_and_wait(api, url, tenant, body))
                    for _ in range(args.tasks)
                ]
                print(f"orchestration overhead ms per report ({source}): {summary(values)}")
            stop.set()
            answerer.join(10)

            for count in (1, 2) if "throughput" in parts else ():
                if count == 2:
                    workers.append(
                        WorkerProcess("phi_orchestrator.worker", worker_env(url, data_dir))
                    )
                    workers[1].wait_ready()
                for label, body in (
                    ("ASK", {"type": "ASK", "input": {"question": "q"}}),
                    ("report (sample)", {"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": DAY}}),
                ):
                    if count == 2 and label != "ASK" and not args.smoke:
                        # Both workers warm (sample data generated) before measuring.
                        throughput(api, url, tenant, body, 4)
                    rate = throughput(api, url, tenant, body, args.throughput)
                    print(f"tasks/s, {label}, {count} worker(s): {rate:.2f}")
        finally:
            for w in workers:
                w.stop()
            api.close()
            live.stop()


if __name__ == "__main__":
    main()
