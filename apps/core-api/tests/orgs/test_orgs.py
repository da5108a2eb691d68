from __future__ import annotations

import threading
import time

import httpx
import psycopg
from core_factories import add_member, create_org, signup
from document_api import upload


def test_create_list_get_and_rename(client: httpx.Client) -> None:
    owner = signup(client)
    org = create_org(client, owner, "Northwind")
    assert org["my_role"] == "OWNER" and org["owner_user_id"] == owner.id
    listed = client.get("/orgs", headers=owner.headers).json()
    assert [o["id"] for o in listed] == [org["id"]]
    got = client.get(f"/orgs/{org['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json()["name"] == "Northwind"
    r = client.patch(
        f"/orgs/{org['id']}", json={"name": "Northwind Traders"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["name"] == "Northwind Traders"


def test_bad_org_input(client: httpx.Client) -> None:
    owner = signup(client)
    assert client.post("/orgs", json={"name": "   "}, headers=owner.headers).status_code == 422
    assert client.post("/orgs", json={}, headers=owner.headers).status_code == 422
    assert client.post("/orgs", json={"name": "x"}).status_code == 401
    assert client.get("/orgs/not-a-uuid", headers=owner.headers).status_code == 422


def test_member_management(client: httpx.Client) -> None:
    owner, admin, member = signup(client), signup(client), signup(client)
    org = create_org(client, owner)
    oid = org["id"]
    add_member(client, owner, oid, admin, "ADMIN")
    add_member(client, admin, oid, member)  # an ADMIN may add members
    members = client.get(f"/orgs/{oid}/members", headers=member.headers).json()
    assert {(m["email"], m["role"]) for m in members} == {
        (owner.email, "OWNER"),
        (admin.email, "ADMIN"),
        (member.email, "MEMBER"),
    }
    # Memberships show on /me.
    me = client.get("/me", headers=member.headers).json()
    assert me["memberships"][0]["role"] == "MEMBER"

    # Inviting a member again, or with a role that does not exist.
    r = client.post(f"/orgs/{oid}/invitations", json={"email": member.email}, headers=owner.headers)
    assert r.status_code == 409 and "already a member" in r.json()["detail"]
    r = client.post(
        f"/orgs/{oid}/invitations",
        json={"email": member.email, "role": "BOSS"},
        headers=owner.headers,
    )
    assert r.status_code == 422

    # MEMBERs cannot manage; ADMINs cannot hand out OWNER.
    outsider = signup(client)
    r = client.post(
        f"/orgs/{oid}/invitations", json={"email": outsider.email}, headers=member.headers
    )
    assert r.status_code == 403
    r = client.patch(
        f"/orgs/{oid}/members/{member.id}", json={"role": "OWNER"}, headers=admin.headers
    )
    assert r.status_code == 403
    assert (
        client.patch(f"/orgs/{oid}", json={"name": "x"}, headers=member.headers).status_code == 403
    )

    # Role change by the owner.
    r = client.patch(
        f"/orgs/{oid}/members/{member.id}", json={"role": "ADMIN"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["role"] == "ADMIN"

    # Removing a member; unknown member is 404.
    assert (
        client.delete(f"/orgs/{oid}/members/{member.id}", headers=admin.headers).status_code == 204
    )
    assert client.get(f"/orgs/{oid}", headers=member.headers).status_code == 404
    assert (
        client.delete(f"/orgs/{oid}/members/{member.id}", headers=admin.headers).status_code == 404
    )


def test_last_owner_cannot_be_removed_or_demoted(client: httpx.Client) -> None:
    owner, admin = signup(client), signup(client)
    oid = create_org(client, owner)["id"]
    add_member(client, owner, oid, admin, "ADMIN")
    r = client.patch(
        f"/orgs/{oid}/members/{owner.id}", json={"role": "ADMIN"}, headers=owner.headers
    )
    assert r.status_code == 409 and "last OWNER" in r.json()["detail"]
    assert (
        client.delete(f"/orgs/{oid}/members/{owner.id}", headers=owner.headers).status_code == 409
    )
    assert (
        client.delete(f"/orgs/{oid}/members/{owner.id}", headers=admin.headers).status_code == 403
    )
    # With a second owner, the first may step down.
    r = client.patch(
        f"/orgs/{oid}/members/{admin.id}", json={"role": "OWNER"}, headers=owner.headers
    )
    assert r.status_code == 200
    assert (
        client.delete(f"/orgs/{oid}/members/{owner.id}", headers=owner.headers).status_code == 204
    )
    members = client.get(f"/orgs/{oid}/members", headers=admin.headers).json()
    assert [(m["email"], m["role"]) for m in members] == [(admin.email, "OWNER")]


def test_member_can_leave(client: httpx.Client) -> None:
    owner, member = signup(client), signup(client)
    oid = create_org(client, owner)["id"]
    add_member(client, owner, oid, member)
    assert (
        client.delete(f"/orgs/{oid}/members/{member.id}", headers=member.headers).status_code == 204
    )
    assert client.get("/orgs", headers=member.headers).json() == []


def test_token_budget_is_owner_only_and_validated(client: httpx.Client) -> None:
    owner, admin = signup(client), signup(client)
    oid = create_org(client, owner)["id"]
    add_member(client, owner, oid, admin, "ADMIN")
    r = client.patch(f"/orgs/{oid}", json={"monthly_token_budget": 1000}, headers=admin.headers)
    assert r.status_code == 403
    r = client.patch(f"/orgs/{oid}", json={"monthly_token_budget": -1}, headers=owner.headers)
    assert r.status_code == 422
    r = client.patch(f"/orgs/{oid}", json={"monthly_token_budget": 250000}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["monthly_token_budget"] == 250000


def test_time_zone_is_validated_and_kept(client: httpx.Client) -> None:
    owner, member = signup(client), signup(client)
    oid = create_org(client, owner)["id"]
    add_member(client, owner, oid, member)
    assert client.get(f"/orgs/{oid}", headers=owner.headers).json()["time_zone"] == "UTC"
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "x" * 100):
        r = client.patch(f"/orgs/{oid}", json={"time_zone": bad}, headers=owner.headers)
        assert r.status_code == 422, (bad, r.text)
    r = client.patch(f"/orgs/{oid}", json={"time_zone": "Europe/Berlin"}, headers=member.headers)
    assert r.status_code == 403
    r = client.patch(f"/orgs/{oid}", json={"time_zone": "Europe/Berlin"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["time_zone"] == "Europe/Berlin"
    assert client.get(f"/orgs/{oid}", headers=owner.headers).json()["time_zone"] == "Europe/Berlin"


def test_delete_org_owner_only(client: httpx.Client) -> None:
    owner, admin = signup(client), signup(client)
    oid = create_org(client, owner)["id"]
    add_member(client, owner, oid, admin, "ADMIN")
    assert client.delete(f"/orgs/{oid}", headers=admin.headers).status_code == 403
    assert client.delete(f"/orgs/{oid}", headers=owner.headers).status_code == 204
    assert client.get(f"/orgs/{oid}", headers=owner.headers).status_code == 404


def test_text_postgres_cannot_store_is_a_422(client: httpx.Client) -> None:
    owner = signup(client)
    r = client.post("/orgs", json={"name": "bad\u0000name"}, headers=owner.headers)
    assert r.status_code == 422 and "invalid value" in r.json()["detail"]
    assert client.get("/orgs", headers=owner.headers).json() == []


def test_deleting_an_org_rides_out_a_deadlock_with_its_ingestion(
    client: httpx.Client, database_url: str
) -> None:
    """A worker ingesting a document holds its row and then takes a key-share lock on the
    organization; deleting the organization locks the org row and then the documents by
    cascade. The two meet in a deadlock that PostgreSQL resolves by aborting one of them:
    when that is the delete, the API retries it instead of answering 503."""
    owner = signup(client)
    oid = create_org(client, owner)["id"]
    doc = upload(client, owner, b"Dock 4 opens at six.", "dock.txt", org_id=oid).json()

    url = database_url.replace("+psycopg", "")
    with psycopg.connect(url) as ingest, psycopg.connect(url, autocommit=True) as watch:
        # The "worker": holds the document row (as an ingestion updating its status does).
        # Its own deadlock check waits far longer than the delete's (1 s), so the delete's
        # backend is the one that finds the deadlock and is aborted, even when a loaded machine
        # runs the two checks late (the tests connect as the superuser, who may set it).
        ingest.execute("SET deadlock_timeout = '60s'")
        ingest.execute("SELECT 1 FROM documents WHERE id = %s FOR UPDATE", (doc["id"],))
        answer: dict[str, httpx.Response] = {}
        deleting = threading.Thread(
            target=lambda: answer.update(
                r=client.delete(f"/orgs/{oid}", headers=owner.headers, timeout=30)
            )
        )
        deleting.start()
        deadline = time.monotonic() + 20
        while not watch.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query ILIKE 'DELETE FROM organizations%%'"
        ).fetchone():
            assert time.monotonic() < deadline, "the delete never waited on the document"
            time.sleep(0.05)
        # Then the "worker" needs the organization row, which the delete holds: deadlock.
        ingest.execute("SELECT 1 FROM organizations WHERE id = %s FOR KEY SHARE", (oid,))
        ingest.commit()
        deleting.join(30)
    assert answer["r"].status_code == 204, answer["r"].text
    assert client.get(f"/orgs/{oid}", headers=owner.headers).status_code == 404
