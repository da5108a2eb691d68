from __future__ import annotations

from typing import Any

import httpx
import pytest
from core_factories import add_member, catalog_role, create_agent, create_org, signup, tools_by_key

from phi_core_api.agents.schemas import AgentSummary


def test_create_with_role_default_tools(client: httpx.Client) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    role = catalog_role(client, "logistics", "safety_officer")  # defaults include cctv
    r = client.post(
        f"/orgs/{org['id']}/agents",
        json={"industry_id": role["industry_id"], "role_template_id": role["id"], "name": "Safety"},
        headers=owner.headers,
    )
    assert r.status_code == 201
    agent = r.json()
    available = {k for k, t in tools_by_key(client).items() if t["available"]}
    expected = set(role["default_tools"]) & available
    assert {t["key"] for t in agent["tools"]} == expected
    # Each tool starts with the tool's default settings.
    defaults = tools_by_key(client)
    for t in agent["tools"]:
        assert t["config"] == defaults[t["key"]]["default_config"]
    assert agent["status"] == "ACTIVE" and agent["org_id"] == org["id"]


def test_create_with_explicit_tools(client: httpx.Client) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    tools = tools_by_key(client)
    agent = create_agent(client, owner, org["id"], tool_ids=[tools["file"]["id"]])
    assert [t["key"] for t in agent["tools"]] == ["file"]
    agent = create_agent(client, owner, org["id"], name="No tools", tool_ids=[])
    assert agent["tools"] == []


def test_create_rejects_bad_references(client: httpx.Client) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    role = catalog_role(client)
    other_industry = next(
        i for i in client.get("/industries").json() if i["id"] != role["industry_id"]
    )
    tools = tools_by_key(client)
    base = {"industry_id": role["industry_id"], "role_template_id": role["id"], "name": "A"}
    cases = [
        ({**base, "industry_id": other_industry["id"]}, "does not belong"),
        ({**base, "role_template_id": other_industry["id"]}, "unknown role_template_id"),
        ({**base, "tool_ids": [other_industry["id"]]}, "unknown tool ids"),
        ({**base, "tool_ids": [tools["cctv"]["id"]]}, "not yet available"),
    ]
    for body, message in cases:
        r = client.post(f"/orgs/{oid}/agents", json=body, headers=owner.headers)
        assert r.status_code == 422, body
        assert message in r.json()["detail"]
    for body in (
        {**base, "name": ""},
        {**base, "industry_id": "x"},
        {"name": "A"},
        {**base, "extra": 1},
    ):
        r = client.post(f"/orgs/{oid}/agents", json=body, headers=owner.headers)
        assert r.status_code == 422
    assert client.get(f"/orgs/{oid}/agents", headers=owner.headers).json() == []


def test_members_read_and_admins_write(client: httpx.Client) -> None:
    owner, member = signup(client), signup(client)
    oid = create_org(client, owner)["id"]
    add_member(client, owner, oid, member)
    agent = create_agent(client, owner, oid)
    role = catalog_role(client)
    body = {"industry_id": role["industry_id"], "role_template_id": role["id"], "name": "M"}
    assert client.post(f"/orgs/{oid}/agents", json=body, headers=member.headers).status_code == 403
    assert client.get(f"/agents/{agent['id']}", headers=member.headers).status_code == 200
    listed = client.get(f"/orgs/{oid}/agents", headers=member.headers).json()
    assert [a["id"] for a in listed] == [agent["id"]]
    assert listed[0]["tool_keys"] == sorted(t["key"] for t in agent["tools"])
    r = client.patch(f"/agents/{agent['id']}", json={"name": "x"}, headers=member.headers)
    assert r.status_code == 403
    assert client.delete(f"/agents/{agent['id']}", headers=member.headers).status_code == 403


def test_list_pagination(client: httpx.Client) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    ids = [create_agent(client, owner, oid, name=f"a{i}", tool_ids=[])["id"] for i in range(5)]
    page1 = client.get(f"/orgs/{oid}/agents", params={"limit": 2}, headers=owner.headers).json()
    page3 = client.get(
        f"/orgs/{oid}/agents", params={"limit": 2, "offset": 4}, headers=owner.headers
    ).json()
    assert [a["id"] for a in page1] == ids[:2] and [a["id"] for a in page3] == ids[4:]
    r = client.get(f"/orgs/{oid}/agents", params={"limit": 0}, headers=owner.headers)
    assert r.status_code == 422


def test_patch_fields_and_status(client: httpx.Client) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    agent = create_agent(client, owner, oid)
    r = client.patch(
        f"/agents/{agent['id']}",
        json={"name": "Night shift", "status": "DISABLED", "config": {"timezone": "Europe/Lisbon"}},
        headers=owner.headers,
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["status"], body["config"]) == (
        "Night shift",
        "DISABLED",
        {"timezone": "Europe/Lisbon"},
    )
    assert body["updated_at"] > agent["updated_at"]
    r = client.patch(f"/agents/{agent['id']}", json={"status": "PAUSED"}, headers=owner.headers)
    assert r.status_code == 422
    r = client.patch(f"/agents/{agent['id']}", json={"config": "x"}, headers=owner.headers)
    assert r.status_code == 422


@pytest.mark.parametrize(
    "cron, reason",
    [
        ("99 99 * * *", "minute '99' is not valid"),
        ("@reboot", "not a time the scheduler can run at"),
        ("0 0 31 2 *", "never runs"),
    ],
)
def test_a_schedule_that_cannot_run_is_refused_when_the_agent_is_saved(
    client: httpx.Client, cron: str, reason: str
) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    good = {"workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 17 * * *"}]}
    agent = create_agent(client, owner, oid, config=good)
    bad = {"workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": cron}]}
    r = client.patch(f"/agents/{agent['id']}", json={"config": bad}, headers=owner.headers)
    assert r.status_code == 422, r.text
    assert "workflows[0].schedule" in r.text and reason in r.text
    # The stored config is unchanged, and creating an agent with it is refused the same way.
    assert client.get(f"/agents/{agent['id']}", headers=owner.headers).json()["config"] == good
    role = catalog_role(client, "logistics", "warehouse_analyst")
    r = client.post(
        f"/orgs/{oid}/agents",
        json={
            "industry_id": role["industry_id"],
            "role_template_id": role["id"],
            "name": "Bad schedule",
            "config": bad,
        },
        headers=owner.headers,
    )
    assert r.status_code == 422 and reason in r.text


@pytest.mark.parametrize(
    "entry_input, reason",
    [
        (None, "workflows[0].input must be an object with the task's instruction"),
        ({"instruction": "  "}, "workflows[0].input.instruction is required"),
        ({"instruction": "x" * 4001}, "longer than 4000 characters"),
        ({"instruction": "Count", "when": "now"}, "fields an agent task does not take: when"),
    ],
)
def test_a_scheduled_agent_task_needs_its_instruction(
    client: httpx.Client, entry_input: Any, reason: str
) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    good = {
        "workflows": [
            {
                "type": "AGENT_TASK",
                "schedule": "0 7 * * 1",
                "input": {"instruction": "List last week's late orders by zone"},
            }
        ]
    }
    agent = create_agent(client, owner, oid, config=good)
    bad = {"workflows": [{"type": "AGENT_TASK", "schedule": "0 7 * * 1", "input": entry_input}]}
    r = client.patch(f"/agents/{agent['id']}", json={"config": bad}, headers=owner.headers)
    assert r.status_code == 422, r.text
    assert reason in r.text
    assert client.get(f"/agents/{agent['id']}", headers=owner.headers).json()["config"] == good


def test_patch_tool_settings_are_validated_against_the_schema(client: httpx.Client) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    agent = create_agent(client, owner, oid)
    tools = tools_by_key(client)
    db = tools["db"]
    # The db tool takes no settings (phi-agent's policy.yaml holds connections and limits).
    r = client.patch(
        f"/agents/{agent['id']}",
        json={"tools": [{"tool_id": db["id"], "config": {}}]},
        headers=owner.headers,
    )
    assert r.status_code == 200
    assert [(t["key"], t["config"]) for t in r.json()["tools"]] == [("db", {})]

    bad = {"max_rows": 250, "password": "hunter2"}
    r = client.patch(
        f"/agents/{agent['id']}",
        json={"tools": [{"tool_id": db["id"], "config": bad}, {"tool_id": tools["file"]["id"]}]},
        headers=owner.headers,
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "tool 'db'" in detail and "max_rows" in detail
    # The rejected request changed nothing.
    current = client.get(f"/agents/{agent['id']}", headers=owner.headers).json()
    assert [(t["key"], t["config"]) for t in current["tools"]] == [("db", {})]

    r = client.patch(
        f"/agents/{agent['id']}",
        json={"tools": [{"tool_id": db["id"]}, {"tool_id": db["id"]}]},
        headers=owner.headers,
    )
    assert r.status_code == 422 and "more than once" in r.json()["detail"]


def test_delete_agent(client: httpx.Client) -> None:
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    agent = create_agent(client, owner, oid)
    assert client.delete(f"/agents/{agent['id']}", headers=owner.headers).status_code == 204
    assert client.get(f"/agents/{agent['id']}", headers=owner.headers).status_code == 404
    assert client.delete(f"/agents/{agent['id']}", headers=owner.headers).status_code == 404


def test_listing_json_matches_the_agent_schema(client: httpx.Client) -> None:
    """The listing writes its JSON without pydantic (agents/service.py): each item must read
    exactly as AgentSummary would write it, dates and key order included."""
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    agents = [create_agent(client, owner, oid, name=f"a{i}") for i in range(2)]
    r = client.get(f"/orgs/{oid}/agents", headers=owner.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    listed = r.json()
    for item, agent in zip(listed, agents, strict=True):
        assert list(item) == list(AgentSummary.model_fields)
        assert AgentSummary.model_validate(item).model_dump(mode="json") == item
        expected = {k: v for k, v in agent.items() if k in AgentSummary.model_fields}
        expected["tool_keys"] = sorted(t["key"] for t in agent["tools"])
        assert item == expected  # same strings as GET /agents/{id}, e.g. created_at
