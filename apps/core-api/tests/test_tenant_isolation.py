"""Every route that reaches org-scoped data answers 404 to a member of another org.

``CASES`` must name every such route of the app (the first test fails when a new route is
added without one). Each case builds a request that succeeds for the resource's own org;
the test sends it as an outsider (404 expected), then as the owner (success expected, which
proves the 404 did not come from a malformed request).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from core_factories import (
    UserCtx,
    add_member,
    create_agent,
    create_org,
    invite,
    signup,
    tools_by_key,
)

from phi_core_api.main import create_app
from phi_service.testing import scoped_routes as tenant_scoped_routes

# Path parameters that are not tenant-scoped (none yet); everything else is.
PUBLIC_PARAMS: set[str] = set()


@dataclass
class World:
    client: httpx.Client
    owner: UserCtx
    member: UserCtx
    org_id: str
    agent_id: str
    ids: dict[str, str] = field(default_factory=dict)

    def path(self, template: str) -> str:
        values = {
            "org_id": self.org_id,
            "agent_id": self.agent_id,
            "member_user_id": self.member.id,
            # Org-wide documents live under /orgs, an agent's own under /agents.
            "document_id": self.ids[
                "org_document_id" if template.startswith("/orgs") else "agent_document_id"
            ],
            # The org's invitation (to someone else) under /orgs; under /me, one addressed
            # to the owner by another organization.
            "invitation_id": self.ids[
                "org_invitation_id" if template.startswith("/orgs") else "my_invitation_id"
            ],
            # The organization's memory under /orgs/{org_id}/memories, the agent's under
            # /orgs/{org_id}/agents/{agent_id}/memories.
            "memory_id": self.ids.get(
                "agent_memory_id" if "{agent_id}" in template else "org_memory_id", ""
            ),
            **self.ids,
        }
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


Request = Callable[[World], dict[str, Any]]


def _none(_: World) -> dict[str, Any]:
    return {}


def _agent_body(w: World) -> dict[str, Any]:
    roles = w.client.get("/role-templates", params={"industry_key": "logistics"}).json()
    return {
        "json": {
            "industry_id": roles[0]["industry_id"],
            "role_template_id": roles[0]["id"],
            "name": "x",
        }
    }


def _agent_patch(w: World) -> dict[str, Any]:
    db = tools_by_key(w.client)["db"]
    return {"json": {"name": "renamed", "tools": [{"tool_id": db["id"]}]}}


def _upload(_: World) -> dict[str, Any]:
    # New content each time: the same file twice in one scope is refused (409).
    text = f"Count the pallets before noon. Ref {uuid.uuid4()}.\n".encode()
    return {"files": {"file": ("sop.txt", text, "text/plain")}, "data": {"source_type": "SOP"}}


def _memory(_: World) -> dict[str, Any]:
    # New text each time: the same text twice in one namespace is refused (409).
    return {"json": {"text": f"Dock 4 is closed for repairs until Friday ({uuid.uuid4()})."}}


AGENT_MEMORIES = "/orgs/{org_id}/agents/{agent_id}/memories"
ORG_MEMORIES = "/orgs/{org_id}/memories"


def _memory_search(_: World) -> dict[str, Any]:
    return {"json": {"query": "dock 4", "top_k": 3}}


CASES: dict[str, Request] = {
    "GET /orgs/{org_id}": _none,
    "GET /orgs/{org_id}/stats": _none,
    "PATCH /orgs/{org_id}": lambda w: {"json": {"name": "renamed"}},
    "DELETE /orgs/{org_id}": _none,
    "GET /orgs/{org_id}/members": _none,
    "POST /orgs/{org_id}/invitations": lambda w: {"json": {"email": signup(w.client).email}},
    "GET /orgs/{org_id}/invitations": _none,
    "DELETE /orgs/{org_id}/invitations/{invitation_id}": _none,
    "POST /me/invitations/{invitation_id}/accept": _none,
    "POST /me/invitations/{invitation_id}/decline": _none,
    "PATCH /orgs/{org_id}/members/{member_user_id}": lambda w: {"json": {"role": "ADMIN"}},
    "DELETE /orgs/{org_id}/members/{member_user_id}": _none,
    "POST /orgs/{org_id}/agents": _agent_body,
    "GET /orgs/{org_id}/agents": _none,
    "GET /agents/{agent_id}": _none,
    "PATCH /agents/{agent_id}": _agent_patch,
    "DELETE /agents/{agent_id}": _none,
    "POST /agents/{agent_id}/documents": _upload,
    "GET /agents/{agent_id}/documents": _none,
    "GET /agents/{agent_id}/documents/{document_id}": _none,
    "DELETE /agents/{agent_id}/documents/{document_id}": _none,
    "POST /orgs/{org_id}/documents": _upload,
    "GET /orgs/{org_id}/documents": _none,
    "GET /orgs/{org_id}/documents/{document_id}": _none,
    "DELETE /orgs/{org_id}/documents/{document_id}": _none,
    "POST /agents/{agent_id}/search-docs": lambda w: {"json": {"query": "pallets", "top_k": 3}},
    "POST /agents/{agent_id}/generate-profile": _none,
    "GET /agents/{agent_id}/profile-generations/{generation_id}": _none,
    "GET /agents/{agent_id}/profile-versions": _none,
    "GET /agents/{agent_id}/profile-versions/{version}": _none,
    "POST /agents/{agent_id}/profile-versions/{version}/restore": _none,
    "GET /agents/{agent_id}/config": _none,
    "GET /agents/{agent_id}/policy-starter": _none,
    "GET /orgs/{org_id}/audit": _none,
    "GET /orgs/{org_id}/audit/export": _none,
    **{
        f"{method} {base}{tail}": request
        for base in (AGENT_MEMORIES, ORG_MEMORIES)
        for method, tail, request in (
            ("GET", "", _none),
            ("POST", "", _memory),
            ("POST", "/search", _memory_search),
            ("GET", "/{memory_id}", _none),
            ("PATCH", "/{memory_id}", _memory),
            ("DELETE", "/{memory_id}", _none),
        )
    },
}


def scoped_routes() -> set[str]:
    return tenant_scoped_routes(create_app(), PUBLIC_PARAMS)


def test_every_org_scoped_route_has_an_isolation_case() -> None:
    routes = scoped_routes()
    assert "GET /orgs/{org_id}/agents" in routes  # the enumeration itself works
    missing = routes - set(CASES)
    assert not missing, f"add tenant-isolation cases for: {sorted(missing)}"


def _insert_profile_version(database_url: str, agent_id: str, org_id: str) -> None:
    # Versions are written by the generation job; a worker is not needed to test access.
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO agent_profile_versions "
            "(agent_id, org_id, version, system_prompt, profile) "
            "VALUES (%s, %s, 1, 'You are a test agent.', '{}')",
            (agent_id, org_id),
        )


@dataclass
class People:
    """The users of the module's worlds. Signing up (argon2) is what made each world slow to
    build; every test still gets organizations, an agent and data of its own, so a test that
    deletes or changes them leaves the next one untouched."""

    owner: UserCtx
    member: UserCtx
    invitee: UserCtx  # the org's pending invitation is addressed to them
    other_owner: UserCtx  # owns the organization that invites the owner
    outsider: UserCtx  # an OWNER of an organization of their own


@pytest.fixture(scope="module")
def people(live_server: Any) -> People:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        people = People(*(signup(client) for _ in range(5)))
        # An OWNER of their own org, so role checks cannot be what stops them.
        create_org(client, people.outsider, "Tenant B")
    return people


@pytest.fixture
def world(client: httpx.Client, live_server: Any, people: People) -> World:
    owner, member = people.owner, people.member
    org_id = create_org(client, owner, "Tenant A")["id"]
    add_member(client, owner, org_id, member)
    agent_id = create_agent(client, owner, org_id)["id"]
    w = World(client=client, owner=owner, member=member, org_id=org_id, agent_id=agent_id)
    # Before the uploads: generation waits for documents still processing (no worker here),
    # and once queued, asking again returns the same generation at once.
    r = client.post(f"/agents/{agent_id}/generate-profile", headers=owner.headers)
    assert r.status_code == 202, r.text
    w.ids["generation_id"] = r.json()["id"]
    for key, path in (
        ("agent_document_id", f"/agents/{agent_id}/documents"),
        ("org_document_id", f"/orgs/{org_id}/documents"),
    ):
        r = client.post(path, headers=owner.headers, **_upload(w))
        assert r.status_code == 202, r.text
        w.ids[key] = r.json()["id"]
    w.ids["org_invitation_id"] = invite(client, owner, org_id, people.invitee.email)["id"]
    other_org = create_org(client, people.other_owner, "Tenant C")["id"]
    w.ids["my_invitation_id"] = invite(client, people.other_owner, other_org, owner.email)["id"]
    _insert_profile_version(live_server.settings.database_url, agent_id, org_id)
    w.ids["version"] = "1"
    for key, path in (
        ("agent_memory_id", f"/orgs/{org_id}/agents/{agent_id}/memories"),
        ("org_memory_id", f"/orgs/{org_id}/memories"),
    ):
        r = client.post(path, headers=owner.headers, **_memory(w))
        assert r.status_code == 201, r.text
        w.ids[key] = r.json()["id"]
    return w


@pytest.fixture
def outsider(people: People) -> UserCtx:
    return people.outsider


@pytest.mark.parametrize("case", sorted(CASES))
def test_outsider_gets_404_and_owner_succeeds(
    case: str, world: World, outsider: UserCtx, client: httpx.Client
) -> None:
    method, template = case.split(" ", 1)
    path = world.path(template)
    kwargs = CASES[case](world)
    r = client.request(method, path, headers=outsider.headers, **kwargs)
    assert r.status_code == 404, f"{case} as outsider: {r.status_code} {r.text}"
    assert client.request(method, path, **kwargs).status_code == 401
    r = client.request(method, path, headers=world.owner.headers, **kwargs)
    assert r.status_code < 400, f"{case} as owner: {r.status_code} {r.text}"


# Platform-wide routes: not tenant-scoped but for platform administrators only. Everyone else,
# an org OWNER included, gets 404 as if they did not exist.
ADMIN_CASES: dict[str, dict[str, Any]] = {
    "GET /admin/orgs": {},
    "GET /admin/failures": {},
    "GET /admin/audit": {},
    "GET /admin/audit/export": {"params": {"format": "jsonl"}},
}


def test_every_admin_route_has_a_case() -> None:
    routes = {
        f"{method.upper()} {path}"
        for path, operations in create_app().openapi()["paths"].items()
        for method in operations
        if path.startswith("/admin")
    }
    assert "GET /admin/orgs" in routes
    assert routes == set(ADMIN_CASES), f"admin routes without a case: {routes - set(ADMIN_CASES)}"


@pytest.fixture(scope="module")
def admin_server(start_server: Any) -> tuple[Any, UserCtx]:
    """A server with a platform administrator (named in upper case among others in its
    settings), and that administrator signed up; one for the module's admin cases."""
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    server = start_server(admin_emails=f"someone@example.com, {admin_email.upper()}")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        admin = signup(client, email=admin_email)
    return server, admin


@pytest.mark.parametrize("case", sorted(ADMIN_CASES))
def test_admin_routes_answer_404_to_non_admins(
    case: str, world: World, outsider: UserCtx, admin_server: tuple[Any, UserCtx]
) -> None:
    server, admin = admin_server
    method, path = case.split(" ", 1)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for user in (world.owner, world.member, outsider):
            r = client.request(method, path, headers=user.headers, **ADMIN_CASES[case])
            assert r.status_code == 404, f"{case} as {user.email}: {r.status_code} {r.text}"
        assert client.request(method, path, **ADMIN_CASES[case]).status_code == 401
        r = client.request(method, path, headers=admin.headers, **ADMIN_CASES[case])
        assert r.status_code == 200, f"{case} as admin: {r.status_code} {r.text}"
