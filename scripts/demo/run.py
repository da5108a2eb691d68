"""`make demo`: the whole product, headless, in one command.

Signs up, creates an organization and a logistics agent, uploads a sample SOP, generates the
agent's profile, creates a local-agent key, downloads the agent's config, writes the sample
warehouse with `phi-agent demo-data`, starts `phi-agent run` on it, runs DAILY_WAREHOUSE_REPORT
with `data_source: local_agent`, and prints the report and the anomalies it found.

It uses the stack of a running `make dev` (same PHI_*_PORT variables) or starts one and stops
it afterwards. The steps are functions so that the end-to-end tests drive the same path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PHI_AGENT = str(Path(sys.executable).parent / "phi-agent")
T = TypeVar("T")


def core_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PHI_CORE_API_PORT', '8000')}"


def orchestrator_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PHI_ORCHESTRATOR_PORT', '8001')}"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def ok(response: httpx.Response, *codes: int) -> Any:
    if response.status_code not in (codes or (200,)):
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


@dataclass
class DemoAgent:
    headers: dict[str, str]
    org_id: str
    agent_id: str
    key: str
    key_id: str
    config_yaml: str


DEMO_PASSWORD = "demo password 1"


def create_demo_agent(core: httpx.Client, orch: httpx.Client) -> DemoAgent:
    """Sign-up to downloaded config: everything a new customer does in the web app."""
    email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
    step(f"sign up {email}, create the org 'Demo Logistics'")
    body = {"email": email, "password": DEMO_PASSWORD, "name": "Demo"}
    user = ok(core.post("/auth/signup", json=body), 201)
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    org = ok(core.post("/orgs", json={"name": "Demo Logistics"}, headers=auth), 201)
    roles = ok(core.get("/role-templates", params={"industry_key": "logistics"}))
    role = next(r for r in roles if r["key"] == "warehouse_analyst")
    step("create the logistics agent 'Warehouse Analyst'")
    agent_body = {
        "industry_id": role["industry_id"],
        "role_template_id": role["id"],
        "name": "Warehouse Analyst",
    }
    agent = ok(core.post(f"/orgs/{org['id']}/agents", json=agent_body, headers=auth), 201)
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

    def indexed() -> str | None:
        status = ok(core.get(f"/agents/{agent_id}/documents/{doc['id']}", headers=auth))["status"]
        return status if status in ("READY", "FAILED") else None

    if wait_until(indexed, 120, "the SOP to be indexed") != "READY":
        raise RuntimeError("the sample SOP could not be indexed")
    step("generate the agent's profile")
    generation = ok(core.post(f"/agents/{agent_id}/generate-profile", headers=auth), 202)
    path = f"/agents/{agent_id}/profile-generations/{generation['id']}"

    def generated() -> dict[str, Any] | None:
        g = ok(core.get(path, headers=auth))
        return g if g["status"] in ("SUCCEEDED", "FAILED") else None

    done = wait_until(generated, 120, "the profile")
    if done["status"] != "SUCCEEDED":
        raise RuntimeError(f"profile generation failed: {done.get('error')}")
    step("create a local-agent key and download the agent's config")
    key = ok(
        orch.post(f"/agents/{agent_id}/local-agent-keys", json={"name": "demo-pc"}, headers=auth),
        201,
    )
    config = core.get(f"/agents/{agent_id}/config", headers=auth)
    if config.status_code != 200:
        ok(config)
    return DemoAgent(auth, org["id"], agent_id, key["key"], key["id"], config.text)


def write_config_and_key(work: Path, demo: DemoAgent) -> None:
    """The downloaded config and the key file, as a customer puts them beside phi-agent."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "phi-agent-config.yaml").write_text(demo.config_yaml)
    env_file = work / "phi-agent.env"
    env_file.write_text(f"PHI_AGENT_KEY={demo.key}\n")
    env_file.chmod(0o600)


def write_agent_files(work: Path, demo: DemoAgent, day: date) -> Path:
    """Config, key file and sample warehouse in ``work``; returns the policy's path."""
    write_config_and_key(work, demo)
    subprocess.run(
        [PHI_AGENT, "demo-data", str(work / "warehouse"), "--end-date", day.isoformat()],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return work / "warehouse" / "policy.yaml"


def start_phi_agent(work: Path, policy: Path, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``phi-agent run`` in ``work``; the key comes from ``work/phi-agent.env``."""
    output = log.open("ab") if log else None
    return subprocess.Popen(
        [PHI_AGENT, "run", "--config", "phi-agent-config.yaml", "--policy", str(policy)],
        cwd=work,
        env={k: v for k, v in os.environ.items() if k != "PHI_AGENT_KEY"},
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )


def run_report(
    orch: httpx.Client,
    demo: DemoAgent,
    day: date,
    *,
    timeout: float = 120,
    **extra: Any,
) -> dict[str, Any]:
    """Run DAILY_WAREHOUSE_REPORT through the local agent and wait for the task to end."""
    task = start_report(orch, demo, day, **extra)
    return wait_task(orch, demo, task, timeout)


def start_report(orch: httpx.Client, demo: DemoAgent, day: date, **extra: Any) -> str:
    body = {
        "type": "DAILY_WAREHOUSE_REPORT",
        "input": {"data_source": "local_agent", "day": day.isoformat(), **extra},
    }
    answer = ok(
        orch.post(f"/agents/{demo.agent_id}/run-task", json=body, headers=demo.headers), 202
    )
    return str(answer["task_id"])


def wait_task(orch: httpx.Client, demo: DemoAgent, task_id: str, timeout: float) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        t = ok(orch.get(f"/tasks/{task_id}", headers=demo.headers))
        return t if t["status"] in ("SUCCESS", "FAILED", "CANCELLED") else None

    return wait_until(finished, timeout, f"task {task_id}")


def anomalies(task: dict[str, Any]) -> list[str]:
    """The anomalies of a finished report, one line each."""
    metrics = (task.get("output") or {}).get("metrics") or {}
    outliers = metrics.get("outliers", {})
    lines = []
    for zone in outliers.get("slow_zones", []):
        lines.append(
            f"slow zone {zone['zone_id']} ({zone.get('name')}): median pick "
            f"{zone.get('median_pick_seconds')} s against {zone.get('median_pick_seconds_7d')} s "
            "over the previous 7 days"
        )
    for dock in metrics.get("idle_docks", {}).get("docks", []):
        if dock.get("idle"):
            lines.append(f"idle dock {dock.get('dock_id')} ({dock.get('name', '')})")
    for picker in outliers.get("pickers", []):
        lines.append(f"picker outlier {picker.get('picker_id')} ({picker.get('name', '')})")
    late = metrics.get("late_orders") or {}
    if late.get("late"):
        lines.append(
            f"late orders: {late.get('late')} of {late.get('orders_due')} due "
            f"({late.get('late_pct')} %)"
        )
    return lines


def start_stack() -> subprocess.Popen[bytes] | None:
    if up(core_url()) and up(orchestrator_url()):
        step(f"using the running stack (core API {core_url()}, orchestrator {orchestrator_url()})")
        return None
    step("no running stack found: starting one (make dev) for this demo")
    (ROOT / ".phi").mkdir(exist_ok=True)
    log = (ROOT / ".phi" / "demo-stack.log").open("ab")
    env = {**os.environ}
    env.setdefault("PHI_ORCHESTRATOR_URL", orchestrator_url())
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "dev" / "run.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(
        lambda: up(core_url()) and up(orchestrator_url()), 180, "the stack to answer on /health"
    )
    return stack


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    started = time.monotonic()
    stack = start_stack()
    agent_process: subprocess.Popen[bytes] | None = None
    work = Path(tempfile.mkdtemp(prefix="phi-demo-"))
    try:
        core = httpx.Client(base_url=core_url(), timeout=60)
        orch = httpx.Client(base_url=orchestrator_url(), timeout=60)
        demo = create_demo_agent(core, orch)
        day = date.today() - timedelta(days=1)
        step(f"write the sample warehouse (4 weeks ending {day}) and start phi-agent on it")
        policy = write_agent_files(work, demo, day)
        agent_process = start_phi_agent(work, policy, work / "phi-agent.log")
        step("run DAILY_WAREHOUSE_REPORT with data_source local_agent")
        task = run_report(orch, demo, day)
        if task["status"] != "SUCCESS":
            print(f"demo: the report task ended {task['status']}: {task.get('error')}")
            print(f"phi-agent's log: {work / 'phi-agent.log'}")
            return 1
        print()
        print((task.get("output") or {}).get("full_report_md", "(no report)"))
        print("Anomalies found, from data read through phi-agent on this machine:")
        for line in anomalies(task) or ["none"]:
            print(f"  - {line}")
        print(f"\nDemo finished in {time.monotonic() - started:.0f} s; its files are in {work}.")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        stop(agent_process)
        stop(stack)


if __name__ == "__main__":
    sys.exit(main())
