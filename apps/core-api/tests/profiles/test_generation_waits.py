"""generate-profile and the agent's documents: it waits (bounded) for those still processing,
or answers 409 naming them; it is refused at once (429) when a model would generate the profile
and the organization's budget is used up. Real API, real worker processes, real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from core_factories import create_agent, create_org, signup
from document_api import upload, wait_done
from profile_api import generate, wait_generation

from phi_llm.testing import FakeOpenAIServer

JD = (
    b"Dock Supervisor - Job Description\n\n"
    b"Key responsibilities\n\n"
    b"- Assign inbound trailers to doors at the start of every shift.\n"
    b"- Review the dock schedule with the transport planner every Monday.\n"
)


def sql(live_server: Any, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the test database (set-up and checks the API does not expose)."""
    url = live_server.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def agent_of(client: httpx.Client) -> tuple[Any, dict[str, Any]]:
    owner = signup(client)
    org = create_org(client, owner)
    return owner, create_agent(client, owner, org["id"])


def test_documents_still_processing_are_named_in_a_409(
    start_server: Callable[..., Any], own_worker: Callable[..., Any]
) -> None:
    server = start_server(profile_documents_wait_seconds=0.5)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        owner, agent = agent_of(client)
        doc = upload(client, owner, JD, "dock-jd.txt", agent_id=agent["id"], source_type="JD")
        assert doc.status_code == 202, doc.text
        doc_id = doc.json()["id"]

        # No worker yet: the document stays PENDING past the wait.
        refused = client.post(f"/agents/{agent['id']}/generate-profile", headers=owner.headers)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert f"dock-jd.txt (PENDING, id {doc_id})" in detail
        assert f"GET /agents/{agent['id']}/documents/{{document_id}}" in detail
        versions = client.get(f"/agents/{agent['id']}/profile-versions", headers=owner.headers)
        assert versions.json() == []

        own_worker()
        assert wait_done(client, owner, doc.json())["status"] == "READY"
        done = wait_generation(client, owner, generate(client, owner, agent["id"]))
        assert done["status"] == "SUCCEEDED", done["error"]


def test_generation_right_after_an_upload_waits_and_uses_the_document(
    client: httpx.Client, own_worker: Callable[..., Any]
) -> None:
    own_worker()
    owner, agent = agent_of(client)
    doc = upload(client, owner, JD, "dock-jd.txt", agent_id=agent["id"], source_type="JD")
    assert doc.status_code == 202, doc.text
    # At once, as a user following the walk-through too quickly would.
    done = wait_generation(client, owner, generate(client, owner, agent["id"]))
    assert done["status"] == "SUCCEEDED", done["error"]
    [summary] = client.get(f"/agents/{agent['id']}/profile-versions", headers=owner.headers).json()
    version = client.get(
        f"/agents/{agent['id']}/profile-versions/{summary['version']}", headers=owner.headers
    ).json()
    assert [d["name"] for d in version["profile"]["documents"]] == ["dock-jd.txt"]
    assert not any("still processing" in w for w in version["profile"]["warnings"])
    assert "Assign inbound trailers to doors" in version["system_prompt"]


def test_over_budget_with_a_model_route_is_refused_at_once(
    client: httpx.Client,
    own_worker: Callable[..., Any],
    fake_llm: FakeOpenAIServer,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The API and the worker both read the routing from the environment.
    monkeypatch.setenv("PHI_OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("PHI_LLM_ROUTES", "heavy=openai:test-model,builtin")
    own_worker()
    owner, agent = agent_of(client)
    org = agent["org_id"]
    sql(live_server, "UPDATE organizations SET monthly_token_budget = 100 WHERE id = %s", org)
    sql(
        live_server,
        "INSERT INTO llm_token_usage (org_id, month, used) VALUES "
        "(%s, (date_trunc('month', now() AT TIME ZONE 'UTC'))::date, 100)",
        org,
    )
    refused = client.post(f"/agents/{agent['id']}/generate-profile", headers=owner.headers)
    assert refused.status_code == 429, refused.text
    assert "100 of 100 tokens" in refused.json()["detail"]
    assert fake_llm.calls == 0
    queued = sql(
        live_server, "SELECT count(*) FROM profile_generations WHERE agent_id = %s", agent["id"]
    )
    assert queued == [(0,)]


def test_builtin_generations_never_consume_the_budget(
    client: httpx.Client, own_worker: Callable[..., Any], live_server: Any
) -> None:
    """A second no-model generation used to be refused with 429 once builtin calls had
    'spent' a small budget."""
    own_worker()
    owner, agent = agent_of(client)
    org = agent["org_id"]
    sql(live_server, "UPDATE organizations SET monthly_token_budget = 1 WHERE id = %s", org)
    for _ in range(2):
        done = wait_generation(client, owner, generate(client, owner, agent["id"]))
        assert done["status"] == "SUCCEEDED", done["error"]
    rows = sql(
        live_server,
        "SELECT provider, outcome, tokens_in > 0, cost_usd FROM llm_calls WHERE org_id = %s",
        org,
    )
    used = sql(
        live_server,
        "SELECT coalesce(sum(used), 0) FROM llm_token_usage WHERE org_id = %s",
        org,
    )
    assert [r[:3] for r in rows] == [("builtin", "ok", True)] * 2
    assert all(float(r[3]) == 0 for r in rows)
    assert used == [(0,)]
