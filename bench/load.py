"""Mixed load against `make dev`'s stack: 50 clients listing agents, searching and uploading.

Starts the whole stack with `scripts/dev/run.py` (its own data dir under .phi/bench/load and
its own ports, PostgreSQL included), makes 5 organizations with one agent and a few
documents each, then runs ``--clients`` concurrent clients for ``--duration`` seconds. Each
client belongs to one organization and, in a loop with no pause, lists its organization's
agents (60 %), searches its agent's documents (30 %) or uploads a small text document (10 %).
Prints requests per second, p50/p99 per route, errors and the API process's memory (RSS).

    .venv/bin/python bench/load.py [--clients 50] [--duration 60] [--new-questions 0.5]
                                   [--profile out.txt]

Searches ask one of five questions, so after the first few every question's vector is in the
API's cache; ``--new-questions`` sets the share of searches that ask a question never asked
before (a number appended), which the API must embed. The API's settings come from the
environment as with `make dev`: ``PHI_SEARCH_QUERY_CACHE_SIZE=0 PHI_SEARCH_EMBED_PROCESSES=0``
runs it as it was before the cache and the embedding processes (docs/benchmarks.md).

``--profile`` records the API process with py-spy (in requirements-dev.txt) during the run.
The smoke run (make test) uses 3 clients of 2 organizations for 2 seconds on the test run's
PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

warnings.filterwarnings("ignore", module="platformdirs")

from phi_platform.embedded_pg import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_db import BENCH_DIR, SERVER_ENV, database, smoke_argument  # noqa: E402

ORGS = 5
CACHE_ENV = "PHI_SEARCH_QUERY_CACHE_SIZE"
PROCESSES_ENV = "PHI_SEARCH_EMBED_PROCESSES"
WORDS = (
    "pallet dock carrier label scanner aisle rack shift supervisor report forklift inventory "
    "count cold room chilled loading unloading truck driver incident seal trailer damage"
).split()
QUERIES = [
    "how do I check the seal on a trailer",
    "who signs the incident report",
    "cold room temperature checks",
    "forklift inspection before the shift",
    "what to do with damaged pallets",
]


def document(rng: random.Random) -> bytes:
    lines = [
        f"Procedure {rng.randint(1, 999)}: " + " ".join(rng.choice(WORDS) for _ in range(40)) + "."
        for _ in range(6)
    ]
    return "\n\n".join(lines).encode()


@contextmanager
def stack(data_dir: Path, database_url: str | None) -> Iterator[dict[str, object]]:
    """`make dev`'s supervisor with its own ports; stopped (SIGTERM) on the way out."""
    ports = {
        name: free_port()
        for name in (
            "PHI_PG_PORT",
            "PHI_CORE_API_PORT",
            "PHI_LLM_ROUTER_PORT",
            "PHI_ORCHESTRATOR_PORT",
            "PHI_CORE_WORKER_PORT",
            "PHI_ORCHESTRATOR_WORKER_PORT",
            "PHI_WEB_PORT",
        )
    }
    api_port = ports["PHI_CORE_API_PORT"]
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "PHI_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    log = data_dir.parent / f"{data_dir.name}.log"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "dev" / "run.py")],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the stack exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        api = next(
            p
            for p in psutil.Process(proc.pid).children()
            if "phi_core_api.main" in " ".join(p.cmdline())
        )
        yield {
            "url": url,
            "api": api,
            "log": log,
            "stack": psutil.Process(proc.pid),
            "ports": ports,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def prepare(url: str, docs_per_org: int, orgs: int = ORGS) -> list[dict[str, str]]:
    """One owner, organization and agent per tenant (``orgs`` of them), with documents to
    search (READY)."""
    rng = random.Random(7)
    tenants = []
    with httpx.Client(base_url=url, timeout=60) as c:
        role = c.get("/role-templates", params={"industry_key": "logistics"}).json()[0]
        pending = []
        for i in range(orgs):
            email = f"load-{uuid.uuid4().hex[:8]}@example.com"
            r = c.post("/auth/signup", json={"email": email, "password": "load test 123"})
            assert r.status_code == 201, r.text
            h = {"Authorization": f"Bearer {r.json()['access_token']}"}
            org = c.post("/orgs", json={"name": f"Load {i}"}, headers=h).json()
            agent = c.post(
                f"/orgs/{org['id']}/agents",
                headers=h,
                json={
                    "industry_id": role["industry_id"],
                    "role_template_id": role["id"],
                    "name": f"agent {i}",
                },
            ).json()
            tenants.append({"token": h["Authorization"], "org": org["id"], "agent": agent["id"]})
            for j in range(docs_per_org):
                r = c.post(
                    f"/agents/{agent['id']}/documents",
                    files={"file": (f"sop-{j}.txt", document(rng), "text/plain")},
                    data={"source_type": "SOP"},
                    headers=h,
                )
                assert r.status_code == 202, r.text
                pending.append((h, agent["id"], r.json()["id"]))
        deadline = time.monotonic() + 300
        for h, agent_id, doc_id in pending:
            while True:
                status = c.get(f"/agents/{agent_id}/documents/{doc_id}", headers=h).json()
                if status["status"] in ("READY", "FAILED"):
                    assert status["status"] == "READY", status
                    break
                assert time.monotonic() < deadline, "the seed documents were not ingested"
                time.sleep(0.3)
        # One search first, as a user would after the API started: core-api loads the model
        # (its embedding processes start) on the first search, which is not what is measured.
        for tenant in tenants:
            r = c.post(
                f"/agents/{tenant['agent']}/search-docs",
                json={"query": "warm-up", "top_k": 1},
                headers={"Authorization": tenant["token"]},
            )
            assert r.status_code == 200, r.text
    return tenants


async def client_loop(
    url: str,
    tenant: dict[str, str],
    seed: int,
    until: float,
    times: dict[str, list[float]],
    errors: dict[str, int],
    new_questions: float = 0.0,
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": tenant["token"]}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:
        while time.monotonic() < until:
            pick = rng.random()
            t0 = time.perf_counter()
            try:
                if pick < 0.6:
                    route = "GET /orgs/{id}/agents"
                    r = await c.get(f"/orgs/{tenant['org']}/agents")
                elif pick < 0.9:
                    route = "POST /agents/{id}/search-docs"
                    query = rng.choice(QUERIES)
                    if rng.random() < new_questions:
                        query += f" for dock {seed}-{rng.randrange(10**9)}"
                    r = await c.post(
                        f"/agents/{tenant['agent']}/search-docs",
                        json={"query": query, "top_k": 5},
                    )
                else:
                    route = "POST /agents/{id}/documents"
                    r = await c.post(
                        f"/agents/{tenant['agent']}/documents",
                        files={"file": ("load.txt", document(rng), "text/plain")},
                        data={"source_type": "SOP"},
                    )
                ok = r.status_code < 300
            except httpx.HTTPError:
                ok = False
            times[route].append((time.perf_counter() - t0) * 1000)
            if not ok:
                errors[route] += 1


def cpu_by_part(stack: psutil.Process, api: psutil.Process) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack and by this load generator."""
    embedding = {c.pid for c in api.children(recursive=True)}
    parts: dict[str, float] = defaultdict(float)
    for process in [stack, *stack.children(recursive=True), psutil.Process()]:
        try:
            times = process.cpu_times()
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if process.pid == os.getpid():
            part = "load generator"
        elif process.pid == api.pid:
            part = "core-api"
        elif process.pid in embedding:
            part = "core-api embedding processes"
        elif "postgres" in command:
            part = "postgres"
        elif "phi_core_api.worker" in command:
            part = "core-api worker"
        else:
            part = "other services"
        parts[part] += times.user + times.system
    return parts


def tree_rss(process: psutil.Process) -> float:
    """MiB resident in the API process and its children (the embedding processes)."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def sample_rss(process: psutil.Process, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        try:
            out.append(tree_rss(process))
        except psutil.Error:
            return
        stop.wait(0.5)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def drive(info: dict[str, object], tenants: list[dict[str, str]], args: argparse.Namespace) -> None:
    url = str(info["url"])
    api: psutil.Process = info["api"]  # type: ignore[assignment]
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    rss: list[float] = []
    rss_before = tree_rss(api)
    stack: psutil.Process = info["stack"]  # type: ignore[assignment]
    cpu_before = cpu_by_part(stack, api)
    # The machine is shared: its load says how far figures of two runs can be compared.
    load_before = os.getloadavg()[0]
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(api, stop, rss), daemon=True)
    sampler.start()
    spy = None
    if args.profile:
        spy = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(api.pid)]
            + ["-d", str(args.duration), "-r", "25", "-f", "raw", "-o", args.profile]
            + ["--nonblocking"]
        )

    async def run_all() -> float:
        until = time.monotonic() + args.duration
        t0 = time.monotonic()
        await asyncio.gather(
            *(
                client_loop(
                    url, tenants[i % len(tenants)], i, until, times, errors, args.new_questions
                )
                for i in range(args.clients)
            )
        )
        return time.monotonic() - t0

    elapsed = asyncio.run(run_all())
    cpu_after = cpu_by_part(stack, api)
    stop.set()
    sampler.join()
    if spy:
        spy.wait()
    total = sum(len(v) for v in times.values())
    print(
        f"{args.clients} clients, {elapsed:.0f} s, {os.cpu_count()} cores, "
        f"new questions {args.new_questions:.0%}, cache {os.environ.get(CACHE_ENV, 'default')}, "
        f"embedding processes {os.environ.get(PROCESSES_ENV, 'default')} "
        f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after): "
        f"{total / elapsed:.1f} req/s, {sum(errors.values())} errors"
    )
    print("| route | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for route, values in sorted(times.items()):
        print(
            f"| {route} | {len(values)} | {len(values) / elapsed:.1f} | "
            f"{statistics.median(values):.0f} | {pct(values, 0.99):.0f} | {errors[route]} |"
        )
    every = [v for values in times.values() for v in values]
    print(
        f"| all | {total} | {total / elapsed:.1f} | {statistics.median(every):.0f} | "
        f"{pct(every, 0.99):.0f} | {sum(errors.values())} |"
    )
    used = {part: cpu_after[part] - cpu_before.get(part, 0.0) for part in cpu_after}
    print(
        "CPU seconds in the run: "
        + ", ".join(f"{part} {seconds:.0f}" for part, seconds in sorted(used.items()))
        + f" (of {elapsed * (os.cpu_count() or 1):.0f} the cores had)"
    )
    print(
        f"API RSS (with its embedding processes): {rss_before:.0f} MiB before, "
        f"{max(rss):.0f} MiB peak, {rss[-1]:.0f} at end"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument(
        "--new-questions",
        type=float,
        default=0.0,
        help="share of searches asking a question not asked before (0-1)",
    )
    parser.add_argument("--profile", help="write py-spy raw stacks of the API here")
    smoke_argument(parser)
    args = parser.parse_args()
    docs_per_org, orgs = 4, ORGS
    if args.smoke:
        # Two tenants are enough to prove the bench runs end to end; each one more costs a
        # sign-up and a document's ingestion.
        args.clients, args.duration, docs_per_org, orgs = 3, 2, 1, 2
        args.new_questions = 0.5
    server_url = os.environ.get(SERVER_ENV)
    if server_url:
        data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"phi-load-{os.getpid()}"
        db_url = database(server_url, "phi_bench_load", seed=True)
    else:
        # The stack's own embedded PostgreSQL, as `make dev` runs it, from a clean state.
        data_dir = BENCH_DIR / "load"
        shutil.rmtree(data_dir, ignore_errors=True)
        db_url = None
    data_dir.mkdir(parents=True, exist_ok=True)
    with stack(data_dir, db_url) as info:
        tenants = prepare(str(info["url"]), docs_per_org, orgs)
        drive(info, tenants, args)


if __name__ == "__main__":
    main()
