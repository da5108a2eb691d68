"""Joining an organization takes the invitee's consent, and inviting reveals no accounts."""

from __future__ import annotations

import uuid

import httpx
from core_factories import UserCtx, create_org, invite, signup


def _members(client: httpx.Client, user: UserCtx, org_id: str) -> set[str]:
    r = client.get(f"/orgs/{org_id}/members", headers=user.headers)
    assert r.status_code == 200, r.text
    return {m["email"] for m in r.json()}


def _mine(client: httpx.Client, user: UserCtx) -> list[dict]:  # type: ignore[type-arg]
    r = client.get("/me/invitations", headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_invitee_joins_only_by_accepting(client: httpx.Client) -> None:
    owner, invitee = signup(client), signup(client)
    org = create_org(client, owner, "Depot North")
    invitation = invite(client, owner, org["id"], invitee.email, "ADMIN")

    # Invited is not joined: no access, not listed as a member.
    assert client.get(f"/orgs/{org['id']}", headers=invitee.headers).status_code == 404
    assert invitee.email not in _members(client, owner, org["id"])
    assert client.get("/me", headers=invitee.headers).json()["memberships"] == []

    [mine] = _mine(client, invitee)
    assert mine["id"] == invitation["id"]
    assert (mine["org_name"], mine["role"], mine["invited_by_email"]) == (
        "Depot North",
        "ADMIN",
        owner.email,
    )
    r = client.post(f"/me/invitations/{invitation['id']}/accept", headers=invitee.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["my_role"]) == (org["id"], "ADMIN")
    assert invitee.email in _members(client, owner, org["id"])
    assert _mine(client, invitee) == []
    assert client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers).json() == []
    # Answered once: a second accept finds nothing.
    again = client.post(f"/me/invitations/{invitation['id']}/accept", headers=invitee.headers)
    assert again.status_code == 404


def test_declining_leaves_the_organization_untouched(client: httpx.Client) -> None:
    owner, invitee = signup(client), signup(client)
    org = create_org(client, owner)
    invitation = invite(client, owner, org["id"], invitee.email)
    r = client.post(f"/me/invitations/{invitation['id']}/decline", headers=invitee.headers)
    assert r.status_code == 204
    assert invitee.email not in _members(client, owner, org["id"])
    assert client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers).json() == []
    r = client.post(f"/me/invitations/{invitation['id']}/accept", headers=invitee.headers)
    assert r.status_code == 404


def test_inviting_answers_the_same_whether_or_not_the_email_has_an_account(
    client: httpx.Client,
) -> None:
    owner, existing = signup(client), signup(client)
    org = create_org(client, owner)
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    answers = [
        client.post(f"/orgs/{org['id']}/invitations", json={"email": email}, headers=owner.headers)
        for email in (existing.email, nobody)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    varying = {"id", "email", "created_at", "expires_at"}
    first, second = ({k: v for k, v in a.json().items() if k not in varying} for a in answers)
    assert first == second
    assert set(answers[0].headers) == set(answers[1].headers)

    # Whoever signs up with that email later finds the invitation waiting.
    later = signup(client, email=nobody)
    [mine] = _mine(client, later)
    assert mine["id"] == answers[1].json()["id"]
    r = client.post(f"/me/invitations/{mine['id']}/accept", headers=later.headers)
    assert r.status_code == 200


def test_only_the_addressee_can_answer(client: httpx.Client) -> None:
    owner, invitee, someone = signup(client), signup(client), signup(client)
    org = create_org(client, owner)
    invitation = invite(client, owner, org["id"], invitee.email)
    for action in ("accept", "decline"):
        for user in (someone, owner):
            r = client.post(f"/me/invitations/{invitation['id']}/{action}", headers=user.headers)
            assert r.status_code == 404, (action, r.text)
    assert _mine(client, someone) == []
    assert someone.email not in _members(client, owner, org["id"])
    assert [i["id"] for i in _mine(client, invitee)] == [invitation["id"]]


def test_admins_list_renew_and_revoke_invitations_members_cannot(client: httpx.Client) -> None:
    owner, member, invitee = signup(client), signup(client), signup(client)
    org = create_org(client, owner)
    first = invite(client, owner, org["id"], member.email)
    r = client.post(f"/me/invitations/{first['id']}/accept", headers=member.headers)
    assert r.status_code == 200

    # The email's case does not matter; inviting again renews the one invitation.
    invitation = invite(client, owner, org["id"], invitee.email.upper(), "MEMBER")
    renewed = invite(client, owner, org["id"], invitee.email, "ADMIN")
    assert renewed["id"] == invitation["id"] and renewed["role"] == "ADMIN"
    assert renewed["email"] == invitee.email.lower()
    listed = client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers).json()
    assert [(i["id"], i["role"]) for i in listed] == [(invitation["id"], "ADMIN")]

    path = f"/orgs/{org['id']}/invitations"
    assert client.get(path, headers=member.headers).status_code == 403
    assert client.delete(f"{path}/{invitation['id']}", headers=member.headers).status_code == 403
    assert client.delete(f"{path}/{invitation['id']}", headers=owner.headers).status_code == 204
    assert client.delete(f"{path}/{invitation['id']}", headers=owner.headers).status_code == 404
    assert _mine(client, invitee) == []
    r = client.post(f"/me/invitations/{invitation['id']}/accept", headers=invitee.headers)
    assert r.status_code == 404
