"""GET /orgs/{org_id}/audit, its export, and /admin/audit: filters, cursor paging, roles,
isolation between organizations."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from core_factories import UserCtx, add_member, create_agent, create_org, signup

from phi_service.testing import LiveServer


def _audit(client: httpx.Client, user: UserCtx, org_id: str, **params: Any) -> httpx.Response:
    return client.get(f"/orgs/{org_id}/audit", params=params, headers=user.headers)


@pytest.fixture
def busy_org(client: httpx.Client) -> tuple[UserCtx, UserCtx, str]:
    """An org with an OWNER, an ADMIN and a MEMBER, three agents and some renames."""
    owner, admin, member = signup(client), signup(client), signup(client)
    org_id = create_org(client, owner, "Busy")["id"]
    add_member(client, owner, org_id, admin, "ADMIN")
    add_member(client, owner, org_id, member, "MEMBER")
    for name in ("Dispatch Desk", "Night Shift", "Inbound"):
        create_agent(client, admin, org_id, name=name)
    for name in ("Busy 2", "Busy 3"):
        r = client.patch(f"/orgs/{org_id}", json={"name": name}, headers=owner.headers)
        assert r.status_code == 200, r.text
    return owner, admin, member


def test_pages_newest_first_with_a_cursor(
    client: httpx.Client, busy_org: tuple[UserCtx, UserCtx, str]
) -> None:
    owner, admin, member = busy_org
    org_id = _org_of(client, owner)
    # org.created, 2 invited + 2 joined, 3 agents, 2 renames
    everything = _audit(client, admin, org_id, limit=200).json()
    assert len(everything["items"]) == 10 and everything["next_cursor"] is None
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = _audit(client, owner, org_id, **params).json()
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything["items"]]  # every event once, newest first
    newest = everything["items"][0]
    assert newest["action"] == "org.renamed"
    assert newest["summary"] == f"{owner.email} renamed the organization from Busy 2 to Busy 3"
    created = [e for e in everything["items"] if e["action"] == "agent.created"]
    assert created[-1]["summary"].startswith(f"{admin.email} created agent Dispatch Desk")
    assert created[-1]["actor"] == {"type": "user", "id": admin.id, "label": admin.email}

    # A MEMBER may not read the log.
    r = _audit(client, member, org_id)
    assert r.status_code == 403 and "OWNER or ADMIN" in r.json()["detail"]


def test_filters(client: httpx.Client, busy_org: tuple[UserCtx, UserCtx, str]) -> None:
    owner, admin, _ = busy_org
    org_id = _org_of(client, owner)

    def actions(**params: Any) -> list[str]:
        r = _audit(client, owner, org_id, limit=200, **params)
        assert r.status_code == 200, r.text
        return [e["action"] for e in r.json()["items"]]

    assert actions(action="agent.created") == ["agent.created"] * 3
    assert sorted(set(actions(action="member"))) == ["member.invited", "member.joined"]
    # An actor by (part of) email, case-insensitive, or by id.
    assert actions(actor=admin.email.split("@")[0].upper()) == [
        *["agent.created"] * 3,
        "member.joined",
    ]
    assert len(actions(actor=admin.id)) == 4
    assert actions(actor_type="anonymous") == []
    agent_event = _audit(client, owner, org_id, action="agent.created", limit=1).json()["items"][0]
    assert actions(target_type="agent", target_id=agent_event["target"]["id"]) == ["agent.created"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert actions(since=future) == []
    assert len(actions(since=past, until=future)) == 10

    for params, message in (
        ({"action": "agent.exploded"}, "unknown action"),
        ({"cursor": "not-a-cursor"}, "invalid cursor"),
        ({"since": future, "until": past}, "since is later than until"),
    ):
        r = _audit(client, owner, org_id, **params)
        assert r.status_code == 422 and message in r.json()["detail"], r.text
    r = _audit(client, owner, org_id, actor_type="robot")
    assert r.status_code == 422 and "actor_type" in r.text


def test_another_orgs_owner_sees_none_of_it(
    client: httpx.Client, busy_org: tuple[UserCtx, UserCtx, str]
) -> None:
    owner, _, _ = busy_org
    org_id = _org_of(client, owner)
    other = signup(client)
    other_org = create_org(client, other, "Other")["id"]
    assert _audit(client, other, org_id).status_code == 404
    mine = _audit(client, other, other_org, limit=200).json()["items"]
    assert [e["org_id"] for e in mine] == [other_org]
    # Filtering by a target of the first org finds nothing from the other org's log.
    target = _audit(client, owner, org_id, action="agent.created", limit=1).json()["items"][0]
    r = _audit(client, other, other_org, target_id=target["target"]["id"])
    assert r.json()["items"] == []
    r = client.get(f"/orgs/{org_id}/audit/export", headers=other.headers)
    assert r.status_code == 404


def test_export_streams_csv_and_json_lines(
    client: httpx.Client, busy_org: tuple[UserCtx, UserCtx, str]
) -> None:
    owner, _, member = busy_org
    org_id = _org_of(client, owner)
    r = client.get(f"/orgs/{org_id}/audit/export", headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith(f'attachment; filename="audit-{org_id}-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 10 and rows[0]["action"] == "org.renamed"
    assert json.loads(rows[0]["details"]) == {"name": {"from": "Busy 2", "to": "Busy 3"}}
    assert rows[0]["summary"].endswith("renamed the organization from Busy 2 to Busy 3")

    r = client.get(
        f"/orgs/{org_id}/audit/export",
        params={"format": "jsonl", "action": "agent"},
        headers=owner.headers,
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [e["action"] for e in lines] == ["agent.created"] * 3

    r = client.get(f"/orgs/{org_id}/audit/export", params={"format": "xml"}, headers=owner.headers)
    assert r.status_code == 422
    r = client.get(f"/orgs/{org_id}/audit/export", params={"action": "x"}, headers=owner.headers)
    assert r.status_code == 422 and "unknown action" in r.text
    assert client.get(f"/orgs/{org_id}/audit/export", headers=member.headers).status_code == 403


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(
    client: httpx.Client, live_server: LiveServer
) -> None:
    owner = signup(client)
    org_id = create_org(client, owner, '=HYPERLINK("http://x")')["id"]
    r = client.get(f"/orgs/{org_id}/audit/export", headers=owner.headers)
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert row["target_label"].startswith("'=")


def test_platform_admins_see_every_org_deleted_ones_too(
    start_server: Any, client: httpx.Client
) -> None:
    admin_email = f"audit-admin-{uuid.uuid4().hex[:8]}@example.com"
    server = start_server(admin_emails=admin_email)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        admin = signup(c, email=admin_email)
        owner = signup(c)
        kept = create_org(c, owner, "Kept")["id"]
        gone = create_org(c, owner, "Gone")["id"]
        assert c.delete(f"/orgs/{gone}", headers=owner.headers).status_code == 204
        r = c.get("/admin/audit", params={"actor": owner.id, "limit": 200}, headers=admin.headers)
        assert r.status_code == 200, r.text
        got = [(e["org_id"], e["action"]) for e in r.json()["items"]]
        assert got == [(gone, "org.deleted"), (gone, "org.created"), (kept, "org.created")]
        r = c.get("/admin/audit", params={"org_id": kept}, headers=admin.headers)
        assert [e["action"] for e in r.json()["items"]] == ["org.created"]
        r = c.get(
            "/admin/audit/export",
            params={"format": "jsonl", "actor": owner.id},
            headers=admin.headers,
        )
        assert r.status_code == 200 and len(r.text.splitlines()) == 3
        # An org's OWNER is not a platform administrator.
        assert c.get("/admin/audit", headers=owner.headers).status_code == 404


def _org_of(client: httpx.Client, user: UserCtx) -> str:
    (org,) = client.get("/orgs", headers=user.headers).json()
    return str(org["id"])
