"""Memory of `make dev`'s stack: every process's RSS at idle, after load, and minutes later.

Starts the whole stack as `make dev` does (scripts/dev/run.py: embedded PostgreSQL, core-api
and its worker, orchestrator and its worker, llm-router, the web server when its production
build exists) on free ports with a fresh data dir, as bench/load.py does, then:

1. **idle**: once every service answers, waits ``--settle`` seconds and records each process;
2. **warmed**: after the set-up (organizations, documents ingested, a first search each) and
   one visit of the web pages, records each process again: code and models loaded on first
   use, told apart from what the load leaves;
3. **after load**: runs bench/load.py's mixed load (``--clients`` clients listing, searching,
   uploading for ``--duration`` seconds) and, meanwhile, a browser-like client on the web
   server: pages, the API through the web's proxy, and 20 MB uploads the API refuses (Next.js
   reads a body whole before the route sees it); records each process when it has stopped;
4. **drained**: the load leaves the core-api worker hundreds of uploads to ingest. Waits (at
   most ``--drain-timeout`` seconds) until none of core-api's jobs is waiting or running and
   no document is PENDING or PROCESSING, and records each process at that moment: the load
   has stopped for the worker too;
5. **later**: waits ``--rest`` seconds (300) after the drain and records each process again.

For each process: RSS (what `top` shows) and PSS (shared pages divided among the processes
sharing them: PostgreSQL's shared buffers, the embedding processes' model); the stack's
total is the sum of PSS. The goal checked at the end: no process more than 50 MB above its
idle RSS once the load has stopped (issue 24). For the processes of the stack's own services,
the table of where their memory is (``/proc/PID/smaps``) at each step: the malloc heap
(``[heap]``), other anonymous mappings (glibc's thread arenas, large blocks, the model's
buffers), and file pages (code, libraries, model files).

    .venv/bin/python bench/footprint.py [--clients 50] [--duration 60] [--rest 300]
                                        [--drain-timeout 1800]

The smoke run (make test) uses 2 clients of 2 organizations for 1 second, waits at most 60 s
for the drain, and neither settles nor rests: it only proves every phase still runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path

import httpx
import psutil
import psycopg

warnings.filterwarnings("ignore", module="platformdirs")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_db import BENCH_DIR, SERVER_ENV, database, smoke_argument  # noqa: E402
from load import drive, prepare, stack  # noqa: E402

from phi_core_api.jobs import QUEUES  # noqa: E402
from phi_platform.settings import PlatformSettings  # noqa: E402

MB = 2**20
GOAL_MB = 50
# A process's name in the tables: the module of a Python service, else the program.
SERVICES = {
    "phi_core_api.main": "core-api",
    "phi_core_api.worker": "core-api worker",
    "phi_orchestrator.main": "orchestrator",
    "phi_orchestrator.worker": "orchestrator worker",
    "phi_llm_router.main": "llm-router",
    "server.mjs": "web (Next.js)",
    "scripts/dev/run.py": "supervisor (run.py)",
}


def name_of(process: psutil.Process, names: dict[int, str]) -> str:
    command = " ".join(process.cmdline())
    for key, name in SERVICES.items():
        if key in command:
            return name
    if command.startswith("postgres:"):
        # "postgres: checkpointer", "postgres: phi phi_db 127.0.0.1(5432) idle": a client
        # connection is named by its application_name's service when it has one.
        kind = command.split(":", 1)[1].strip()
        return "postgres: connection" if "(" in kind else f"postgres: {kind}"
    if "postgres" in command:
        return "postgres"
    parent = process.parent()
    if parent is not None and parent.pid in names:
        return f"{names[parent.pid]}: child"
    return command[:60]


PARTS = ("heap", "other anon", "file", "other")


def memory_parts(pid: int) -> dict[str, float]:
    """Resident MiB of one process by kind of mapping (``/proc/PID/smaps``): the main malloc
    heap, other anonymous mappings (thread arenas, mmap'ed blocks), file-backed pages, and
    the rest (stacks, vdso); empty where /proc has no smaps."""
    parts = dict.fromkeys(PARTS, 0.0)
    kind = "other"
    try:
        with open(f"/proc/{pid}/smaps") as smaps:
            for line in smaps:
                head = line.split(None, 1)[0]
                if not head.endswith(":"):  # a mapping: address perms offset dev inode path
                    fields = line.split(None, 5)
                    path = fields[5].strip() if len(fields) > 5 else ""
                    if path == "[heap]":
                        kind = "heap"
                    elif not path:
                        kind = "other anon"
                    elif path.startswith("/"):
                        kind = "file"
                    else:
                        kind = "other"
                elif head == "Rss:":
                    parts[kind] += int(line.split()[1]) / 1024
    except OSError:
        return {}
    return parts


def snapshot(root: psutil.Process) -> dict[str, dict[str, float]]:
    """RSS and PSS (MiB) and process count of every kind of process under ``root``, and for
    the services (not PostgreSQL) their RSS by kind of mapping (``memory_parts``)."""
    out: dict[str, dict[str, float]] = defaultdict(
        lambda: {"rss": 0.0, "pss": 0.0, "n": 0} | dict.fromkeys(PARTS, 0.0)
    )
    names: dict[int, str] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            name = name_of(process, names)
            info = process.memory_full_info()
        except psutil.Error:
            continue  # a connection that just ended
        names[process.pid] = name
        entry = out[name]
        entry["rss"] += info.rss / MB
        entry["pss"] += getattr(info, "pss", info.rss) / MB
        entry["n"] += 1
        if not name.startswith("postgres"):
            for part, value in memory_parts(process.pid).items():
                entry[part] += value
    return dict(out)


def backlog(database_url: str) -> tuple[int, int]:
    """Jobs of core-api's queues waiting or running, and documents not ingested yet."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        jobs = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE queue_name = ANY(%s) AND status IN ('todo', 'doing')",
            (QUEUES,),
        ).fetchone()
        documents = conn.execute(
            "SELECT count(*) FROM documents WHERE status IN ('PENDING', 'PROCESSING')"
        ).fetchone()
    return (jobs[0] if jobs else 0), (documents[0] if documents else 0)


def wait_for_drain(database_url: str, timeout: float) -> tuple[float, tuple[int, int]]:
    """Seconds until core-api's backlog is empty (``backlog`` is (0, 0)), or until ``timeout``;
    and the backlog then. Prints what is left every 30 s."""
    t0 = time.monotonic()
    said = t0
    while True:
        left = backlog(database_url)
        now = time.monotonic()
        if left == (0, 0) or now - t0 >= timeout:
            return now - t0, left
        if now - said >= 30:
            print(f"  draining: {left[0]} jobs, {left[1]} documents left after {now - t0:.0f} s")
            said = now
        time.sleep(1)


def connections(database_url: str) -> dict[str, int]:
    """Open connections to the stack's database, by application name (idle ones included)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT coalesce(nullif(application_name, ''), '(none)'), count(*) "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return {name: n for name, n in rows}


def wait_until_up(ports: dict[str, int], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    for variable, port in ports.items():
        path = "/" if variable == "PHI_WEB_PORT" else "/health"
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{variable}={port} did not answer")
            time.sleep(0.5)


def web_load(
    web: str, tenant: dict[str, str], stop: threading.Event, counts: dict[str, int]
) -> None:
    """A signed-in browser: pages, the API through the proxy, and now and then a 20 MB upload
    (of a type the API refuses, so the worker is not kept busy for minutes)."""
    cookies = {"phi_session": tenant["token"].removeprefix("Bearer ")}
    headers = {"Origin": web}
    big = b"x" * (20 * MB)
    with httpx.Client(base_url=web, cookies=cookies, headers=headers, timeout=120) as c:
        i = 0
        while not stop.is_set():
            for path in ("/dashboard", f"/api/core/orgs/{tenant['org']}/agents"):
                counts[f"GET {path.split('/')[1]}"] += 1
                try:
                    c.get(path)
                except httpx.HTTPError:
                    counts["errors"] += 1
            if i % 5 == 0:
                counts["POST 20 MB upload"] += 1
                try:
                    c.post(
                        f"/api/core/agents/{tenant['agent']}/documents",
                        files={"file": ("big.bin", big, "application/octet-stream")},
                        data={"source_type": "SOP"},
                    )
                except httpx.HTTPError:
                    counts["errors"] += 1
            i += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--settle", type=int, default=30, help="seconds idle before measuring")
    parser.add_argument("--rest", type=int, default=300, help="seconds after the drain")
    parser.add_argument(
        "--drain-timeout",
        type=int,
        default=1800,
        help="seconds to wait at most for core-api's worker to finish the load's uploads",
    )
    smoke_argument(parser)
    args = parser.parse_args()
    docs_per_org, orgs = 2, None
    if args.smoke:
        args.clients, args.duration, args.settle, args.rest, docs_per_org = 2, 1, 0, 0, 1
        args.drain_timeout = 60
        orgs = 2
    args.new_questions, args.profile = 0.5, None  # what bench/load.py's drive() reads
    server_url = os.environ.get(SERVER_ENV)
    if server_url:
        data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"phi-footprint-{os.getpid()}"
        db_url = database(server_url, "phi_bench_footprint", seed=True)
    else:
        data_dir = BENCH_DIR / "footprint"
        shutil.rmtree(data_dir, ignore_errors=True)
        db_url = None
    data_dir.mkdir(parents=True, exist_ok=True)
    with stack(data_dir, db_url) as info:
        ports: dict[str, int] = info["ports"]  # type: ignore[assignment]
        root: psutil.Process = info["stack"]  # type: ignore[assignment]
        has_web = any("server.mjs" in " ".join(p.cmdline()) for p in root.children())
        if not has_web:
            ports = {k: v for k, v in ports.items() if k != "PHI_WEB_PORT"}
        wait_until_up({k: v for k, v in ports.items() if k != "PHI_PG_PORT"})
        time.sleep(args.settle)
        phases = {"idle": snapshot(root)}
        stack_db = PlatformSettings(
            data_dir=data_dir, pg_port=ports["PHI_PG_PORT"], database_url=db_url
        ).libpq_database_url
        idle_connections = connections(stack_db)
        load_before = os.getloadavg()[0]

        tenants = prepare(str(info["url"]), docs_per_org, *([orgs] if orgs else []))
        if has_web:
            # Each page once, so that code loaded on first use is told apart from what the
            # load leaves behind.
            web = f"http://127.0.0.1:{ports['PHI_WEB_PORT']}"
            cookies = {"phi_session": tenants[0]["token"].removeprefix("Bearer ")}
            with httpx.Client(base_url=web, cookies=cookies, timeout=60) as c:
                c.get("/dashboard")
                c.get(f"/api/core/orgs/{tenants[0]['org']}/agents")
        phases["warmed (after set-up)"] = snapshot(root)
        stop = threading.Event()
        counts: dict[str, int] = defaultdict(int)
        web_thread = None
        if has_web:
            web = f"http://127.0.0.1:{ports['PHI_WEB_PORT']}"
            web_thread = threading.Thread(target=web_load, args=(web, tenants[0], stop, counts))
            web_thread.start()
        try:
            drive(info, tenants, args)
        finally:
            stop.set()
            if web_thread:
                web_thread.join()
        if counts:
            print("web client: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        phases["after load"] = snapshot(root)
        jobs, documents = backlog(stack_db)
        print(f"backlog when the load stopped: {jobs} jobs of core-api, {documents} documents")
        waited, left = wait_for_drain(stack_db, args.drain_timeout)
        if left == (0, 0):
            print(f"drained {waited:.0f} s after the load stopped")
            phases[f"drained (+{waited:.0f} s)"] = snapshot(root)
        else:
            print(
                f"NOT DRAINED after {waited:.0f} s: {left[0]} jobs, {left[1]} documents left; "
                "the figures below are of a worker still at work"
            )
            phases[f"not drained (+{waited:.0f} s)"] = snapshot(root)
        time.sleep(args.rest)
        phases[f"{args.rest} s later"] = snapshot(root)
        later_connections = connections(stack_db)
    report(phases, load_before, args)
    for label, counted in (("idle", idle_connections), ("after the rest", later_connections)):
        print(
            f"database connections {label}: {sum(counted.values())} ("
            + ", ".join(f"{name} {n}" for name, n in counted.items())
            + ")"
        )


def report(
    phases: dict[str, dict[str, dict[str, float]]], load: float, args: argparse.Namespace
) -> None:
    labels = list(phases)
    idle, last = phases[labels[0]], phases[labels[-1]]
    print(
        f"cores: {os.cpu_count()}, load average {load:.1f} at the start of the load; "
        f"{args.clients} clients for {args.duration} s, then {args.rest} s of rest"
    )
    print("| process | count | " + " | ".join(f"RSS MiB {label}" for label in labels) + " |")
    print("|---|---:|" + "---:|" * len(labels))
    names = sorted({name for phase in phases.values() for name in phase})
    over = []
    for name in names:
        cells = []
        for label in labels:
            entry = phases[label].get(name)
            cells.append(f"{entry['rss']:.1f}" if entry else "-")
        count = max(int(phases[label].get(name, {"n": 0})["n"]) for label in labels)
        print(f"| {name} | {count} | " + " | ".join(cells) + " |")
        # Connections come and go with the pools; the goal is about long-lived processes.
        if name in idle and name in last and not name.startswith("postgres: connection"):
            growth = last[name]["rss"] - idle[name]["rss"]
            if growth > GOAL_MB:
                over.append(f"{name} +{growth:.0f} MiB")
    for label in labels:
        phase = phases[label]
        print(
            f"{label}: total RSS {sum(e['rss'] for e in phase.values()):.0f} MiB, "
            f"total PSS {sum(e['pss'] for e in phase.values()):.0f} MiB "
            f"in {sum(int(e['n']) for e in phase.values())} processes"
        )
    print(
        f"goal (no process over {GOAL_MB} MiB above its idle RSS after the rest): "
        + ("met" if not over else "missed: " + ", ".join(over))
    )
    print("Where the services' memory is (MiB resident: " + " / ".join(PARTS) + "):")
    print("| process | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in names:
        if name.startswith("postgres") or not any(
            phases[label].get(name, {}).get("n") for label in labels
        ):
            continue
        cells = []
        for label in labels:
            entry = phases[label].get(name)
            cells.append(" / ".join(f"{entry[p]:.1f}" for p in PARTS) if entry else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
