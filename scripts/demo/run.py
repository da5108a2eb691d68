"""`make demo`: the whole product, headless, in one command.

Signs up, creates an organization and a logistics agent, uploads a sample SOP, generates the
agent's profile, creates a local-agent key, downloads the agent's config, writes the sample
warehouse with `phi-agent demo-data`, starts `phi-agent run` on it, runs DAILY_WAREHOUSE_REPORT
with `data_source: local_agent`, and prints the report and the anomalies it found.

It uses the stack of a running `make dev` (same PHI_*_PORT variables) or starts one and stops
it afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PHI_AGENT = str(Path(sys.executable).parent / "phi-agent")
CORE = f"http://127.0.0.1:{os.environ.get('PHI_CORE_API_PORT', '8000')}"
ORCH = f"http://127.0.0.1:{os.environ.get('PHI_ORCHESTRATOR_PORT', '8001')}"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise SystemExit(f"demo: timed out after {timeout:.0f} s waiting for {what}")


def ok(response: httpx.Response, *codes: int) -> Any:
    if response.status_code not in (codes or (200,)):
        raise SystemExit(
            f"demo: {response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


def start_stack() -> subprocess.Popen[bytes] | None:
    if up(CORE) and up(ORCH):
        step(f"using the running stack (core API {CORE}, orchestrator {ORCH})")
        return None
    step("no running stack found: starting one (make dev) for this demo")
    logs = open(ROOT / ".phi" / "demo-stack.log", "ab")  # noqa: SIM115 (kept open for the child)
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "dev" / "run.py")],
        cwd=ROOT,
        stdout=logs,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(lambda: up(CORE) and up(ORCH), 120, "the stack to answer on /health")
    return stack


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def print_report(task: dict[str, Any]) -> None:
    output = task.get("output") or {}
    print()
    print(output.get("full_report_md", "(no report)"))
    metrics = output.get("metrics") or {}
    outliers = metrics.get("outliers", {})
    print("Anomalies found (read through phi-agent from the local warehouse database):")
    for zone in outliers.get("slow_zones", []):
        print(
            f"  - slow zone {zone['zone_id']} ({zone.get('name')}): median pick "
            f"{zone.get('median_pick_seconds')} s vs {zone.get('median_pick_seconds_7d')} s "
            "over 7 days"
        )
    for dock in metrics.get("idle_docks", {}).get("docks", []):
        if dock.get("idle"):
            print(f"  - idle dock {dock.get('dock_id')} ({dock.get('name', '')})")
    for picker in outliers.get("pickers", []):
        print(f"  - picker outlier {picker.get('picker_id')} ({picker.get('name', '')})")
    late = metrics.get("late_orders", {})
    if late:
        print(
            f"  - late orders: {late.get('late')} of {late.get('orders_due')} due "
            f"({late.get('late_pct')} %)"
        )


def main() -> int:
    started = time.monotonic()
    (ROOT / ".phi").mkdir(exist_ok=True)
    stack = start_stack()
    agent_process: subprocess.Popen[bytes] | None = None
    work = Path(tempfile.mkdtemp(prefix="phi-demo-"))
    try:
        core = httpx.Client(base_url=CORE, timeout=60)
        orch = httpx.Client(base_url=ORCH, timeout=60)
        email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
        step(f"sign up {email}")
        user = ok(
            core.post(
                "/auth/signup", json={"email": email, "password": "demo password 1", "name": "Demo"}
            ),
            201,
        )
        auth = {"Authorization": f"Bearer {user['access_token']}"}
        org = ok(core.post("/orgs", json={"name": "Demo Logistics"}, headers=auth), 201)
        roles = ok(core.get("/role-templates", params={"industry_key": "logistics"}))
        role = next(r for r in roles if r["key"] == "warehouse_analyst")
        step("create the logistics agent 'Warehouse Analyst'")
        agent = ok(
            core.post(
                f"/orgs/{org['id']}/agents",
                json={
                    "industry_id": role["industry_id"],
                    "role_template_id": role["id"],
                    "name": "Warehouse Analyst",
                },
                headers=auth,
            ),
            201,
        )
        agent_id = agent["id"]
        step("upload the sample SOP and wait until it is indexed")
        sop = (HERE / "warehouse-sop.md").read_bytes()
        doc = ok(
            core.post(
                f"/agents/{agent_id}/documents",
                files={"file": ("warehouse-sop.md", sop, "text/markdown")},
                data={"source_type": "SOP"},
                headers=auth,
            ),
            201,
            202,
        )
        wait_until(
            lambda: (
                ok(core.get(f"/agents/{agent_id}/documents/{doc['id']}", headers=auth))["status"]
                in ("READY", "FAILED")
            ),
            90,
            "the SOP to be indexed",
        )
        step("generate the agent's profile")
        generation = ok(core.post(f"/agents/{agent_id}/generate-profile", headers=auth), 202)
        done = wait_until(
            lambda: (
                g
                if (
                    g := ok(
                        core.get(
                            f"/agents/{agent_id}/profile-generations/{generation['id']}",
                            headers=auth,
                        )
                    )
                )["status"]
                in ("SUCCEEDED", "FAILED")
                else None
            ),
            90,
            "the profile",
        )
        if done["status"] != "SUCCEEDED":
            raise SystemExit(f"demo: profile generation failed: {done.get('error')}")
        step("create a local-agent key and download the agent's config")
        key = ok(
            orch.post(
                f"/agents/{agent_id}/local-agent-keys", json={"name": "demo-pc"}, headers=auth
            ),
            201,
        )
        config = core.get(f"/agents/{agent_id}/config", headers=auth)
        ok_text = config.status_code == 200 or ok(config)
        assert ok_text
        (work / "phi-agent-config.yaml").write_text(config.text)
        (work / "phi-agent.env").write_text(f"PHI_AGENT_KEY={key['key']}\n")
        day = date.today() - timedelta(days=1)
        step(f"write the sample warehouse (4 weeks ending {day}) and start phi-agent on it")
        subprocess.run(
            [PHI_AGENT, "demo-data", str(work / "warehouse"), "--end-date", day.isoformat()],
            check=True,
        )
        agent_process = subprocess.Popen(
            [
                PHI_AGENT,
                "run",
                "--config",
                "phi-agent-config.yaml",
                "--policy",
                "warehouse/policy.yaml",
            ],
            cwd=work,
            env={k: v for k, v in os.environ.items() if k != "PHI_AGENT_KEY"},
        )
        step("run DAILY_WAREHOUSE_REPORT with data_source local_agent")
        task = ok(
            orch.post(
                f"/agents/{agent_id}/run-task",
                json={
                    "type": "DAILY_WAREHOUSE_REPORT",
                    "input": {"data_source": "local_agent", "day": day.isoformat()},
                },
                headers=auth,
            ),
            202,
        )
        final = wait_until(
            lambda: (
                t
                if (t := ok(orch.get(f"/tasks/{task['task_id']}", headers=auth)))["status"]
                in ("SUCCESS", "FAILED", "CANCELLED")
                else None
            ),
            90,
            "the report task",
        )
        if final["status"] != "SUCCESS":
            raise SystemExit(f"demo: the task ended {final['status']}: {final.get('error')}")
        print_report(final)
        print(f"\nDemo finished in {time.monotonic() - started:.0f} s. Files in {work}.")
        return 0
    finally:
        stop(agent_process)
        stop(stack)


if __name__ == "__main__":
    sys.exit(main())
