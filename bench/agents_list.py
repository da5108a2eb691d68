"""Load test of authenticated GET /orgs/{org_id}/agents against a bare-handler baseline.

Starts an embedded PostgreSQL under .phi/bench, the real core API and the bare handler
(bench/bare_agents.py) as separate uvicorn processes (one worker each, same settings),
creates one org with 50 agents, then drives each with wrk (32 connections) in turn.

    .venv/bin/python bench/agents_list.py [--duration 15] [--connections 32]
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

from sqlalchemy import create_engine  # noqa: E402

from phi_platform.catalog.seed import seed_catalog  # noqa: E402
from phi_platform.db.migrate import upgrade  # noqa: E402
from phi_platform.embedded_pg import EmbeddedPostgres, free_port  # noqa: E402
from phi_platform.settings import to_sqlalchemy_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", help="write py-spy collapsed stacks of the API here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    pg = EmbeddedPostgres(root=ROOT / ".phi" / "bench" / "pg", port=free_port())
    pg.stop()
    pg.start()
    pg.drop_database("bench")
    url = pg.ensure_database("bench")
    upgrade(to_sqlalchemy_url(url))
    engine = create_engine(to_sqlalchemy_url(url))
    with engine.begin() as conn:
        seed_catalog(conn)
    engine.dispose()

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PHI_JWT_SECRET": "bench-" + "s" * 40,
        "PHI_DB_POOL_SIZE": "10",
        "PHI_DATA_DIR": str(ROOT / ".phi" / "bench"),
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
        for i in range(50):
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
        assert len(c.get(f"/orgs/{org['id']}/agents", headers=h).json()) == 50

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
        assert len(bare_body) == 50

        path = f"/orgs/{org['id']}/agents"
        wrk(f"{base}{path}", token, 3, args.connections)  # warm-up
        wrk(f"http://127.0.0.1:{bare_port}{path}", token, 3, args.connections)
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [
                    "py-spy",
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
        pg.stop()

    print(
        f"cores: {os.cpu_count()}, {args.connections} connections, {args.duration}s each, "
        "50 agents, one uvicorn worker each"
    )
    print("| server | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for name, r in (("core API (auth + validation)", api_r), ("bare handler", bare_r)):
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']:.0f} |")
    print(f"throughput ratio core/bare: {api_r['rps'] / bare_r['rps']:.2f}")


if __name__ == "__main__":
    main()
