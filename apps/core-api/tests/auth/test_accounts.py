"""A deleted account's tokens open nothing, and passwords compare in their NFKC form."""

from __future__ import annotations

import re
import uuid

import httpx
import psycopg
import pytest
from core_factories import create_agent, create_org, signup

from phi_core_api.main import create_app


def _authenticated_operations() -> list[tuple[str, str]]:
    """Every operation of the core API that asks for a bearer token."""
    found = []
    for path, operations in create_app().openapi()["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                found.append((method.upper(), path))
    return sorted(found)


OPERATIONS = _authenticated_operations()


def test_the_enumeration_sees_the_authenticated_routes() -> None:
    assert ("GET", "/orgs") in OPERATIONS and ("POST", "/orgs") in OPERATIONS
    assert ("GET", "/me") in OPERATIONS and len(OPERATIONS) > 20


@pytest.fixture(scope="module")
def deleted_account(live_server, database_url):  # type: ignore[no-untyped-def]
    """A token of an account deleted after signing in, with ids of things it owned."""
    with httpx.Client(base_url=live_server.url) as c:
        user = signup(c)
        org = create_org(c, user)
        agent = create_agent(c, user, org["id"])
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (user.id,))
    return user, {"org_id": org["id"], "agent_id": agent["id"]}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_a_deleted_accounts_token_is_refused_on_every_route(
    client: httpx.Client,
    deleted_account,
    method: str,
    path: str,  # type: ignore[no-untyped-def]
) -> None:
    user, ids = deleted_account
    url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)
    r = client.request(method, url, headers=user.headers, json={})
    assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text}"
    assert "no longer exists" in r.json()["detail"]


@pytest.mark.parametrize(
    ("typed_at_signup", "typed_at_login"),
    [
        ("Cafe\u0301 au lait 42", "Caf\u00e9 au lait 42"),  # decomposed vs composed accent
        ("\uff30\uff41\uff53\uff53\uff17\uff17\uff17\uff17", "Pass7777"),  # full-width vs ASCII
        ("of\ufb01ce hours!", "office hours!"),  # the "fi" ligature
    ],
)
def test_passwords_compare_in_nfkc_form(
    client: httpx.Client, typed_at_signup: str, typed_at_login: str
) -> None:
    user = signup(client, password=typed_at_signup)
    r = client.post("/auth/login", json={"email": user.email, "password": typed_at_login})
    assert r.status_code == 200, r.text
    wrong = client.post("/auth/login", json={"email": user.email, "password": typed_at_login + "x"})
    assert wrong.status_code == 401


def test_accounts_hashed_before_normalisation_still_sign_in(
    client: httpx.Client, database_url: str
) -> None:
    from argon2 import PasswordHasher

    raw = "Cafe\u0301 au lait 42"
    user = signup(client, password="placeholder-pass")
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s",
            (PasswordHasher().hash(raw), user.id),
        )
    r = client.post("/auth/login", json={"email": user.email, "password": raw})
    assert r.status_code == 200, r.text
