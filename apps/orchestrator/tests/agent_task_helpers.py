"""What the agent-task tests share: a scripted model server, an orchestrator and workers
routed to it, and a real ``phi-agent`` process on a SQLite warehouse."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from orch_factories import Tenant, create_key, make_tenant, sql

from phi_llm.testing import FakeOpenAIServer

PHI_AGENT = str(Path(sys.executable).parent / "phi-agent")
# The limits of the test workers (small, so each limit is reached within a test).
LIMITS = {
    "agent_task_max_steps": 5,
    "agent_task_tool_seconds": 10,
    "agent_task_max_tokens": 30_000,
    "agent_task_max_output_tokens": 400,
    "approval_timeout_seconds": 600,
}

# A report that reads the customer's database through a local agent: with none running, it
# waits for its data (for an agent task's run_workflow).
LOCAL_REPORT = {
    "type": "DAILY_WAREHOUSE_REPORT",
    "input": {"day": "2026-11-24", "data_source": "local_agent"},
}
FINISHED = frozenset({"SUCCESS", "FAILED"})

ORDERS = [
    # order_id, zone_id, due_at, shipped_at
    ("O-1", "Z-A", "2026-11-24 10:00", "2026-11-24 09:30"),
    ("O-2", "Z-A", "2026-11-24 11:00", "2026-11-24 12:10"),
    ("O-3", "Z-B", "2026-11-24 12:00", "2026-11-24 13:00"),
    ("O-4", "Z-B", "2026-11-24 12:00", "2026-11-24 14:00"),
    ("O-5", "Z-B", "2026-11-24 15:00", "2026-11-24 14:00"),
    ("O-6", "Z-C", "2026-11-24 16:00", None),
]
LATE_BY_ZONE = (
    "SELECT zone_id, count(*) AS late FROM orders WHERE shipped_at > due_at "
    "GROUP BY zone_id ORDER BY late DESC, zone_id"
)


def write_warehouse(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE orders (order_id TEXT PRIMARY KEY, zone_id TEXT, due_at TEXT, "
        "shipped_at TEXT);"
        "CREATE TABLE zones (zone_id TEXT PRIMARY KEY, name TEXT);"
        "CREATE TABLE payroll (employee TEXT, salary REAL);"
    )
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
    db.executemany(
        "INSERT INTO zones VALUES (?, ?)", [("Z-A", "Ambient"), ("Z-B", "Bulk"), ("Z-C", "Cold")]
    )
    db.execute("INSERT INTO payroll VALUES ('Ann', 50000)")
    db.commit()
    db.close()
    return path


def plain_rows(path: Path, query: str) -> list[list[Any]]:
    db = sqlite3.connect(path)
    try:
        return [list(r) for r in db.execute(query).fetchall()]
    finally:
        db.close()


def agent_tenant(
    database_url: str,
    tools: tuple[str, ...] = ("db", "file"),
    requires_approval: list[str] | None = None,
    workflows: list[str] | None = None,
) -> Tenant:
    config: dict[str, Any] = {
        "workflows": [{"type": t} for t in (workflows or [])],
        "agent_tasks": {"requires_approval": requires_approval or []},
    }
    tenant = make_tenant(database_url, config=config)
    for key in tools:
        sql(
            database_url,
            "INSERT INTO agent_tools (agent_id, tool_id) SELECT %s, id FROM tools WHERE key = %s",
            tenant.agent_id,
            key,
        )
    return tenant


class PhiAgent:
    """A real ``phi-agent run`` process for the tenant's agent, reading the warehouse."""

    def __init__(self, directory: Path, url: str, tenant: Tenant, key: str, warehouse: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "shared").mkdir(exist_ok=True)
        (directory / "shared" / "dock-notes.txt").write_text("Dock 4 is closed until Friday.")
        config = {
            "agent_id": tenant.agent_id,
            "org_id": tenant.org_id,
            "name": "Warehouse Analyst",
            "industry": "logistics",
            "role": "warehouse_analyst",
            "llm": {"model": "heavy"},
            "tools": [{"key": "db"}, {"key": "file"}],
            "memory": {"org_namespace": "org", "agent_namespace": "agent"},
            "orchestrator_url": url,
        }
        (directory / "phi-agent-config.yaml").write_text(yaml.safe_dump(config))
        policy = {
            "policy_version": 1,
            "state_dir": "state",
            "tools": {
                "db": {
                    "enabled": True,
                    "connections": {
                        "warehouse": {
                            "dsn": f"sqlite:///{warehouse}",
                            "allowed_tables": ["orders", "zones"],
                        }
                    },
                },
                "file": {"enabled": True, "roots": ["shared"]},
            },
        }
        (directory / "policy.yaml").write_text(yaml.safe_dump(policy))
        self.key = key
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PhiAgent:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
        env["PHI_AGENT_KEY"] = self.key
        log = (self.directory / "phi-agent.log").open("ab")
        self.process = subprocess.Popen(
            [PHI_AGENT, "run", "--config", "phi-agent-config.yaml", "--policy", "policy.yaml"],
            cwd=self.directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def audit(self) -> list[dict[str, Any]]:
        path = self.directory / "state" / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# The agent-task tests' on_warehouse fixture: (agent_tenant's options) -> tenant, its phi-agent.
OnWarehouse = Callable[..., tuple[Tenant, PhiAgent]]


def start_phi_agent(
    api: httpx.Client, orchestrator_url: str, tenant: Tenant, directory: Path, warehouse: Path
) -> PhiAgent:
    return PhiAgent(directory, orchestrator_url, tenant, create_key(api, tenant), warehouse).start()


def script(model: FakeOpenAIServer, *behaviours: str) -> str:
    """A marker for one test's task, and that task's model answers in order."""
    marker = f"[case {uuid.uuid4().hex[:8]}]"
    model.by_marker[marker] = deque(behaviours)
    return marker


def calls(*items: tuple[str, dict[str, Any]]) -> str:
    return "calls:" + json.dumps([{"name": n, "arguments": a} for n, a in items])


def give_task(api: httpx.Client, tenant: Tenant, instruction: str, **extra: Any) -> str:
    r = api.post(
        f"/agents/{tenant.agent_id}/run-task",
        json={"type": "AGENT_TASK", "input": {"instruction": instruction, **extra}},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


def wait_status(
    api: httpx.Client, tenant: Tenant, task_id: str, statuses: set[str], timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()
        if body["status"] in statuses:
            return body  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"task still {body['status']}: {body.get('error')}")
        time.sleep(0.1)


@dataclass(frozen=True)
class ScriptedTask:
    """An agent task given with its model's answers scripted (see :class:`AgentTasks`)."""

    api: httpx.Client
    model: FakeOpenAIServer
    tenant: Tenant
    marker: str
    id: str

    def wait(self, statuses: Iterable[str] = FINISHED, timeout: float = 90) -> dict[str, Any]:
        """The task's detail once its status is one of ``statuses``."""
        return wait_status(self.api, self.tenant, self.id, set(statuses), timeout)

    def requests(self) -> list[dict[str, Any]]:
        """What the model was sent for this task."""
        return self.model.requests_with(self.marker)

    def tool_messages(self) -> list[str]:
        return tool_messages(self.model, self.marker)


class AgentTasks:
    """Gives a tenant's agent tasks whose model answers are scripted, one script a task."""

    def __init__(self, api: httpx.Client, model: FakeOpenAIServer):
        self.api, self.model = api, model

    def give(self, tenant: Tenant, instruction: str, *answers: str) -> ScriptedTask:
        """The task told ``instruction``; its model answers ``answers`` in order."""
        marker = script(self.model, *answers)
        task_id = give_task(self.api, tenant, f"{instruction} {marker}")
        return ScriptedTask(self.api, self.model, tenant, marker, task_id)


def events(task: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in task["events"] if e["event_type"] == kind]


def tool_messages(model: FakeOpenAIServer, marker: str) -> list[str]:
    """The tool results the model was sent (in its last request of the task)."""
    last = model.requests_with(marker)[-1]["body"]["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


def data_of(content: str) -> Any:
    """The JSON inside a tool result's <data> block."""
    body = content.split("\n", 1)[1].rsplit("\n</data>", 1)[0]
    return json.loads(body.split("\n[cut by")[0])
