"""Test data for the orchestrator: users, orgs and agents written straight to the database
(they belong to core-api, which the orchestrator's tests do not import), tokens signed like
core-api signs them, and a scripted local agent speaking the protocol over real HTTP."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from phi_service.tokens import create_access_token

JWT_SECRET = "orchestrator-test-secret-" + "x" * 40

# Short times so that leases, stalls and timeouts happen within a test.
FAST = {
    "lease_seconds": 2,
    "heartbeat_interval_seconds": 1,
    "worker_stalled_seconds": 3,
    "tool_call_unclaimed_seconds": 600,
    "tool_call_max_attempts": 3,
}


def worker_env(settings: Any, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
    env.update(
        {
            "PHI_DATABASE_URL": str(settings.database_url),
            "PHI_DATA_DIR": str(settings.data_dir),
            "PHI_JWT_SECRET": str(settings.jwt_secret),
            "PHI_WORKER_CONCURRENCY": "2",
            "PHI_LLM_ROUTES": "heavy=builtin;light=builtin",
        }
    )
    for key, value in {**FAST, **extra}.items():
        env[f"PHI_{key.upper()}"] = str(value)
    return env


def plain_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (for psycopg)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass
class Member:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tenant:
    org_id: str
    agent_id: str
    owner: Member
    member: Member
    extra_agents: list[str] = field(default_factory=list)


def make_user(conn: psycopg.Connection[Any]) -> Member:
    (user_id,) = conn.execute(
        "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
        (f"u-{uuid.uuid4().hex[:10]}@example.com",),
    ).fetchone()  # type: ignore[misc]
    token, _ = create_access_token(user_id, JWT_SECRET, 60)
    return Member(user_id=str(user_id), token=token)


def make_tenant(
    database_url: str,
    *,
    config: dict[str, Any] | None = None,
    status: str = "ACTIVE",
    time_zone: str = "UTC",
) -> Tenant:
    """An org with an OWNER, a MEMBER and one agent."""
    import json

    with psycopg.connect(plain_url(database_url), autocommit=True) as conn:
        owner, member = make_user(conn), make_user(conn)
        (org_id,) = conn.execute(
            "INSERT INTO organizations (name, owner_user_id, time_zone) VALUES ('T', %s, %s) "
            "RETURNING id",
            (owner.user_id, time_zone),
        ).fetchone()  # type: ignore[misc]
        for m, role in ((owner, "OWNER"), (member, "MEMBER")):
            conn.execute(
                "INSERT INTO organization_members (org_id, user_id, role) VALUES (%s, %s, %s)",
                (org_id, m.user_id, role),
            )
        (agent_id,) = conn.execute(
            "INSERT INTO agents (org_id, name, status, system_prompt, config) "
            "VALUES (%s, 'Warehouse bot', %s, 'You report on the warehouse.', %s) RETURNING id",
            (org_id, status, json.dumps(config) if config is not None else None),
        ).fetchone()  # type: ignore[misc]
    return Tenant(org_id=str(org_id), agent_id=str(agent_id), owner=owner, member=member)


def sql(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(plain_url(database_url), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def create_key(api: httpx.Client, tenant: Tenant, name: str = "warehouse-pc") -> str:
    r = api.post(
        f"/agents/{tenant.agent_id}/local-agent-keys",
        json={"name": name},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


def run_task(api: httpx.Client, tenant: Tenant, type_: str, input_: dict[str, Any]) -> str:
    r = api.post(
        f"/agents/{tenant.agent_id}/run-task",
        json={"type": type_, "input": input_},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


def wait_task(
    api: httpx.Client, tenant: Tenant, task_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()
        if body["status"] in statuses:
            return body  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {body['status']}: {body.get('error')}")
        time.sleep(0.1)


class ScriptedLocalAgent:
    """The local agent's side of the protocol, scripted: heartbeat, poll, lease, callback."""

    def __init__(
        self,
        base_url: str,
        key: str,
        tools: tuple[str, ...] = ("db", "file"),
        name: str = "scripted",
    ) -> None:
        # A heartbeat without an id takes over the agent's local agent of the same name: two
        # local agents of one agent need two names.
        self.name = name
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        self.tools = list(tools)
        self.local_agent_id: str | None = None

    def heartbeat(self, **extra: Any) -> httpx.Response:
        r = self.http.post(
            "/local-agents/heartbeat",
            json={
                "local_agent_id": self.local_agent_id,
                "name": self.name,
                "host": "test-host",
                "version": "0.0.1",
                "tools": self.tools,
                **extra,
            },
        )
        if r.status_code == 200:
            self.local_agent_id = r.json()["local_agent_id"]
        return r

    def poll(self, wait: int = 5, max_calls: int = 1) -> httpx.Response:
        return self.http.get(
            f"/local-agents/{self.local_agent_id}/pending-tasks",
            params={"wait": wait, "max": max_calls},
        )

    def claim(self, wait: int = 10) -> dict[str, Any]:
        r = self.poll(wait)
        assert r.status_code == 200, r.text
        tasks = r.json()["tasks"]
        assert tasks, "no tool call was handed out"
        return tasks[0]  # type: ignore[no-any-return]

    def callback(
        self, call: dict[str, Any], result: Any = None, error: str | None = None
    ) -> httpx.Response:
        return self.http.post(
            "/tool-callbacks",
            json={
                "tool_call_id": call["tool_call_id"],
                "task_id": call["task_id"],
                "attempt": call["attempt"],
                "tool": call["tool"],
                "result": result,
                "error": error,
            },
        )

    def lease(self, call: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            f"/tool-calls/{call['tool_call_id']}/lease", json={"attempt": call["attempt"]}
        )

    def close(self) -> None:
        self.http.close()


def contract_result(payload: dict[str, Any], day: str) -> dict[str, Any]:
    """Answer a ``db`` call of the report from the sample warehouse, as phi-agent would: the
    call's queries run on the demo database of that day."""
    from datetime import date

    from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_result

    names = {q["name"] for q in payload["queries"]}
    results = sample_result(date.fromisoformat(day))["results"]
    return {"results": {name: answer for name, answer in results.items() if name in names}}


def add_document(
    database_url: str,
    tenant: Tenant,
    passages: list[str],
    name: str,
    pages: list[int] | None = None,
) -> str:
    """A READY document of the tenant's agent whose chunks are ``passages`` (one search unit
    each, embedded as ingestion would; ``pages[i]`` the page of passage i); its id."""
    import json

    from phi_llm.embeddings import get_embedding_provider

    vectors = get_embedding_provider().embed_passages(passages)
    (document_id,) = sql(
        database_url,
        "INSERT INTO documents (org_id, agent_id, name, source_type, storage_path, status, "
        "chunk_count) VALUES (%s, %s, %s, 'SOP', 'x', 'READY', %s) RETURNING id",
        tenant.org_id,
        tenant.agent_id,
        name,
        len(passages),
    )[0]
    for i, (text, vector) in enumerate(zip(passages, vectors, strict=True)):
        literal = "[" + ",".join(f"{x:.6f}" for x in vector) + "]"
        metadata = {"source_type": "SOP", **({"page": pages[i]} if pages else {})}
        (chunk_id,) = sql(
            database_url,
            "INSERT INTO document_chunks (document_id, org_id, agent_id, chunk_index, chunk_text, "
            "embedding, metadata) VALUES (%s, %s, %s, %s, %s, %s::vector, %s::jsonb) "
            "RETURNING id",
            document_id,
            tenant.org_id,
            tenant.agent_id,
            i,
            text,
            literal,
            json.dumps(metadata),
        )[0]
        # Search matches on units (sentence groups) and returns their passage: one unit each.
        sql(
            database_url,
            "INSERT INTO document_units (chunk_id, document_id, org_id, agent_id, unit_index, "
            "char_start, char_end, unit_text, embedding) "
            "VALUES (%s, %s, %s, %s, 0, 0, %s, %s, %s::vector)",
            chunk_id,
            document_id,
            tenant.org_id,
            tenant.agent_id,
            len(text),
            text,
            literal,
        )
    return str(document_id)
