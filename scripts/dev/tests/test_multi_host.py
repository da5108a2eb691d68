"""The platform on several "hosts" that share nothing but the PostgreSQL server and an S3
server (moto, a real S3 HTTP API): two core-api processes and two orchestrators, each with its
own data folder, three core-api workers and an orchestrator worker per orchestrator, all in
multi-host mode (secrets from the environment or a mounted file, documents in the bucket).

One stack for the whole module, started by `make dev`'s own process handling (run.py's
Child); the tests run in order against it:

- a token signed by one API is accepted by the other and by both orchestrators;
- documents uploaded round-robin through both APIs all end READY and searchable through
  both, although one API and one worker are killed (SIGKILL) in the middle;
- an SSE stream on one orchestrator receives the events of a task created on the other and
  run by a worker process (LISTEN/NOTIFY through the database);
- a service in multi-host mode will not start without the settings replicas must share (no
  stack needed);
- a schedule fires once per slot across both orchestrators' workers (a second slot made by
  moving the schedule a few minutes back, rather than waited for);
- the orphan sweep removes only orphans from the bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from phi_platform.embedded_pg import free_port
from phi_platform.testing import migrated_database

PREFIX = "docs"
SECRET = "multi-host-" + uuid.uuid4().hex * 2


@dataclass
class Fleet:
    runner: ModuleType
    logs: Path
    database_url: str  # libpq form
    bucket: str
    env: dict[str, str]
    hosts: dict[str, dict[str, str]]  # host name -> its environment
    children: dict[str, Any] = field(default_factory=dict)  # name -> run.Child
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, module: str, host: str, port_var: str | None = None) -> None:
        env = dict(self.hosts[host])
        if port_var:
            port = self.ports.get(name) or free_port()
            self.ports[name] = port
            env[port_var] = str(port)
        child = self.runner.Child(
            name, [sys.executable, "-m", module], self.logs, env=env, where=f" on {host}"
        )
        child.start()
        self.children[name] = child

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def kill(self, name: str) -> None:
        proc = self.children[name].proc
        proc.kill()
        proc.wait(timeout=10)

    def wait_ready(self, *names: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            while True:
                try:
                    if httpx.get(self.url(name) + "/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                proc = self.children[name].proc
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.logs / f"{name}.log").read_text()[-3000:]
                    raise AssertionError(f"{name} did not become ready:\n{log}")
                time.sleep(0.2)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


def _base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHI_", "DATABASE_URL"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def fleet(
    dev_runner_module: ModuleType, pg_server: Any, s3_server: Any, tmp_path_factory: Any
) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("multi-host")
    database = migrated_database(pg_server, f"phi_multi_host_{uuid.uuid4().hex[:6]}")
    bucket = s3_server.new_bucket("multi-host")
    shared = _base_env(
        {
            **s3_server.env,
            "DATABASE_URL": database.replace("postgresql+psycopg://", "postgresql://"),
            "PHI_MULTI_HOST": "1",
            "PHI_SECRETS_KEY": "multi-host-test-secrets-key-" + "k" * 20,
            "PHI_STORAGE_URL": f"s3://{bucket}/{PREFIX}",
            "PHI_LLM_ROUTES": "heavy=builtin;light=builtin",
            "PHI_WORKER_STALLED_SECONDS": "4",
            "PHI_WORKER_CONCURRENCY": "2",
            "PHI_SEARCH_EMBED_PROCESSES": "0",
            "PHI_SIGNUP_MAX_EXISTING_PER_ADDRESS": "1000000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    hosts: dict[str, dict[str, str]] = {}
    for name in ("host-a", "host-b"):
        data = root / name
        data.mkdir()
        hosts[name] = {**shared, "PHI_DATA_DIR": str(data)}
    # Host A is given the secret in its environment, host B as a mounted file.
    hosts["host-a"]["PHI_JWT_SECRET"] = SECRET
    secret_file = root / "mounted-jwt-secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    hosts["host-b"]["PHI_JWT_SECRET_FILE"] = str(secret_file)
    logs = root / "logs"
    logs.mkdir()
    fleet = Fleet(dev_runner_module, logs, shared["DATABASE_URL"], bucket, shared, hosts)
    try:
        fleet.start("core-api-a", "phi_core_api.main", "host-a", "PHI_CORE_API_PORT")
        fleet.start("core-api-b", "phi_core_api.main", "host-b", "PHI_CORE_API_PORT")
        fleet.start("orch-a", "phi_orchestrator.main", "host-a", "PHI_ORCHESTRATOR_PORT")
        fleet.start("orch-b", "phi_orchestrator.main", "host-b", "PHI_ORCHESTRATOR_PORT")
        fleet.start("orch-worker-a", "phi_orchestrator.worker", "host-a", "PHI_WORKER_METRICS_PORT")
        fleet.start("orch-worker-b", "phi_orchestrator.worker", "host-b", "PHI_WORKER_METRICS_PORT")
        # One core-api worker for now: the upload test kills it while it holds a job and
        # then starts the other two.
        fleet.start("worker-1", "phi_core_api.worker", "host-a", "PHI_WORKER_METRICS_PORT")
        fleet.wait_ready("core-api-a", "core-api-b", "orch-a", "orch-b")
        fleet.wait_ready("orch-worker-a", "orch-worker-b", "worker-1")
        yield fleet
    finally:
        children = list(fleet.children.values())
        for child in children:
            child.stop()
        deadline = time.monotonic() + 20
        for child in children:
            child.wait(deadline)


def _signup(api: str) -> tuple[str, dict[str, str]]:
    email = f"ops-{uuid.uuid4().hex[:10]}@example.com"
    r = httpx.post(
        api + "/auth/signup",
        json={"email": email, "password": "correct horse 9", "name": "Ops"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return email, {"Authorization": f"Bearer {r.json()['access_token']}"}


def _org_and_agent(api: str, headers: dict[str, str]) -> tuple[str, str]:
    org = httpx.post(api + "/orgs", json={"name": "Depot"}, headers=headers, timeout=30).json()
    roles = httpx.get(
        api + "/role-templates", params={"industry_key": "logistics"}, timeout=30
    ).json()
    role = next(r for r in roles if r["key"] == "warehouse_analyst")
    r = httpx.post(
        f"{api}/orgs/{org['id']}/agents",
        json={"industry_id": role["industry_id"], "role_template_id": role["id"], "name": "Bot"},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return org["id"], r.json()["id"]


@pytest.fixture(scope="module")
def scheduled_agent(fleet: Fleet) -> str:
    """An agent whose report is scheduled every minute (its config written straight to the
    database, as a saved profile would be)."""
    _, headers = _signup(fleet.url("core-api-b"))
    _, agent_id = _org_and_agent(fleet.url("core-api-b"), headers)
    config = {"workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "* * * * *"}]}
    fleet.sql(
        "UPDATE agents SET config = %s, status = 'ACTIVE' WHERE id = %s",
        json.dumps(config),
        agent_id,
    )
    return agent_id


def test_a_token_from_one_api_works_everywhere(fleet: Fleet, scheduled_agent: str) -> None:
    email, headers = _signup(fleet.url("core-api-a"))
    org_id, agent_id = _org_and_agent(fleet.url("core-api-b"), headers)
    assert httpx.get(fleet.url("core-api-b") + "/orgs", headers=headers).status_code == 200
    for orch in ("orch-a", "orch-b"):
        r = httpx.get(f"{fleet.url(orch)}/agents/{agent_id}/tasks", headers=headers)
        assert r.status_code == 200, r.text
    # And the other way round: signed in on B, used on A.
    r = httpx.post(
        fleet.url("core-api-b") + "/auth/login",
        json={"email": email, "password": "correct horse 9"},
    )
    assert r.status_code == 200, r.text
    other = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert httpx.get(f"{fleet.url('core-api-a')}/orgs/{org_id}", headers=other).status_code == 200
    # A token signed with another secret is refused by every replica.
    forged = {"Authorization": "Bearer " + _forged_token()}
    assert httpx.get(fleet.url("core-api-b") + "/orgs", headers=forged).status_code == 401


def _forged_token() -> str:
    from phi_service.tokens import create_access_token

    token, _ = create_access_token(uuid.uuid4(), "some-other-secret-" + "y" * 40, 5)
    return token


@pytest.fixture(scope="module")
def uploaded(fleet: Fleet) -> dict[str, Any]:
    """Three organizations' documents uploaded round-robin through both APIs, API A killed
    after the first third and core worker 1 killed while it holds a job; both are started
    again afterwards (as a supervisor would) and two more workers join."""
    apis = ["core-api-a", "core-api-b"]
    tenants = []
    for _ in range(3):
        _, headers = _signup(fleet.url("core-api-a"))
        org_id, agent_id = _org_and_agent(fleet.url("core-api-a"), headers)
        tenants.append({"org": org_id, "agent": agent_id, "headers": headers})
    # One longer manual, so that a job is surely running when the worker is killed.
    manual = "".join(
        f"Section {i}. Pallets of lot {i} are counted at dock {i % 7} before noon.\n"
        for i in range(120)
    )
    files = [(0, "manual.txt", manual.encode())]
    for i in range(12):
        code = uuid.uuid4().hex[:8]
        text = f"Procedure {code}: reefer unit {i} is checked every {i + 2} hours by the lead."
        files.append((i % 3, f"proc-{i}.txt", text.encode()))
    docs: list[dict[str, Any]] = []
    api_killed = False
    for n, (t, name, data) in enumerate(files):
        if n == len(files) // 3:
            fleet.kill("core-api-a")
            api_killed = True
        tenant = tenants[t]
        for api in [apis[n % 2], apis[(n + 1) % 2]]:  # the other API when one is down
            try:
                r = httpx.post(
                    f"{fleet.url(api)}/agents/{tenant['agent']}/documents",
                    files={"file": (name, data, "text/plain")},
                    data={"source_type": "SOP"},
                    headers=tenant["headers"],
                    timeout=60,
                )
            except httpx.TransportError:
                assert api_killed and api == "core-api-a"
                continue
            assert r.status_code == 202, r.text
            docs.append({**r.json(), "text": data.decode(), "tenant": t})
            break
        else:
            raise AssertionError(f"no API took {name}")

    # Worker 1 is the only core worker: the first job it holds is its own.
    deadline = time.monotonic() + 120
    while not fleet.sql(
        "SELECT 1 FROM procrastinate_jobs WHERE status = 'doing' "
        "AND task_name = 'documents:ingest_document'"
    ):
        assert time.monotonic() < deadline, "worker 1 never started a job"
        time.sleep(0.05)
    fleet.kill("worker-1")
    for name in ("worker-1", "worker-2", "worker-3"):
        host = "host-a" if name != "worker-3" else "host-b"
        fleet.start(name, "phi_core_api.worker", host, "PHI_WORKER_METRICS_PORT")
    fleet.start("core-api-a", "phi_core_api.main", "host-a", "PHI_CORE_API_PORT")
    fleet.wait_ready("worker-1", "worker-2", "worker-3", "core-api-a")
    return {"tenants": tenants, "docs": docs}


def test_uploads_through_both_apis_end_ready_and_searchable_despite_kills(
    fleet: Fleet, uploaded: dict[str, Any], s3_server: Any
) -> None:
    tenants, docs = uploaded["tenants"], uploaded["docs"]
    assert len(docs) == 13
    deadline = time.monotonic() + 240
    pending = {d["id"] for d in docs}
    while pending:
        rows = fleet.sql(
            "SELECT id::text, status, error FROM documents WHERE id::text = ANY(%s)",
            list(pending),
        )
        failed = [r for r in rows if r[1] == "FAILED"]
        assert not failed, failed
        pending -= {r[0] for r in rows if r[1] == "READY"}
        assert time.monotonic() < deadline, (
            f"{len(pending)} documents never got READY: {rows}; jobs: "
            + str(
                fleet.sql(
                    "SELECT status, attempts, worker_id, args FROM procrastinate_jobs "
                    "WHERE task_name = 'documents:ingest_document'"
                )
            )
        )
        time.sleep(0.3)
    keys = set(s3_server.keys(fleet.bucket))
    for doc in docs:
        assert f"{PREFIX}/{doc['org_id']}/{doc['id']}.txt" in keys
    # Every document is found through either API.
    for doc in docs[1:]:
        tenant = tenants[doc["tenant"]]
        question = doc["text"].split(":")[0]  # "Procedure <code>"
        for api in ("core-api-a", "core-api-b"):
            r = httpx.post(
                f"{fleet.url(api)}/agents/{tenant['agent']}/search-docs",
                json={"query": question, "top_k": 3},
                headers=tenant["headers"],
                timeout=60,
            )
            assert r.status_code == 200, r.text
            assert r.json()["results"][0]["document_id"] == doc["id"], (api, question)


def test_sse_on_one_orchestrator_gets_the_events_of_a_task_run_elsewhere(
    fleet: Fleet, uploaded: dict[str, Any]
) -> None:
    tenant = uploaded["tenants"][0]
    headers = tenant["headers"]
    r = httpx.post(
        f"{fleet.url('orch-b')}/agents/{tenant['agent']}/run-task",
        json={"type": "ASK", "input": {"question": "when are pallets of lot 12 counted?"}},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    received: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream(
        "GET",
        f"{fleet.url('orch-a')}/tasks/{task_id}/events/stream",
        headers=headers,
        timeout=httpx.Timeout(10, read=60),
    ) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                received.append((event, json.loads(line.split(":", 1)[1])))
                if event == "end":
                    break
    assert received and received[-1][0] == "end"
    assert received[-1][1]["status"] == "SUCCESS", received
    detail = httpx.get(f"{fleet.url('orch-b')}/tasks/{task_id}", headers=headers).json()
    streamed = [e["seq"] for kind, e in received if kind != "end"]
    assert streamed == [e["seq"] for e in detail["events"]]


# Needs nothing of the stack: it runs late in the module so that the schedule's first slot
# is surely there when the schedule test comes.
def test_services_refuse_to_start_without_what_replicas_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two real processes (an API and an orchestrator) exit naming what is missing; the
    settings of the workers and the router, which they start from, say the same."""
    env = _base_env({"DATABASE_URL": "postgresql://db.invalid/phi", "PHI_MULTI_HOST": "1"})
    wants = {
        "phi_core_api.main": ["PHI_JWT_SECRET", "PHI_STORAGE_URL"],
        "phi_orchestrator.main": ["PHI_JWT_SECRET", "PHI_SECRETS_KEY"],
    }
    procs = {
        module: subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for module in wants
    }
    for module, wanted in wants.items():
        out = procs[module].communicate(timeout=120)[0]
        assert procs[module].returncode != 0, out
        for variable in wanted:
            assert variable in out, f"{module} did not name {variable}:\n{out[-2000:]}"
        assert "PHI_MULTI_HOST is on" in out

    from pydantic import ValidationError

    from phi_core_api.settings import CoreApiSettings
    from phi_llm_router.settings import RouterServiceSettings
    from phi_orchestrator.settings import OrchestratorSettings

    for name in list(os.environ):
        if name.startswith("PHI_") or name.startswith("DATABASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PHI_MULTI_HOST", "1")
    monkeypatch.setenv("PHI_LLM_ROUTER_URL", "http://router.internal:8002")
    for settings, wanted in (
        (CoreApiSettings, "DATABASE_URL, PHI_JWT_SECRET, PHI_STORAGE_URL, PHI_LLM_ROUTER_TOKEN"),
        (
            OrchestratorSettings,
            "DATABASE_URL, PHI_JWT_SECRET, PHI_SECRETS_KEY, PHI_LLM_ROUTER_TOKEN",
        ),
        (RouterServiceSettings, "DATABASE_URL, PHI_LLM_ROUTER_TOKEN"),
    ):
        with pytest.raises(ValidationError, match=f"PHI_MULTI_HOST is on but {wanted} are"):
            settings()


def _schedule_slots(fleet: Fleet, agent_id: str, enough: Callable[[set[Any]], bool]) -> Any:
    deadline = time.monotonic() + 150
    while True:
        slots = fleet.sql(
            "SELECT schedule_slot, count(*) FROM tasks WHERE agent_id = %s "
            "AND trigger = 'schedule' GROUP BY schedule_slot ORDER BY 1",
            agent_id,
        )
        if enough({slot for slot, _ in slots}):
            return slots
        assert time.monotonic() < deadline, f"slots seen: {slots}"
        time.sleep(0.5)


def test_a_schedule_fires_once_per_slot_across_orchestrators(
    fleet: Fleet, scheduled_agent: str
) -> None:
    # Each orchestrator worker may run the schedule check (every 15 s); the agent has been
    # scheduled every minute since the first test of the stack, so its first slot has been
    # checked again and again by now.
    first = _schedule_slots(fleet, scheduled_agent, lambda seen: len(seen) >= 1)
    # A second slot without waiting for the next minute: the schedule moves to a minute a few
    # minutes back (within the scheduler's catch-up), which becomes the latest slot; the
    # checks of both workers that follow must run it once as well.
    seen = {slot for slot, _ in first}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    earlier = next(m for m in (now - timedelta(minutes=k) for k in range(1, 6)) if m not in seen)
    (zone,) = fleet.sql(
        "SELECT o.time_zone FROM agents a JOIN organizations o ON o.id = a.org_id WHERE a.id = %s",
        scheduled_agent,
    )[0]
    local = earlier.astimezone(ZoneInfo(zone or "UTC"))
    config = {
        "workflows": [
            {"type": "DAILY_WAREHOUSE_REPORT", "schedule": f"{local.minute} {local.hour} * * *"}
        ]
    }
    fleet.sql("UPDATE agents SET config = %s WHERE id = %s", json.dumps(config), scheduled_agent)
    slots = _schedule_slots(fleet, scheduled_agent, lambda seen: earlier in seen)
    assert len(slots) >= 2 and all(count == 1 for _, count in slots), slots


def test_the_orphan_sweep_removes_only_orphans_in_the_bucket(
    fleet: Fleet, uploaded: dict[str, Any], s3_server: Any
) -> None:
    from phi_core_api.documents.file_cleanup import sweep_orphan_files
    from phi_core_api.storage import storage_from_url

    org = uploaded["docs"][1]["org_id"]
    s3 = s3_server.client()
    orphans = [f"{PREFIX}/{org}/{uuid.uuid4()}.txt", f"{PREFIX}/{uuid.uuid4()}/{uuid.uuid4()}.pdf"]
    foreign = f"{PREFIX}/exports/keep.csv"
    for key in [*orphans, foreign]:
        s3.put_object(Bucket=fleet.bucket, Key=key, Body=b"x")
    before = set(s3_server.keys(fleet.bucket))
    storage = storage_from_url(f"s3://{fleet.bucket}/{PREFIX}", Path("/nonexistent"))
    with psycopg.connect(fleet.database_url) as conn:
        removed = sweep_orphan_files(conn, storage, grace_seconds=0)
    after = set(s3_server.keys(fleet.bucket))
    assert removed == 2
    assert after == before - set(orphans)
    assert foreign in after


def test_every_replica_kept_nothing_on_its_own_disk(fleet: Fleet) -> None:
    for host in fleet.hosts.values():
        data = Path(host["PHI_DATA_DIR"])
        assert sorted(p.name for p in data.iterdir()) == [], f"{data} has files"
