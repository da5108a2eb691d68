"""Load test of authenticated GET /orgs/{org_id}/agents against a bare-handler baseline.

Starts an embedded PostgreSQL under .phi/bench, the real core API and the bare handler
(bench/bare_agents.py) as separate uvicorn processes (one worker each, same settings),
creates one org with 50 agents, then drives each with wrk (32 connections) in turn.

    .venv/bin/python bench/agents_list.py [--duration 15] [--connections 32] [--smoke]

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

warnings.filterwarnings("ignore", module="platformdirs")

from phi_platform.embedded_pg import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_db import BENCH_DIR, database, server, smoke_argument  # noqa: E402


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            *app.split(),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
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
        "p50": times[len(times) // 2],
        "p99": times[min(len(times) - 1, len(times) * 99 // 100)],
        "non2xx": float(non2xx),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", help="write py-spy collapsed stacks of the API here")
    smoke_argument(parser)
    args = parser.parse_args()
    agents = 50
    if args.smoke:
        args.duration, args.connections, agents = 1, 2, 5
    elif shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with server() as server_url:
        run(database(server_url, "phi_bench_agents", seed=True), args, agents)


def run(url: str, args: argparse.Namespace, agents: int) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PHI_JWT_SECRET": "bench-" + "s" * 40,
        "PHI_DB_POOL_SIZE": "10",
        "PHI_DATA_DIR": str(BENCH_DIR),
    }
    api_port, bare_port = free_port(), free_port()
    api = serve("phi_core_api.main:create_app --factory", api_port, env)
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
        assert len(c.get(f"/orgs/{org['id']}/agents", headers=h).json()) == agents

        bare_env = {
            **env,
            "BENCH_DB_URL": url,
            "BENCH_ORG_ID": org["id"],
            "BENCH_USER_ID": user["id"],
            "PYTHONPATH": str(ROOT / "bench"),
        }
        bare = serve("bare_agents:app", bare_port, bare_env)
        procs.append(bare)
        bare_body = httpx.get(f"http://127.0.0.1:{bare_port}/").json()
        assert len(bare_body) == agents

        path = f"/orgs/{org['id']}/agents"
        warm = min(3, args.duration)
        wrk(f"{base}{path}", token, warm, args.connections)  # warm-up
        wrk(f"http://127.0.0.1:{bare_port}{path}", token, warm, args.connections)
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [
                    # the venv's py-spy (requirements-dev.txt), found without activating it
                    shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "-p",
                    str(api.pid),
                    "-d",
                    str(args.duration),
                    "-f",
                    "raw",
                    "-o",
                    args.profile,
                ]
            )
        api_r = wrk(f"{base}{path}", token, args.duration, args.connections)
        if spy:
            spy.wait()
        bare_r = wrk(f"http://127.0.0.1:{bare_port}{path}", token, args.duration, args.connections)
    finally:
        for p in procs:
            p.terminate()
            p.wait()

    print(
        f"cores: {os.cpu_count()}, {args.connections} connections, {args.duration}s each, "
        f"{agents} agents, one uvicorn worker each"
    )
    print("| server | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for name, r in (("core API (auth + validation)", api_r), ("bare handler", bare_r)):
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']:.0f} |")
    print(f"throughput ratio core/bare: {api_r['rps'] / bare_r['rps']:.2f}")


if __name__ == "__main__":
    main()
