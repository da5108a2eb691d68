"""Load test of authenticated GET /orgs/{org_id}/agents against a bare-handler baseline.

Starts an embedded PostgreSQL under .phi/bench, the real core API and the bare handler
(bench/bare_agents.py) as separate processes (one uvicorn worker each, uvloop + httptools),
creates one org with 50 agents, then drives each with wrk (32 connections) in interleaved
rounds: core, bare, core, bare... The core API runs as `make dev` runs it (``python -m
phi_core_api.main``: JSON access log at INFO, metrics), its log thrown away.

    .venv/bin/python bench/agents_list.py [--duration 10] [--rounds 3] [--connections 32]
        [--before DIR] [--profile FILE] [--smoke]

``--before DIR`` also serves the core API from another source tree (a ``git worktree`` of an
earlier commit), in the same rounds, so a change is compared within one run. Besides req/s the
table gives each server's own CPU time per request (user + system of its process over the
round): on the shared 2-core machine throughput swings with the neighbours' load, CPU per
request much less.

Two bare handlers run: the baseline of issue 24 and a tuned one (bench/bare_agents.py).

The smoke run (make test) lists 5 agents for one second each; without wrk on the machine it
sends a few requests with httpx instead, so that everything but the load generator is run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import psutil

warnings.filterwarnings("ignore", module="platformdirs")

from phi_platform.embedded_pg import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_db import BENCH_DIR, database, server, smoke_argument  # noqa: E402


def serve(
    app: str, port: int, env: dict[str, str], *, module: bool = False
) -> subprocess.Popen[bytes]:
    """``app`` under uvicorn's command line, or with ``module`` the service's own entry point
    (``python -m app``, reading its port from ``PHI_CORE_API_PORT``) with its log discarded."""
    if module:
        argv = [sys.executable, "-m", app]
        env = {**env, "PHI_CORE_API_PORT": str(port)}
        out: int | None = subprocess.DEVNULL
    else:
        argv = [sys.executable, "-m", "uvicorn", *app.split(), "--port", str(port)]
        argv += ["--log-level", "warning", "--no-access-log", "--loop", "uvloop"]
        argv += ["--http", "httptools"]
        out = None
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{app} did not start")


def wrk(url: str, token: str, duration: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk") is None:
        return sequential(url, token, duration)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def sequential(url: str, token: str, duration: int) -> dict[str, float]:
    """Stand-in for wrk in a smoke run: one connection, requests for ``duration`` seconds."""
    times, non2xx = [], 0
    deadline = time.monotonic() + duration
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        while time.monotonic() < deadline or not times:
            t0 = time.perf_counter()
            non2xx += client.get(url).status_code >= 300
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "rps": len(times) / max(sum(times) / 1000, 1e-9),
        "requests": float(len(times)),
        "p50": times[len(times) // 2],
        "p99": times[min(len(times) - 1, len(times) * 99 // 100)],
        "non2xx": float(non2xx),
    }


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    times = psutil.Process(proc.pid).cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--before", type=Path, help="source tree of the core API to compare")
    parser.add_argument("--profile", help="write py-spy collapsed stacks of the API here")
    smoke_argument(parser)
    args = parser.parse_args()
    agents = 50
    if args.smoke:
        args.duration, args.rounds, args.connections, agents = 1, 1, 2, 5
    elif shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with server() as server_url:
        run(database(server_url, "phi_bench_agents", seed=True), args, agents)


def source_path(tree: Path) -> str:
    """PYTHONPATH that makes ``tree``'s packages shadow this checkout's editable installs."""
    dirs = [tree / "apps" / "core-api" / "src", *sorted((tree / "packages").glob("*/src"))]
    return os.pathsep.join(str(d) for d in dirs)


def run(url: str, args: argparse.Namespace, agents: int) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PHI_JWT_SECRET": "bench-" + "s" * 40,
        "PHI_DB_POOL_SIZE": "10",
        "PHI_DATA_DIR": str(BENCH_DIR),
    }
    api_port, bare_port = free_port(), free_port()
    api = serve("phi_core_api.main", api_port, env, module=True)
    procs = [api]
    try:
        base = f"http://127.0.0.1:{api_port}"
        c = httpx.Client(base_url=base, timeout=30)
        user = c.post(
            "/auth/signup", json={"email": "bench@example.com", "password": "benchmark!"}
        ).json()
        token = user["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        org = c.post("/orgs", json={"name": "Bench"}, headers=h).json()
        role = c.get("/role-templates", params={"industry_key": "logistics"}).json()[0]
        for i in range(agents):
            r = c.post(
                f"/orgs/{org['id']}/agents",
                headers=h,
                json={
                    "industry_id": role["industry_id"],
                    "role_template_id": role["id"],
                    "name": f"agent {i}",
                },
            )
            assert r.status_code == 201, r.text
        path = f"/orgs/{org['id']}/agents"
        listed = c.get(path, headers=h)
        assert len(listed.json()) == agents

        bare_env = {
            **env,
            "BENCH_DB_URL": url,
            "BENCH_ORG_ID": org["id"],
            "BENCH_USER_ID": user["id"],
            "PYTHONPATH": str(ROOT / "bench"),
        }
        bare = serve("bare_agents:app", bare_port, bare_env)
        procs.append(bare)
        assert len(httpx.get(f"http://127.0.0.1:{bare_port}/").json()) == agents
        servers = {"core API": (api, base)}
        if args.before:
            before_port = free_port()
            before_env = {**env, "PYTHONPATH": source_path(args.before.resolve())}
            before = serve("phi_core_api.main", before_port, before_env, module=True)
            procs.append(before)
            before_base = f"http://127.0.0.1:{before_port}"
            assert httpx.get(before_base + path, headers=h).json() == listed.json()
            servers["core API before"] = (before, before_base)
        servers["bare handler"] = (bare, f"http://127.0.0.1:{bare_port}")
        tuned_port = free_port()
        tuned = serve("bare_agents:app", tuned_port, {**bare_env, "BENCH_BARE_TUNED": "1"})
        procs.append(tuned)
        servers["bare, tuned"] = (tuned, f"http://127.0.0.1:{tuned_port}")

        warm = min(3, args.duration)
        for _, base_url in servers.values():
            wrk(base_url + path, token, warm, args.connections)
        load_start = os.getloadavg()[0]
        results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for round_no in range(args.rounds):
            for name, (proc, base_url) in servers.items():
                spy = None
                if args.profile and round_no == 0 and name == "core API":
                    spy = profile(proc, args.duration, args.profile)
                cpu = cpu_seconds(proc)
                r = wrk(base_url + path, token, args.duration, args.connections)
                r["cpu_ms"] = (cpu_seconds(proc) - cpu) * 1000 / max(r["requests"], 1)
                results[name].append(r)
                if spy:
                    spy.wait()
        load_end = os.getloadavg()[0]
    finally:
        for p in procs:
            p.terminate()
            p.wait()

    print(
        f"cores: {os.cpu_count()}, load average {load_start:.1f} -> {load_end:.1f}; "
        f"{args.connections} connections, {args.rounds} interleaved rounds of {args.duration}s, "
        f"{agents} agents, one uvicorn worker each"
    )
    print("| round | server | req/s | p50 ms | p99 ms | CPU ms/request | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for round_no in range(args.rounds):
        for name, rounds in results.items():
            r = rounds[round_no]
            print(
                f"| {round_no + 1} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                f"| {r['cpu_ms']:.2f} | {r['non2xx']:.0f} |"
            )
    failed = [name for name, rounds in results.items() if any(r["non2xx"] for r in rounds)]
    if failed:
        print(f"NOT VALID: non-2xx answers from {', '.join(failed)} (see their log above)")
    for bare_name in ("bare handler", "bare, tuned"):
        bare_r = results[bare_name]
        for name in servers:
            if name.startswith("bare"):
                continue
            pairs = list(zip(results[name], bare_r, strict=True))
            ratios = sorted(a["rps"] / max(b["rps"], 1e-9) for a, b in pairs)
            cpu = sorted(b["cpu_ms"] / max(a["cpu_ms"], 1e-9) for a, b in pairs)
            print(
                f"{name} / {bare_name}: throughput ratio per round "
                f"{', '.join(f'{x:.2f}' for x in ratios)} (median {ratios[len(ratios) // 2]:.2f}); "
                f"CPU per request, {bare_name}'s over {name}'s: median {cpu[len(cpu) // 2]:.2f}"
            )


def profile(proc: subprocess.Popen[bytes], duration: int, out: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            # the venv's py-spy (requirements-dev.txt), found without activating it
            shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
            "record",
            "-p",
            str(proc.pid),
            "-d",
            str(duration),
            "-f",
            "raw",
            "-o",
            out,
        ]
    )


if __name__ == "__main__":
    main()
