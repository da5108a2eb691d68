"""Every orchestrator route that reaches tenant data refuses other tenants.

Routes signed in with a user's token: a member of another org gets 404 (as on core-api), no
token 401, the owner succeeds. Routes a local agent calls with its key: a key of another
org's agent gets 403 (docs/local-agent-protocol.md), no key 401, the agent's own key succeeds.
The first test fails when a route has no case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from orch_factories import Tenant, create_key, make_tenant, sql

from phi_orchestrator.main import create_app
from phi_service.testing import scoped_routes

# Routes without a path parameter that still act on one tenant's data (key-authenticated).
KEYED_WITHOUT_PARAMS = {"POST /local-agents/heartbeat", "POST /tool-callbacks"}
PUBLIC = {"GET /health", "GET /ready", "GET /workflows", "GET /watch"}


@dataclass
class World:
    a: Tenant
    key_a: str
    key_b: str
    ids: dict[str, str]

    def path(self, template: str) -> str:
        values = {"agent_id": self.a.agent_id, **self.ids}
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


Request = Callable[[World], dict[str, Any]]


def _none(_: World) -> dict[str, Any]:
    return {}


USER_CASES: dict[str, Request] = {
    "POST /agents/{agent_id}/run-task": lambda w: {
        "json": {"type": "ASK", "input": {"question": "q"}}
    },
    "GET /agents/{agent_id}/tasks": _none,
    "GET /agents/{agent_id}/schedules": _none,
    "GET /tasks/{task_id}": _none,
    "POST /tasks/{task_id}/cancel": lambda w: {"path": {"task_id": w.ids["open_task_id"]}},
    "POST /tasks/{task_id}/approval": lambda w: {
        "path": {"task_id": w.ids["approval_task_id"]},
        "json": {"decision": "reject", "reason": "not now"},
    },
    "GET /tasks/{task_id}/events/stream": _none,
    "POST /agents/{agent_id}/local-agent-keys": lambda w: {"json": {"name": "k"}},
    "GET /agents/{agent_id}/local-agent-keys": _none,
    "DELETE /agents/{agent_id}/local-agent-keys/{key_id}": _none,
    "GET /agents/{agent_id}/local-agents": _none,
    "GET /agents/{agent_id}/deliver-to": _none,
    "POST /agents/{agent_id}/deliver-to": lambda w: {
        "json": {"workflow_type": "DAILY_WAREHOUSE_REPORT", "email": "ops-new@example.com"}
    },
    "DELETE /agents/{agent_id}/deliver-to/{destination_id}": _none,
    "POST /agents/{agent_id}/deliver-to/{destination_id}/rotate-secret": lambda w: {
        "path": {"destination_id": w.ids["webhook_id"]}
    },
    "GET /tasks/{task_id}/deliveries": _none,
    "GET /tasks/{task_id}/report.pdf": lambda w: {"path": {"task_id": w.ids["done_task_id"]}},
}


def _callback(w: World) -> dict[str, Any]:
    return {
        "json": {
            "tool_call_id": w.ids["tool_call_id"],
            "task_id": w.ids["open_task_id"],
            "attempt": 1,
            "tool": "db",
            "result": {"results": {}},
            "error": None,
        }
    }


KEY_CASES: dict[str, Request] = {
    "POST /local-agents/heartbeat": lambda w: {
        "json": {"local_agent_id": w.ids["local_agent_id"], "name": "pc", "tools": ["db"]}
    },
    "GET /local-agents/{local_agent_id}/pending-tasks": lambda w: {"params": {"wait": 0}},
    "POST /tool-calls/{tool_call_id}/lease": lambda w: {"json": {"attempt": 1}},
    "POST /tool-callbacks": _callback,
}


# Platform-wide routes for platform administrators only: everyone else, an org OWNER
# included, gets 404 as if they did not exist (tested below).
ADMIN_CASES: dict[str, Request] = {
    "GET /admin/tasks": lambda w: {"params": {"status": "CANCELLED", "org_id": w.a.org_id}},
    "GET /admin/tasks/{task_id}": _none,
}


def test_every_route_has_an_isolation_case() -> None:
    app = create_app()
    routes = scoped_routes(app) | KEYED_WITHOUT_PARAMS
    assert "GET /tasks/{task_id}" in routes  # the enumeration itself works
    missing = routes - set(USER_CASES) - set(KEY_CASES) - set(ADMIN_CASES)
    assert not missing, f"add tenant-isolation cases for: {sorted(missing)}"
    everything = {f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items() for m in ops}
    assert everything - routes - set(ADMIN_CASES) == PUBLIC, (
        "a new route without a path parameter needs a case"
    )
    admin = {r for r in everything if r.split(" ", 1)[1].startswith("/admin")}
    assert admin == set(ADMIN_CASES), f"admin routes without a case: {admin - set(ADMIN_CASES)}"


@pytest.fixture
def world(api: httpx.Client, database_url: str) -> World:
    a, b = make_tenant(database_url), make_tenant(database_url)
    key_a, key_b = create_key(api, a), create_key(api, b)
    (task_id,) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, status, input, finished_at) "
        "VALUES (%s, %s, 'ASK', 'CANCELLED', '{}', now()) RETURNING id",
        a.agent_id,
        a.org_id,
    )[0]
    (open_task_id,) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, status, input) "
        "VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'WAITING', '{}') RETURNING id",
        a.agent_id,
        a.org_id,
    )[0]
    (approval_task_id,) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, status, input) "
        "VALUES (%s, %s, 'AGENT_TASK', 'AWAITING_APPROVAL', '{}') RETURNING id",
        a.agent_id,
        a.org_id,
    )[0]
    sql(
        database_url,
        "INSERT INTO task_events (task_id, event_type, payload) VALUES (%s, "
        "'approval_requested', %s)",
        approval_task_id,
        json.dumps({"key": "tool_1", "tool": "db_query", "arguments": {}, "step": "tool_1"}),
    )
    (local_agent_id,) = sql(
        database_url,
        "INSERT INTO local_agents (agent_id, org_id, name, tools, status) "
        "VALUES (%s, %s, 'pc', '[\"db\"]', 'ACTIVE') RETURNING id",
        a.agent_id,
        a.org_id,
    )[0]
    (tool_call_id,) = sql(
        database_url,
        "INSERT INTO tool_calls (task_id, org_id, agent_id, step, tool, payload, status, "
        "attempt, lease_until, local_agent_id) VALUES (%s, %s, %s, 'fetch_data', 'db', %s, "
        "'CLAIMED', 1, now() + interval '1 hour', %s) RETURNING id",
        open_task_id,
        a.org_id,
        a.agent_id,
        json.dumps({"queries": []}),
        local_agent_id,
    )[0]
    (done_task_id,) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, status, input, output, finished_at) "
        "VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'SUCCESS', '{}', %s, now()) RETURNING id",
        a.agent_id,
        a.org_id,
        json.dumps({"full_report_md": "# Report", "summary_text": "All fine."}),
    )[0]
    (destination_id,) = sql(
        database_url,
        "INSERT INTO delivery_destinations (org_id, agent_id, workflow_type, kind, target, "
        "format) VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'email', 'ops@example.com', "
        "'email') RETURNING id",
        a.org_id,
        a.agent_id,
    )[0]
    (webhook_id,) = sql(
        database_url,
        "INSERT INTO delivery_destinations (org_id, agent_id, workflow_type, kind, target, "
        "format, secret_encrypted) VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'webhook', "
        "'https://hooks.example.com/phi', 'json', 'sealed') RETURNING id",
        a.org_id,
        a.agent_id,
    )[0]
    key_id = api.get(f"/agents/{a.agent_id}/local-agent-keys", headers=a.owner.headers).json()[
        "items"
    ][0]["id"]
    ids = {
        "task_id": str(task_id),
        "open_task_id": str(open_task_id),
        "approval_task_id": str(approval_task_id),
        "local_agent_id": str(local_agent_id),
        "tool_call_id": str(tool_call_id),
        "key_id": key_id,
        "done_task_id": str(done_task_id),
        "destination_id": str(destination_id),
        "webhook_id": str(webhook_id),
    }
    return World(a=a, key_a=key_a, key_b=key_b, ids=ids)


@pytest.fixture
def outsider(database_url: str) -> Tenant:
    # An OWNER of their own org, so a role check cannot be what stops them.
    return make_tenant(database_url)


def _request(w: World, case: str, build: Request) -> tuple[str, str, dict[str, Any]]:
    method, template = case.split(" ", 1)
    kwargs = build(w)
    overrides = kwargs.pop("path", {})
    path = re.sub(r"\{(\w+)\}", lambda m: overrides.get(m.group(1), f"{{{m.group(1)}}}"), template)
    return method, w.path(path), kwargs


@pytest.mark.parametrize("case", sorted(USER_CASES))
def test_user_routes_answer_404_to_other_tenants(
    case: str, world: World, outsider: Tenant, api: httpx.Client
) -> None:
    method, path, kwargs = _request(world, case, USER_CASES[case])
    r = api.request(method, path, headers=outsider.owner.headers, **kwargs)
    assert r.status_code == 404, f"{case} as outsider: {r.status_code} {r.text}"
    # A key is not a user token, even the agent's own.
    with_key = api.request(
        method, path, headers={"Authorization": f"Bearer {world.key_a}"}, **kwargs
    )
    assert with_key.status_code == 401
    assert api.request(method, path, **kwargs).status_code == 401
    r = api.request(method, path, headers=world.a.owner.headers, **kwargs)
    assert r.status_code < 400, f"{case} as owner: {r.status_code} {r.text}"


@pytest.mark.parametrize("case", sorted(KEY_CASES))
def test_key_routes_refuse_another_orgs_key(case: str, world: World, api: httpx.Client) -> None:
    method, path, kwargs = _request(world, case, KEY_CASES[case])
    r = api.request(method, path, headers={"Authorization": f"Bearer {world.key_b}"}, **kwargs)
    assert r.status_code == 403, f"{case} with org B's key: {r.status_code} {r.text}"
    assert api.request(method, path, **kwargs).status_code == 401
    # A user's token is not a key.
    as_user = api.request(method, path, headers=world.a.owner.headers, **kwargs)
    assert as_user.status_code == 401
    r = api.request(method, path, headers={"Authorization": f"Bearer {world.key_a}"}, **kwargs)
    assert r.status_code < 400, f"{case} with the agent's own key: {r.status_code} {r.text}"


def test_other_orgs_key_sees_none_of_its_tool_calls(
    world: World, api: httpx.Client, database_url: str
) -> None:
    """Org B's local agent, polling with org B's key, is never handed org A's call."""
    b_agent = api.post(
        "/local-agents/heartbeat",
        json={"name": "b", "tools": ["db", "file"]},
        headers={"Authorization": f"Bearer {world.key_b}"},
    ).json()["local_agent_id"]
    sql(
        database_url,
        "UPDATE tool_calls SET status = 'PENDING', lease_until = NULL WHERE id = %s",
        world.ids["tool_call_id"],
    )
    r = api.get(
        f"/local-agents/{b_agent}/pending-tasks",
        params={"wait": 1},
        headers={"Authorization": f"Bearer {world.key_b}"},
    )
    assert r.status_code == 200 and r.json() == {"tasks": []}


@pytest.mark.parametrize("case", sorted(ADMIN_CASES))
def test_admin_routes_answer_404_to_everyone_but_platform_admins(
    case: str,
    world: World,
    outsider: Tenant,
    api: httpx.Client,
    orch_settings: Any,
    database_url: str,
) -> None:
    method, path, kwargs = _request(world, case, ADMIN_CASES[case])
    for headers in (world.a.owner.headers, outsider.owner.headers):
        r = api.request(method, path, headers=headers, **kwargs)
        assert r.status_code == 404, f"{case} as a non-admin: {r.status_code} {r.text}"
    key = api.request(method, path, headers={"Authorization": f"Bearer {world.key_a}"}, **kwargs)
    assert key.status_code == 401
    assert api.request(method, path, **kwargs).status_code == 401
    # The outsider made a platform administrator by the flag sees org A's task.
    sql(
        database_url,
        "UPDATE users SET is_platform_admin = true WHERE id = %s",
        outsider.owner.user_id,
    )
    r = api.request(method, path, headers=outsider.owner.headers, **kwargs)
    assert r.status_code == 200, f"{case} as admin: {r.status_code} {r.text}"
    body = r.json()
    if "items" in body:
        assert [t["id"] for t in body["items"]] == [world.ids["task_id"]]
        assert body["items"][0]["org_name"] and body["items"][0]["agent_name"]
    else:
        assert body["id"] == world.ids["task_id"] and body["status"] == "CANCELLED"
