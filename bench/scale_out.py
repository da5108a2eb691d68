"""Scale-out: uploads and report tasks per second with one API and one worker of each kind
against two APIs and three workers of each kind, all processes on this machine sharing only
PostgreSQL and an S3 server (moto); and the object store's upload/read latency against the
local folder.

    .venv/bin/python bench/scale_out.py [--docs 48] [--tasks 24] [--smoke]

Documents are spread over eight organizations (one organization's uploads take one worker
slot at a time, documents/service.py), uploaded by eight client threads round-robin over the
APIs; "ingested/s" counts from the first upload to the last document READY. Report tasks are
DAILY_WAREHOUSE_REPORT on the built-in sample data, created round-robin over the
orchestrators; "tasks/s" counts from the first request to the last SUCCESS.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import ROOT, database, server, smoke_argument  # noqa: E402

from phi_platform.embedded_pg import free_port  # noqa: E402

ORGS = 8


def dev_runner() -> ModuleType:
    """scripts/dev/run.py, whose Child starts, logs and stops each process."""
    spec = importlib.util.spec_from_file_location("phi_dev_runner", ROOT / "scripts/dev/run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["phi_dev_runner"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)

    def to_log_only(name: str, stream: Any, logfile: Path) -> None:
        with logfile.open("a") as out:
            for line in iter(stream.readline, ""):
                out.write(line)

    module._pump = to_log_only  # the figures stay readable: the processes log to files
    module.log = lambda message: None
    return module


def start_moto() -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
    }
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(env["AWS_ENDPOINT_URL"], timeout=1)
            return proc, env
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit("moto did not start") from None
            time.sleep(0.2)


def storage_latency(bucket: str, samples: int, sizes: list[int]) -> list[tuple[str, ...]]:
    from phi_core_api.storage import LocalFileStorage
    from phi_core_api.storage.s3 import S3FileStorage

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        stores = {
            "local folder": LocalFileStorage(Path(folder)),
            "S3 (moto)": S3FileStorage(bucket, "bench"),
        }
        for size in sizes:
            data = os.urandom(size)
            for label, store in stores.items():
                writes, reads = [], []
                for i in range(samples):
                    key = f"{uuid.uuid4()}/{i}.bin"
                    t0 = time.perf_counter()
                    store.save(key, data)
                    writes.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    assert store.read(key) == data
                    reads.append(time.perf_counter() - t0)
                rows.append(
                    (
                        f"{size // 1024} kB",
                        label,
                        f"{statistics.median(writes) * 1000:.1f}",
                        f"{statistics.median(reads) * 1000:.1f}",
                    )
                )
    return rows


class Layout:
    """``apis`` core-api and orchestrator processes, ``workers`` workers of each kind."""

    def __init__(self, runner: ModuleType, env: dict[str, str], apis: int, workers: int) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="phi-scale-out-"))
        self.children: list[Any] = []
        self.core: list[str] = []
        self.orch: list[str] = []
        ready: list[str] = []
        for i in range(apis):
            for module, var, urls in (
                ("phi_core_api.main", "PHI_CORE_API_PORT", self.core),
                ("phi_orchestrator.main", "PHI_ORCHESTRATOR_PORT", self.orch),
            ):
                port = free_port()
                urls.append(f"http://127.0.0.1:{port}")
                self._start(runner, env, f"{module}-{i}", module, {var: str(port)})
        for i in range(workers):
            for module in ("phi_core_api.worker", "phi_orchestrator.worker"):
                port = free_port()
                ready.append(f"http://127.0.0.1:{port}")
                self._start(
                    runner, env, f"{module}-{i}", module, {"PHI_WORKER_METRICS_PORT": str(port)}
                )
        for url in [*self.core, *self.orch, *ready]:
            wait_ready(url)

    def _start(
        self, runner: ModuleType, env: dict[str, str], name: str, module: str, extra: dict[str, str]
    ) -> None:
        data = self.logs / name
        data.mkdir()
        child = runner.Child(
            name,
            [sys.executable, "-m", module],
            self.logs,
            env={**env, **extra, "PHI_DATA_DIR": str(data)},
        )
        child.start()
        self.children.append(child)

    def stop(self) -> None:
        for child in self.children:
            child.stop()
        deadline = time.monotonic() + 30
        for child in self.children:
            child.wait(deadline)


def wait_ready(url: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} never became ready")
        time.sleep(0.3)


def tenants(core: str, count: int) -> list[dict[str, Any]]:
    out = []
    roles = httpx.get(core + "/role-templates", params={"industry_key": "logistics"}).json()
    role = next(r for r in roles if r["key"] == "warehouse_analyst")
    for _ in range(count):
        r = httpx.post(
            core + "/auth/signup",
            json={
                "email": f"b-{uuid.uuid4().hex[:10]}@example.com",
                "password": "correct horse 9",
                "name": "B",
            },
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        org = httpx.post(core + "/orgs", json={"name": "Bench"}, headers=headers).json()
        agent = httpx.post(
            f"{core}/orgs/{org['id']}/agents",
            json={"industry_id": role["industry_id"], "role_template_id": role["id"], "name": "B"},
            headers=headers,
        ).json()
        out.append({"headers": headers, "agent": agent["id"]})
    return out


def measure(layout: Layout, database_url: str, docs: int, tasks: int) -> dict[str, float]:
    # No more organizations than documents or tasks (the smoke sends two of each).
    orgs = tenants(layout.core[0], min(ORGS, max(docs, tasks)))
    texts = [
        (
            f"SOP {i} ({uuid.uuid4().hex[:6]}): chilled goods from dock {i % 5} go to cold room "
            f"{i % 3} within 20 minutes; the shift lead signs the log at 06:00 and 18:00.\n"
        )
        * 6
        for i in range(docs)
    ]

    def upload(i: int) -> str:
        org = orgs[i % len(orgs)]
        api = layout.core[i % len(layout.core)]
        r = httpx.post(
            f"{api}/agents/{org['agent']}/documents",
            files={"file": (f"sop-{i}.txt", texts[i].encode(), "text/plain")},
            data={"source_type": "SOP"},
            headers=org["headers"],
            timeout=120,
        )
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(upload, range(docs)))
    uploaded = time.perf_counter() - started
    wait_all(
        database_url,
        "SELECT count(*) FROM documents WHERE id::text = ANY(%s) AND status = 'READY'",
        ids,
        "FAILED",
        "SELECT count(*) FROM documents WHERE id::text = ANY(%s) AND status = 'FAILED'",
    )
    ingested = time.perf_counter() - started

    def run_task(i: int) -> str:
        org = orgs[i % len(orgs)]
        api = layout.orch[i % len(layout.orch)]
        r = httpx.post(
            f"{api}/agents/{org['agent']}/run-task",
            json={"type": "DAILY_WAREHOUSE_REPORT", "input": {"data_source": "sample"}},
            headers=org["headers"],
            timeout=60,
        )
        assert r.status_code == 202, r.text
        return str(r.json()["task_id"])

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        task_ids = list(pool.map(run_task, range(tasks)))
    wait_all(
        database_url,
        "SELECT count(*) FROM tasks WHERE id::text = ANY(%s) AND status = 'SUCCESS'",
        task_ids,
        "FAILED",
        "SELECT count(*) FROM tasks WHERE id::text = ANY(%s) AND status IN ('FAILED', 'CANCELLED')",
    )
    ran = time.perf_counter() - started
    return {"uploads/s": docs / uploaded, "ingested/s": docs / ingested, "tasks/s": tasks / ran}


def wait_all(url: str, done_sql: str, ids: list[str], what: str, bad_sql: str) -> None:
    deadline = time.monotonic() + 1800
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            done = conn.execute(done_sql, (ids,)).fetchone()[0]  # type: ignore[index]
            if done == len(ids):
                return
            bad = conn.execute(bad_sql, (ids,)).fetchone()[0]  # type: ignore[index]
            if bad or time.monotonic() > deadline:
                raise SystemExit(f"{bad} {what}, {done}/{len(ids)} done")
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=48)
    parser.add_argument("--tasks", type=int, default=24)
    smoke_argument(parser)
    args = parser.parse_args()
    docs, tasks = (2, 2) if args.smoke else (args.docs, args.tasks)
    runner = dev_runner()
    moto, s3_env = start_moto()
    os.environ.update(s3_env)
    try:
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        print(f"cores: {os.cpu_count()}")
        print("\nobject store vs local folder (median ms)")
        print("| size | store | write | read |\n|---|---|---|---|")
        sizes = [100 * 1024] if args.smoke else [100 * 1024, 5 * 1024 * 1024]
        for row in storage_latency(bucket, 2 if args.smoke else 20, sizes):
            print("| " + " | ".join(row) + " |")

        with server() as url:
            db = database(url, "phi_bench_scale_out", seed=True)
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("PHI_", "DATABASE_URL"))
            }
            env.update(
                {
                    **s3_env,
                    "DATABASE_URL": db,
                    "PHI_MULTI_HOST": "1",
                    "PHI_JWT_SECRET": "bench-" + uuid.uuid4().hex * 2,
                    # Multi-host mode refuses to generate one per host: every process shares it.
                    "PHI_SECRETS_KEY": "bench-secrets-" + uuid.uuid4().hex * 2,
                    "PHI_STORAGE_URL": f"s3://{bucket}/docs",
                    "PHI_LLM_ROUTES": "heavy=builtin;light=builtin",
                    "PHI_SIGNUP_MAX_EXISTING_PER_ADDRESS": "1000000",
                    "PHI_SEARCH_EMBED_PROCESSES": "0",
                    "PYTHONUNBUFFERED": "1",
                }
            )
            print(f"\n{docs} documents, {tasks} report tasks per layout")
            print("| layout | uploads/s | ingested/s | report tasks/s |\n|---|---|---|---|")
            layouts = [("1 API + 1 worker", 1, 1), ("2 APIs + 3 workers", 2, 3)]
            if args.smoke:
                # One layout that still spreads the work over two of each process: the smoke
                # checks the script runs, and each process started costs seconds in make test.
                layouts = [("2 APIs + 2 workers", 2, 2)]
            for label, apis, workers in layouts:
                layout = Layout(runner, env, apis, workers)
                try:
                    figures = measure(layout, db, docs, tasks)
                finally:
                    layout.stop()
                print(
                    f"| {label} | {figures['uploads/s']:.1f} | {figures['ingested/s']:.2f} | "
                    f"{figures['tasks/s']:.2f} |",
                    flush=True,
                )
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
