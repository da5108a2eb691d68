"""Profile generation when a model is configured and misbehaves: fallback, retry with the
validation error, clear failures naming the provider, budgets. The model is a real HTTP server
(phi_llm.testing.FakeOpenAIServer); each test starts its own worker with its own LLM settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from core_factories import create_agent, create_org, signup
from profile_api import generate, wait_generation

from phi_llm.testing import FakeOpenAIServer

VALID = {
    "system_prompt": "You are the warehouse analyst of Acme. Report only figures from the data.",
    "capabilities": ["daily inventory report"],
    "workflows": [
        {
            "type": "DAILY_WAREHOUSE_REPORT",
            "description": "Daily report",
            "schedule": "30 16 * * 1-5",
        }
    ],
    "tool_usage_rules": [{"tool": "db", "rule": "Read-only queries."}],
    "safety_constraints": [{"text": "Never invent numbers."}],
}


def llm_env(
    server: FakeOpenAIServer, routes: str = "heavy=openai:test-model,builtin"
) -> dict[str, str]:
    return {
        "PHI_OPENAI_BASE_URL": server.base_url,
        "PHI_LLM_ROUTES": routes,
        "PHI_LLM_RETRIES": "0",
    }


def setup(client: httpx.Client) -> tuple[Any, str]:
    owner = signup(client)
    org = create_org(client, owner)
    return owner, create_agent(client, owner, org["id"])["id"]


def test_a_configured_model_is_used_with_no_code_change(
    client: httpx.Client, own_worker: Callable[..., Any], fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.default = "json:" + json.dumps(VALID)
    own_worker(**llm_env(fake_llm))
    owner, agent_id = setup(client)
    done = wait_generation(client, owner, generate(client, owner, agent_id))
    assert done["status"] == "SUCCEEDED", done["error"]
    agent = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    assert agent["system_prompt"] == VALID["system_prompt"]
    assert agent["config"]["workflows"][0]["schedule"] == "30 16 * * 1-5"
    [version] = client.get(f"/agents/{agent_id}/profile-versions", headers=owner.headers).json()
    assert (version["provider"], version["produced_without_llm"]) == ("openai", False)
    # The model got the schema and the role template in its prompt.
    body = fake_llm.requests[0]["body"]
    assert body["response_format"]["json_schema"]["name"] == "agent_profile"
    assert "Warehouse Analyst" in body["messages"][1]["content"]


def test_invalid_profile_is_retried_once_with_the_error(
    client: httpx.Client, own_worker: Callable[..., Any], fake_llm: FakeOpenAIServer
) -> None:
    bad = dict(VALID, workflows=[{"type": "DAILY", "description": "x", "schedule": "61 25 * * *"}])
    fake_llm.script.append("json:" + json.dumps(bad))
    fake_llm.default = "json:" + json.dumps(VALID)
    own_worker(**llm_env(fake_llm))
    owner, agent_id = setup(client)
    done = wait_generation(client, owner, generate(client, owner, agent_id))
    assert done["status"] == "SUCCEEDED", done["error"]
    assert fake_llm.calls == 2
    retry = fake_llm.requests[1]["body"]["messages"]
    assert retry[-2]["role"] == "assistant" and "61 25" in retry[-2]["content"]
    assert "rejected" in retry[-1]["content"] and "workflows.0.schedule" in retry[-1]["content"]


def test_invalid_twice_fails_without_touching_the_agent(
    client: httpx.Client, own_worker: Callable[..., Any], fake_llm: FakeOpenAIServer
) -> None:
    bad = dict(VALID, tool_usage_rules=[{"tool": "teleporter", "rule": "Beam the pallets."}])
    fake_llm.default = "json:" + json.dumps(bad)
    own_worker(**llm_env(fake_llm))
    owner, agent_id = setup(client)
    before = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    done = wait_generation(client, owner, generate(client, owner, agent_id))
    assert done["status"] == "FAILED"
    assert "invalid twice" in done["error"] and "unknown tool 'teleporter'" in done["error"]
    after = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    assert (after["system_prompt"], after["config"]) == (before["system_prompt"], before["config"])
    assert client.get(f"/agents/{agent_id}/profile-versions", headers=owner.headers).json() == []


def test_garbage_from_the_model_falls_back_to_builtin(
    client: httpx.Client, own_worker: Callable[..., Any], fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.default = "garbage"
    own_worker(**llm_env(fake_llm))
    owner, agent_id = setup(client)
    done = wait_generation(client, owner, generate(client, owner, agent_id))
    assert done["status"] == "SUCCEEDED", done["error"]
    [version] = client.get(f"/agents/{agent_id}/profile-versions", headers=owner.headers).json()
    assert (version["provider"], version["produced_without_llm"]) == ("builtin", True)


def test_provider_down_fails_clearly_naming_it(
    client: httpx.Client, own_worker: Callable[..., Any], fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.stop()  # nothing listens on its port any more
    own_worker(**llm_env(fake_llm, routes="heavy=openai:test-model"))
    owner, agent_id = setup(client)
    done = wait_generation(client, owner, generate(client, owner, agent_id))
    assert done["status"] == "FAILED"
    assert done["error"].startswith("LLM provider error (503)")
    assert "provider 'openai'" in done["error"]
    agent = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    assert agent["system_prompt"] is None


def test_generation_through_the_router_service(
    client: httpx.Client, own_worker: Callable[..., Any], live_server: Any
) -> None:
    """PHI_LLM_ROUTER_URL: the worker calls the router service (its own process, as `make dev`
    runs it), which finds core-api's builtin profile composer through its entry point."""
    import os
    import subprocess
    import sys
    import time

    import psycopg

    from phi_platform.embedded_pg import free_port

    settings = live_server.settings
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHI_LLM", "PHI_OPENAI"))}
    env.update(
        DATABASE_URL=settings.database_url,
        PHI_DATA_DIR=str(settings.data_dir),
        PHI_LLM_ROUTER_PORT=str(port),
        PHI_LLM_ROUTER_TOKEN="svc-token",
    )
    router = subprocess.Popen(
        [sys.executable, "-m", "phi_llm_router.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert router.poll() is None, "the router service stopped while starting"
            assert time.monotonic() < deadline, "the router service did not start in 30 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        own_worker(PHI_LLM_ROUTER_URL=f"http://127.0.0.1:{port}", PHI_LLM_ROUTER_TOKEN="svc-token")
        owner, agent_id = setup(client)
        done = wait_generation(client, owner, generate(client, owner, agent_id))
        assert done["status"] == "SUCCEEDED", done["error"]
        prompt = client.get(f"/agents/{agent_id}", headers=owner.headers).json()["system_prompt"]
        assert prompt.startswith("You are Warehouse bot, a virtual Warehouse Analyst")
        # The service recorded the call, for the agent the worker named.
        with psycopg.connect(settings.libpq_database_url) as conn:
            rows = conn.execute(
                "SELECT provider FROM llm_calls WHERE agent_id = %s", (agent_id,)
            ).fetchall()
        assert rows == [("builtin",)]
    finally:
        router.terminate()
        router.wait(10)
