"""Sign-up: the 409 for a taken email is limited per client address, and look-alike
spellings of an address are the same account or refused (auth/emails.py)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from core_factories import signup


def _address() -> dict[str, str]:
    # Addresses of their own: the counters stay in the test database for the whole run.
    return {"X-Forwarded-For": f"198.18.{random.randint(0, 255)}.{random.randint(1, 254)}"}


def test_sign_ups_for_taken_emails_are_limited_per_address(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(signup_max_existing_per_address=3, trusted_proxies="127.0.0.1")
    prober, neighbour = _address(), _address()
    with httpx.Client(base_url=server.url) as c:
        taken = [signup(c) for _ in range(4)]
        for user in taken[:3]:
            r = c.post(
                "/auth/signup",
                json={"email": user.email, "password": "another password"},
                headers=prober,
            )
            assert r.status_code == 409, r.text
        # Past the limit every sign-up from that address waits, taken email or not, so the
        # answer no longer says which emails have accounts.
        fresh = f"new-{uuid.uuid4().hex[:8]}@example.com"
        for email in (taken[3].email, fresh):
            r = c.post(
                "/auth/signup",
                json={"email": email, "password": "another password"},
                headers=prober,
            )
            assert r.status_code == 429, r.text
            assert int(r.headers["Retry-After"]) > 0
            assert "sign-ups for existing accounts" in r.json()["detail"]
        # Other addresses are not held back.
        r = c.post(
            "/auth/signup", json={"email": fresh, "password": "long enough"}, headers=neighbour
        )
        assert r.status_code == 201, r.text
        r = c.post(
            "/auth/signup",
            json={"email": taken[3].email, "password": "another password"},
            headers=neighbour,
        )
        assert r.status_code == 409


def _stored_emails(database_url: str, like: str) -> list[str]:
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT email FROM users WHERE email LIKE %s", (like,)).fetchall()
    return [r[0] for r in rows]


def test_look_alike_spellings_are_the_same_account(client: httpx.Client, database_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    user = signup(client, email=f"alice-{tag}@example.com")
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in f"alice-{tag}")  # ａｌｉｃｅ-…
    for spelling in (
        f"{fullwidth}@example.com",
        f"ALICE-{tag}@ＥＸＡＭＰＬＥ．ｃｏｍ",
    ):
        r = client.post("/auth/signup", json={"email": spelling, "password": "another one"})
        assert r.status_code == 409, (spelling, r.text)
        r = client.post("/auth/login", json={"email": spelling, "password": user.password})
        assert r.status_code == 200, (spelling, r.text)
    assert _stored_emails(database_url, f"%{tag}%") == [f"alice-{tag}@example.com"]


@pytest.mark.parametrize(
    ("email", "words"),
    [
        # Cyrillic а in the local part
        ("\u0430lice-{tag}@example.com", "CYRILLIC SMALL LETTER A"),
        # Cyrillic а inside a Latin domain label, as Unicode and as its IDNA form
        ("alice-{tag}@ex\u0430mple.com", "mixes scripts"),
        ("alice-{tag}@xn--exmple-4nf.com", "mixes scripts"),
    ],
)
def test_look_alike_addresses_are_refused_naming_why(
    client: httpx.Client, database_url: str, email: str, words: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    r = client.post(
        "/auth/signup", json={"email": email.format(tag=tag), "password": "long enough"}
    )
    assert r.status_code == 422, r.text
    detail: list[dict[str, Any]] = r.json()["detail"]
    assert detail[0]["loc"][-1] == "email" and words in detail[0]["msg"], detail
    assert _stored_emails(database_url, f"%{tag}%") == []


def test_international_domains_are_stored_in_one_form(
    client: httpx.Client, database_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    user = signup(client, email=f"boris-{tag}@пример.рф")
    assert _stored_emails(database_url, f"%{tag}%") == [f"boris-{tag}@xn--e1afmkfd.xn--p1ai"]
    r = client.post(
        "/auth/login",
        json={"email": f"boris-{tag}@xn--e1afmkfd.xn--p1ai", "password": user.password},
    )
    assert r.status_code == 200, r.text
    # A domain in one script, or Japanese (Han with kana), is not a look-alike.
    assert signup(client, email=f"k-{tag}@日本語ドメイン.jp").token
