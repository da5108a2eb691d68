"""Hostile JSON on every orchestrator route that takes a body, with a user's token, a
local-agent key or no credential at all: nesting too deep to parse gets 422 (it was a
RecursionError, a 500 that also dropped the connection), never a 500."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from orch_factories import Tenant, create_key, make_tenant

from phi_orchestrator.main import create_app
from phi_service.guards import MAX_JSON_DEPTH

SPEC = create_app().openapi()
ZERO_ID = "00000000-0000-0000-0000-000000000000"
JSON_ROUTES = [
    (method.upper(), path, op.get("security", [{}])[0])
    for path, ops in SPEC["paths"].items()
    for method, op in ops.items()
    if "application/json" in op.get("requestBody", {}).get("content", {})
]


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def tenant(database_url: str) -> Tenant:
    return make_tenant(database_url)


@pytest.fixture(scope="module")
def credentials(orchestrator: Any, tenant: Tenant) -> dict[str, dict[str, str]]:
    with httpx.Client(base_url=orchestrator.url) as c:
        key = create_key(c, tenant)
    return {
        "HTTPBearer": tenant.owner.headers,
        "LocalAgentKey": {"Authorization": f"Bearer {key}"},
        "none": {},
    }


def test_the_routes_with_bodies_are_all_here() -> None:
    paths = {path for _, path, _ in JSON_ROUTES}
    assert {"/agents/{agent_id}/run-task", "/local-agents/heartbeat", "/tool-callbacks"} <= paths


@pytest.mark.parametrize(("method", "path", "security"), JSON_ROUTES, ids=lambda v: str(v)[:50])
@pytest.mark.parametrize("who", ["own credential", "no credential"])
def test_json_nested_too_deep_gets_422(
    api: httpx.Client,
    tenant: Tenant,
    credentials: dict[str, dict[str, str]],
    method: str,
    path: str,
    security: dict[str, Any],
    who: str,
) -> None:
    scheme = next(iter(security), "none") if who == "own credential" else "none"
    url = re.sub(r"\{agent_id\}", tenant.agent_id, path)
    url = re.sub(r"\{\w+\}", ZERO_ID, url)
    body = '{"input": ' + _deep(50_000) + "}"
    r = api.request(
        method,
        url,
        content=body,
        headers={**credentials[scheme], "Content-Type": "application/json"},
    )
    if path == "/tool-callbacks" and scheme == "none":
        # This route checks the key before it reads its (larger) body.
        assert r.status_code == 401, r.text[:300]
        return
    assert r.status_code == 422, (method, path, who, r.status_code, r.text[:300])
    assert "nested more than" in r.text, r.text[:300]


def test_a_tool_result_nested_too_deep_is_refused_before_it_is_stored(
    api: httpx.Client, credentials: dict[str, dict[str, str]]
) -> None:
    # The callback route reads its own body, past the services' guard. A result this deep
    # parses (pydantic allows it), is stored, and then breaks whatever reads it back.
    body = (
        f'{{"tool_call_id": "{uuid.uuid4()}", "task_id": "{uuid.uuid4()}", "attempt": 1, '
        f'"tool": "db", "result": {{"rows": {_deep(MAX_JSON_DEPTH + 40)}}}}}'
    )
    headers = {**credentials["LocalAgentKey"], "Content-Type": "application/json"}
    r = api.post("/tool-callbacks", content=body, headers=headers)
    assert r.status_code == 422, r.text[:300]
    assert "nested more than" in r.text
