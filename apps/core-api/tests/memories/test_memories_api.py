"""Memories through the API: both namespaces, who may change what, limits, expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from core_factories import UserCtx, add_member, create_agent, create_org, signup


def _db(live_server: Any) -> str:
    return str(live_server.settings.database_url).replace("postgresql+psycopg://", "postgresql://")


def _add(client: httpx.Client, user: UserCtx, path: str, text: str, **extra: Any) -> httpx.Response:
    return client.post(f"{path}/memories", json={"text": text, **extra}, headers=user.headers)


def _search(client: httpx.Client, user: UserCtx, path: str, query: str, **extra: Any) -> list[Any]:
    r = client.post(f"{path}/memories/search", json={"query": query, **extra}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()["results"]  # type: ignore[no-any-return]


def test_an_agents_memory_is_added_found_edited_and_deleted(client: httpx.Client) -> None:
    owner = signup(client)
    org_id = create_org(client, owner)["id"]
    agent = f"/orgs/{org_id}/agents/{create_agent(client, owner, org_id)['id']}"
    r = _add(client, owner, agent, "  Dock 4 is closed for repairs until Friday.  ")
    assert r.status_code == 201, r.text
    memory = r.json()
    assert memory["text"] == "Dock 4 is closed for repairs until Friday."
    assert memory["source"] == "user" and memory["source_user_id"] == owner.id
    assert memory["namespace"] == "agent" and memory["embedded"] is True
    _add(client, owner, agent, "The night shift starts at 22:00.")
    page = client.get(f"{agent}/memories", params={"limit": 1}, headers=owner.headers).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    hits = _search(client, owner, agent, "which dock is out of service?")
    assert hits[0]["id"] == memory["id"] and hits[0]["score"] > 0
    r = client.patch(
        f"{agent}/memories/{memory['id']}",
        json={"text": "Dock 4 is open again."},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.json()["updated_by"] == owner.id, r.text
    assert _search(client, owner, agent, "dock 4")[0]["text"] == "Dock 4 is open again."
    r = client.delete(f"{agent}/memories/{memory['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert client.get(f"{agent}/memories/{memory['id']}", headers=owner.headers).status_code == 404
    assert all(h["id"] != memory["id"] for h in _search(client, owner, agent, "dock 4"))


def test_an_org_memory_is_recalled_by_its_agents_and_no_other_org(client: httpx.Client) -> None:
    owner, stranger = signup(client), signup(client)
    org_id = create_org(client, owner)["id"]
    agents = [f"/orgs/{org_id}/agents/{create_agent(client, owner, org_id)['id']}" for _ in "ab"]
    r = _add(client, owner, f"/orgs/{org_id}", "Goods-in closes at 16:00 on Saturdays.")
    assert r.status_code == 201, r.text
    memory_id = r.json()["id"]
    for agent in agents:
        hits = _search(client, owner, agent, "when does goods-in close on Saturday?")
        assert [h["id"] for h in hits] == [memory_id]
        assert hits[0]["namespace"] == "org"
        assert _search(client, owner, agent, "goods-in", include_org=False) == []
    # Another organization, even with the same words, finds nothing; its owner cannot reach
    # this organization's memories, nor put this org's agent under its own org's path.
    other_org = create_org(client, stranger)["id"]
    other_agent = create_agent(client, stranger, other_org)["id"]
    assert _search(client, stranger, f"/orgs/{other_org}/agents/{other_agent}", "goods-in") == []
    assert _search(client, stranger, f"/orgs/{other_org}", "goods-in") == []
    r = client.get(f"/orgs/{org_id}/memories/{memory_id}", headers=stranger.headers)
    assert r.status_code == 404
    foreign = f"/orgs/{other_org}/agents/{agents[0].rsplit('/', 1)[1]}/memories"
    assert client.get(foreign, headers=stranger.headers).status_code == 404


def test_members_add_to_agents_and_change_only_their_own(client: httpx.Client) -> None:
    owner, member = signup(client), signup(client)
    org_id = create_org(client, owner)["id"]
    add_member(client, owner, org_id, member)
    agent = f"/orgs/{org_id}/agents/{create_agent(client, owner, org_id)['id']}"
    r = _add(client, member, f"/orgs/{org_id}", "Everyone: badge in at gate 2.")
    assert r.status_code == 403 and "OWNER or ADMIN" in r.json()["detail"]
    own = _add(client, member, agent, "Carrier X prefers dock 2.").json()
    owners = _add(client, owner, agent, "Carrier Y is always late on Mondays.").json()
    r = client.patch(
        f"{agent}/memories/{own['id']}",
        json={"text": "Carrier X uses dock 3."},
        headers=member.headers,
    )
    assert r.status_code == 200, r.text
    r = client.delete(f"{agent}/memories/{owners['id']}", headers=member.headers)
    assert r.status_code == 403 and "another person" in r.json()["detail"]
    assert client.delete(f"{agent}/memories/{own['id']}", headers=member.headers).status_code == 204
    # Members read both namespaces.
    assert client.get(f"/orgs/{org_id}/memories", headers=member.headers).status_code == 200


def test_limits_and_bad_input_get_a_message(start_server: Any) -> None:
    server = start_server(max_memories_per_org=2, memory_max_chars=40)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        owner = signup(client)
        org = f"/orgs/{create_org(client, owner)['id']}"
        r = _add(client, owner, org, "x" * 41)
        assert r.status_code == 422 and "41 characters" in r.json()["detail"]
        assert _add(client, owner, org, "   ").status_code == 422
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        r = _add(client, owner, org, "Old news.", valid_until=past)
        assert r.status_code == 422 and "already past" in r.json()["detail"]
        r = _add(client, owner, org, "Naive time.", valid_until="2099-01-01T00:00:00")
        assert r.status_code == 422 and "time zone" in r.json()["detail"]
        assert _add(client, owner, org, "Fact one.").status_code == 201
        r = _add(client, owner, org, "Fact one.")
        assert r.status_code == 409 and "already memory" in r.json()["detail"]
        assert _add(client, owner, org, "Fact two.").status_code == 201
        r = _add(client, owner, org, "Fact three.")
        assert r.status_code == 422
        assert "PHI_MAX_MEMORIES_PER_ORG=2" in r.json()["detail"]


def test_expired_memories_never_come_back(client: httpx.Client, live_server: Any) -> None:
    owner = signup(client)
    org_id = create_org(client, owner)["id"]
    agent = f"/orgs/{org_id}/agents/{create_agent(client, owner, org_id)['id']}"
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    memory = _add(client, owner, agent, "Temporary: dock 9 reserved for audit.", valid_until=soon)
    assert memory.status_code == 201, memory.text
    memory_id = memory.json()["id"]
    assert _search(client, owner, agent, "dock 9 audit")[0]["id"] == memory_id
    # Its time passes (moved into the past in the database rather than waited for).
    with psycopg.connect(_db(live_server), autocommit=True) as conn:
        conn.execute(
            "UPDATE memories SET valid_until = now() - interval '1 second' WHERE id = %s",
            (memory_id,),
        )
    assert _search(client, owner, agent, "dock 9 audit") == []
    assert client.get(f"{agent}/memories", headers=owner.headers).json()["total"] == 0
    assert client.get(f"{agent}/memories/{memory_id}", headers=owner.headers).status_code == 404
    r = client.patch(f"{agent}/memories/{memory_id}", json={"text": "x"}, headers=owner.headers)
    assert r.status_code == 404


def test_deleting_the_agent_or_the_org_deletes_their_memories(
    client: httpx.Client, live_server: Any
) -> None:
    owner = signup(client)
    org_id = create_org(client, owner)["id"]
    agent_id = create_agent(client, owner, org_id)["id"]
    _add(client, owner, f"/orgs/{org_id}/agents/{agent_id}", "Agent fact.")
    _add(client, owner, f"/orgs/{org_id}", "Org fact.")

    def count() -> tuple[int, int]:
        with psycopg.connect(_db(live_server)) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE agent_id IS NOT NULL), count(*) FROM memories "
                "WHERE org_id = %s",
                (uuid.UUID(org_id),),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    assert count() == (1, 2)
    assert client.delete(f"/agents/{agent_id}", headers=owner.headers).status_code == 204
    assert count() == (0, 1)
    assert client.delete(f"/orgs/{org_id}", headers=owner.headers).status_code == 204
    assert count() == (0, 0)


def test_a_memory_added_twice_with_one_key_is_kept_once(client: httpx.Client) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    for path in (f"/orgs/{org['id']}", f"/orgs/{org['id']}/agents/{agent['id']}"):
        headers = {**owner.headers, "Idempotency-Key": str(uuid.uuid4())}
        body = {"text": "Dock 3 is closed on Sundays."}
        first = client.post(f"{path}/memories", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = client.post(f"{path}/memories", json=body, headers=headers)
        assert again.status_code == 201 and again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        other = client.post(f"{path}/memories", json={"text": "Dock 4 too."}, headers=headers)
        assert other.status_code == 422 and headers["Idempotency-Key"] in other.json()["detail"]
        listed = client.get(f"{path}/memories", headers=owner.headers).json()
        items = listed["items"] if isinstance(listed, dict) else listed
        assert [m["id"] for m in items] == [first.json()["id"]]
