"""Small builders for test data, all going through the HTTP API like a user would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class UserCtx:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(
    client: httpx.Client, email: str | None = None, password: str = "correct horse 9"
) -> UserCtx:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    r = client.post(
        "/auth/signup", json={"email": email, "password": password, "name": "Test User"}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return UserCtx(id=body["id"], email=email, password=password, token=body["access_token"])


def create_org(client: httpx.Client, user: UserCtx, name: str = "Acme Logistics") -> dict[str, Any]:
    r = client.post("/orgs", json={"name": name}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def invite(
    client: httpx.Client, inviter: UserCtx, org_id: str, email: str, role: str = "MEMBER"
) -> dict[str, Any]:
    r = client.post(
        f"/orgs/{org_id}/invitations", json={"email": email, "role": role}, headers=inviter.headers
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def add_member(
    client: httpx.Client, owner: UserCtx, org_id: str, member: UserCtx, role: str = "MEMBER"
) -> None:
    """Invite ``member`` and accept the invitation as them."""
    invitation = invite(client, owner, org_id, member.email, role)
    r = client.post(f"/me/invitations/{invitation['id']}/accept", headers=member.headers)
    assert r.status_code == 200, r.text


def catalog_role(
    client: httpx.Client, industry_key: str = "logistics", role_key: str = "warehouse_analyst"
) -> dict[str, Any]:
    roles = client.get("/role-templates", params={"industry_key": industry_key}).json()
    return next(r for r in roles if r["key"] == role_key)  # type: ignore[no-any-return]


def tools_by_key(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in client.get("/tools").json()}


def create_agent(
    client: httpx.Client, user: UserCtx, org_id: str, name: str = "Warehouse bot", **extra: Any
) -> dict[str, Any]:
    role = catalog_role(client)
    body = {"industry_id": role["industry_id"], "role_template_id": role["id"], "name": name}
    body.update(extra)
    r = client.post(f"/orgs/{org_id}/agents", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]
