"""Every change the core API makes writes exactly one audit event, with the right actor and
target, in the change's own transaction; refused and failed changes write none."""

from __future__ import annotations

import uuid

import httpx
import psycopg
from audit_api import EventLog
from core_factories import create_agent, create_org, invite, signup, tools_by_key
from document_api import upload

from phi_service.testing import LiveServer


def _db(live_server: LiveServer) -> str:
    return str(live_server.settings.database_url)


def test_org_and_member_actions(client: httpx.Client, live_server: LiveServer) -> None:
    owner = signup(client)
    org = create_org(client, owner, "Audit Org")
    log = EventLog(_db(live_server), org["id"])
    e = log.one("org.created", owner.id, ("organization", org["id"]))
    assert e["actor_type"] == "user" and e["actor_label"] == owner.email
    assert e["client_address"] == "127.0.0.1"

    h = owner.headers
    r = client.patch(f"/orgs/{org['id']}", json={"name": "Audit Org 2"}, headers=h)
    assert r.status_code == 200, r.text
    e = log.one("org.renamed", owner.id, ("organization", org["id"]))
    assert e["details"] == {"name": {"from": "Audit Org", "to": "Audit Org 2"}}
    r = client.patch(f"/orgs/{org['id']}", json={"time_zone": "Europe/Lisbon"}, headers=h)
    assert r.status_code == 200, r.text
    log.one("org.settings_changed", owner.id, ("organization", org["id"]))
    r = client.patch(f"/orgs/{org['id']}", json={"monthly_token_budget": 5000}, headers=h)
    assert r.status_code == 200, r.text
    e = log.one("budget.changed", owner.id, ("organization", org["id"]))
    assert e["details"] == {"monthly_token_budget": {"from": None, "to": 5000}}
    # The same values again change nothing and record nothing.
    r = client.patch(f"/orgs/{org['id']}", json={"monthly_token_budget": 5000}, headers=h)
    assert r.status_code == 200 and log.new() == []

    member = signup(client)
    inv = invite(client, owner, org["id"], member.email, "MEMBER")
    e = log.one("member.invited", owner.id, ("invitation", inv["id"]))
    assert e["details"] == {"email": member.email, "role": "MEMBER"}
    r = client.post(f"/me/invitations/{inv['id']}/accept", headers=member.headers)
    assert r.status_code == 200, r.text
    log.one("member.joined", member.id, ("user", member.id))

    r = client.patch(f"/orgs/{org['id']}/members/{member.id}", json={"role": "ADMIN"}, headers=h)
    assert r.status_code == 200, r.text
    e = log.one("member.role_changed", owner.id, ("user", member.id))
    assert e["details"]["role"] == {"from": "MEMBER", "to": "ADMIN"}

    # A refused change records nothing: the last OWNER cannot step down.
    r = client.patch(f"/orgs/{org['id']}/members/{owner.id}", json={"role": "ADMIN"}, headers=h)
    assert r.status_code == 409 and log.new() == []

    # A wrong password for a member's account: one event in each of the member's orgs.
    r = client.post("/auth/login", json={"email": member.email, "password": "wrong password 1"})
    assert r.status_code == 401
    e = log.one("auth.sign_in_failed", None, ("user", member.id))
    assert e["actor_type"] == "anonymous" and e["details"]["reason"] == "incorrect password"

    stranger = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    inv2 = invite(client, owner, org["id"], stranger, "MEMBER")
    log.new()
    r = client.delete(f"/orgs/{org['id']}/invitations/{inv2['id']}", headers=h)
    assert r.status_code == 204, r.text
    log.one("member.invitation_revoked", owner.id, ("invitation", inv2["id"]))

    r = client.delete(f"/orgs/{org['id']}/members/{member.id}", headers=h)
    assert r.status_code == 204, r.text
    e = log.one("member.removed", owner.id, ("user", member.id))
    assert e["details"] == {"email": member.email, "role": "ADMIN", "left": False}

    r = client.delete(f"/orgs/{org['id']}", headers=h)
    assert r.status_code == 204, r.text
    # The org is gone; its history stays (for platform administrators and the retention).
    e = log.one("org.deleted", owner.id, ("organization", org["id"]))
    assert e["details"] == {"name": "Audit Org 2"}
    assert len(EventLog(_db(live_server), org["id"]).new()) == 12


def test_agent_document_and_config_actions(client: httpx.Client, live_server: LiveServer) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    log = EventLog(_db(live_server), org["id"])
    log.new()
    agent = create_agent(client, owner, org["id"], name="Dispatch Desk")
    e = log.one("agent.created", owner.id, ("agent", agent["id"]))
    assert e["target_label"] == "Dispatch Desk" and e["details"]["name"] == "Dispatch Desk"

    tools = tools_by_key(client)
    current = sorted(t["key"] for t in agent["tools"])
    dropped = current[0]
    wanted = [{"tool_id": tools[k]["id"]} for k in current[1:]]
    r = client.patch(f"/agents/{agent['id']}", json={"tools": wanted}, headers=owner.headers)
    assert r.status_code == 200, r.text
    e = log.one("agent.tools_changed", owner.id, ("agent", agent["id"]))
    assert e["details"] == {"added": [], "removed": [dropped]}
    wanted = [{"tool_id": tools[k]["id"]} for k in current]
    r = client.patch(f"/agents/{agent['id']}", json={"tools": wanted}, headers=owner.headers)
    assert r.status_code == 200, r.text
    e = log.one("agent.tools_changed", owner.id, ("agent", agent["id"]))
    assert e["details"] == {"added": [dropped], "removed": []}
    # Renaming the agent is not a tools change.
    r = client.patch(f"/agents/{agent['id']}", json={"name": "Dispatch"}, headers=owner.headers)
    assert r.status_code == 200 and log.new() == []

    r = upload(client, owner, b"# SOP\n\nCount the pallets.\n", "sop.md", agent_id=agent["id"])
    assert r.status_code == 202, r.text
    doc = r.json()
    e = log.one("document.uploaded", owner.id, ("document", doc["id"]))
    assert e["details"]["name"] == "sop.md" and e["details"]["source_type"] == "SOP"
    r = client.delete(f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers)
    assert r.status_code == 204, r.text
    log.one("document.deleted", owner.id, ("document", doc["id"]))

    r = client.get(f"/agents/{agent['id']}/config", headers=owner.headers)
    assert r.status_code == 200, r.text
    e = log.one("config.downloaded", owner.id, ("agent", agent["id"]))
    assert e["details"] == {"format": "yaml"}

    r = client.delete(f"/agents/{agent['id']}", headers=owner.headers)
    assert r.status_code == 204, r.text
    log.one("agent.deleted", owner.id, ("agent", agent["id"]))


def test_a_change_that_fails_after_its_event_leaves_no_event(
    client: httpx.Client, live_server: LiveServer
) -> None:
    """The event is written first, then the change fails at commit (a trigger standing in
    for any database error): both are rolled back."""
    owner = signup(client)
    org = create_org(client, owner)
    log = EventLog(_db(live_server), org["id"])
    log.new()
    fn = f"refuse_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(log.url, autocommit=True) as conn:
        conn.execute(
            f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.name = 'explode' THEN RAISE EXCEPTION 'refused by test'; END IF; "
            "RETURN NEW; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER {fn} BEFORE UPDATE ON organizations FOR EACH ROW "
            f"EXECUTE FUNCTION {fn}()"
        )
    try:
        r = client.patch(f"/orgs/{org['id']}", json={"name": "explode"}, headers=owner.headers)
        # The server's fault, answered as such (not a reset connection).
        assert (r.status_code, r.json()) == (500, {"detail": "internal error"})
    finally:
        with psycopg.connect(log.url, autocommit=True) as conn:
            conn.execute(f"DROP TRIGGER {fn} ON organizations")
            conn.execute(f"DROP FUNCTION {fn}()")
    assert log.new() == []
    assert client.get(f"/orgs/{org['id']}", headers=owner.headers).json()["name"] != "explode"


def test_failed_sign_in_of_an_unknown_email_records_nothing(
    client: httpx.Client, live_server: LiveServer
) -> None:
    url = _db(live_server).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        (before,) = conn.execute("SELECT count(*) FROM audit_events").fetchone()  # type: ignore[misc]
    email = f"ghost-{uuid.uuid4().hex[:6]}@example.com"
    r = client.post("/auth/login", json={"email": email, "password": "whatever 123"})
    assert r.status_code == 401
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM audit_events WHERE details->>'email' = %s", (email,)
        ).fetchone()
    assert rows == (0,) and before >= 0


def test_memory_actions_record_the_namespace_never_the_text(
    client: httpx.Client, live_server: LiveServer
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    log = EventLog(_db(live_server), org["id"])
    log.new()
    path = f"/orgs/{org['id']}/agents/{agent['id']}/memories"
    secret_text = f"Gate code is {uuid.uuid4().hex[:6]}"
    r = client.post(path, json={"text": secret_text}, headers=owner.headers)
    assert r.status_code == 201, r.text
    memory = r.json()
    e = log.one("memory.added", owner.id, ("memory", memory["id"]))
    assert e["details"] == {"scope": "agent", "agent_id": agent["id"], "source": "user"}
    r = client.patch(
        f"{path}/{memory['id']}", json={"text": "Gate code changed"}, headers=owner.headers
    )
    assert r.status_code == 200, r.text
    e = log.one("memory.changed", owner.id, ("memory", memory["id"]))
    assert e["details"]["text_changed"] is True
    # The same text again is refused (409) and records nothing.
    r = client.post(path, json={"text": "Gate code changed"}, headers=owner.headers)
    assert r.status_code == 409 and log.new() == []
    assert client.delete(f"{path}/{memory['id']}", headers=owner.headers).status_code == 204
    log.one("memory.deleted", owner.id, ("memory", memory["id"]))

    r = client.post(
        f"/orgs/{org['id']}/memories", json={"text": "Dock 4 is closed"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    e = log.one("memory.added", owner.id, ("memory", r.json()["id"]))
    assert e["details"]["scope"] == "org"
    url = log.url
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM audit_events WHERE audit_events::text LIKE %s",
            (f"%{secret_text}%",),
        ).fetchone()
    assert rows == (0,)
