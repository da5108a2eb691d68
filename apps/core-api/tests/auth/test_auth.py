from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psycopg
from core_factories import signup


def test_signup_returns_token_that_opens_me(client: httpx.Client) -> None:
    r = client.post(
        "/auth/signup",
        json={"email": "Ada.Lovelace@Example.com", "password": "analytical engine", "name": "Ada"},
    )
    assert r.status_code == 201
    body = r.json()
    assert body["email"] == "ada.lovelace@example.com"
    assert "password" not in r.text and "password_hash" not in body
    me = client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ada.lovelace@example.com"
    assert me.json()["memberships"] == []


def test_password_is_stored_as_argon2id(client: httpx.Client, database_url: str) -> None:
    user = signup(client)
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        (stored,) = conn.execute(
            "SELECT password_hash FROM users WHERE id = %s", (user.id,)
        ).fetchone()  # type: ignore[misc]
    assert stored.startswith("$argon2id$")
    assert user.password not in stored


def test_duplicate_email_is_409_whatever_the_case(client: httpx.Client) -> None:
    user = signup(client)
    r = client.post(
        "/auth/signup", json={"email": user.email.upper(), "password": "another password"}
    )
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]


def test_malformed_signup_names_the_field(client: httpx.Client) -> None:
    r = client.post("/auth/signup", json={"email": "not-an-email", "password": "long enough"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "email"
    r = client.post("/auth/signup", json={"email": "short@example.com", "password": "short"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "password"
    r = client.post(
        "/auth/signup", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_login_and_me_memberships(client: httpx.Client) -> None:
    user = signup(client)
    r = client.post("/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200
    token = r.json()["access_token"]
    assert r.json()["token_type"] == "bearer" and r.json()["expires_in"] > 0
    org = client.post("/orgs", json={"name": "Mine"}, headers={"Authorization": f"Bearer {token}"})
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["memberships"] == [{"org_id": org.json()["id"], "org_name": "Mine", "role": "OWNER"}]


def test_unknown_email_and_wrong_password_get_the_same_401(client: httpx.Client) -> None:
    user = signup(client)
    wrong = client.post("/auth/login", json={"email": user.email, "password": "wrong password"})
    unknown = client.post(
        "/auth/login", json={"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_me_refuses_missing_forged_and_expired_tokens(client: httpx.Client) -> None:
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"Authorization": "Bearer garbage"}).status_code == 401
    user = signup(client)
    forged = jwt.encode(
        {"sub": user.id, "exp": datetime.now(UTC) + timedelta(hours=1), "typ": "access"},
        "not-the-secret",
        algorithm="HS256",
    )
    assert client.get("/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = jwt.encode(
        {"sub": user.id, "exp": datetime.now(UTC) - timedelta(seconds=5), "typ": "access"},
        "test-secret-" + "x" * 40,
        algorithm="HS256",
    )
    r = client.get("/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def _login(c: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    return c.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def test_failures_from_many_forged_addresses_cannot_lock_the_owner_out(start_server) -> None:  # type: ignore[no-untyped-def]
    """The attack of issue 17: wrong passwords for someone else's account from ever new
    (forged) addresses. They slow the account down for guessers, but its owner, signing in
    from an address the account is known at, gets in at once."""
    server = start_server(trusted_proxies="127.0.0.1", login_account_max_delay_seconds=60)
    home = "198.51.100.20"
    with httpx.Client(base_url=server.url) as c:
        owner = signup(c, email=None)
        # Signed in once from home: that address is now known to the account.
        assert _login(c, owner.email, owner.password, home).status_code == 200
        answers = [
            _login(c, owner.email, f"guess {i}", f"203.0.113.{i}").status_code for i in range(30)
        ]
        # Five free guesses, then the account makes every new address wait.
        assert answers[:5] == [401] * 5 and set(answers[5:]) <= {401, 429}
        assert answers.count(429) >= 20, answers
        assert _login(c, owner.email, owner.password, home).status_code == 200
        # Known from signing up too (a new account has only that address).
        fresh = c.post(
            "/auth/signup",
            json={"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "p" * 12},
            headers={"X-Forwarded-For": "198.51.100.21"},
        ).json()
        for i in range(8):
            _login(c, fresh["email"], "wrong", f"203.0.114.{i}")
        assert _login(c, fresh["email"], "wrong", "203.0.114.99").status_code == 429
        assert _login(c, fresh["email"], "p" * 12, "198.51.100.21").status_code == 200


def test_brute_force_from_one_address_is_locked_for_that_account(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(
        trusted_proxies="127.0.0.1",
        login_max_failures_per_pair=3,
        login_account_free_failures=100,
    )
    attacker = "203.0.113.50"
    with httpx.Client(base_url=server.url) as c:
        victim, other = signup(c), signup(c)
        for i in range(3):
            assert _login(c, victim.email, f"guess {i}", attacker).status_code == 401
        # Even the right password is refused from there now, with a hint of when to retry...
        locked = _login(c, victim.email, victim.password, attacker)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
        # ...while the account from elsewhere, and other accounts from there, are unaffected.
        assert _login(c, victim.email, victim.password, "198.51.100.30").status_code == 200
        assert _login(c, other.email, other.password, attacker).status_code == 200


def test_the_account_delay_doubles_and_its_owner_waits_it_out_elsewhere(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(
        trusted_proxies="127.0.0.1",
        login_account_free_failures=1,
        login_account_delay_seconds=1,
        login_account_max_delay_seconds=2,
    )
    with httpx.Client(base_url=server.url) as c:
        user = signup(c)
        assert _login(c, user.email, "wrong", "203.0.113.60").status_code == 401
        waits = []
        for i in range(3):
            assert _login(c, user.email, "wrong", f"203.0.113.{61 + i}").status_code == 401
            refused = _login(c, user.email, user.password, "192.0.2.1")
            assert refused.status_code == 429, refused.text
            waits.append(int(refused.headers["Retry-After"]))
            time.sleep(waits[-1] + 0.2)
        assert waits == [1, 2, 2]  # doubling, up to the maximum
        # Once the delay has passed, the right password from a new address gets in.
        assert _login(c, user.email, user.password, "192.0.2.1").status_code == 200


def test_repeated_failures_from_one_address_are_refused(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server(login_max_failures_per_address=4, trusted_proxies="127.0.0.1")
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    with httpx.Client(base_url=server.url) as c:
        victim = signup(c)
        for i in range(4):
            r = c.post(
                "/auth/login",
                json={"email": f"guess{i}-{uuid.uuid4().hex[:6]}@example.com", "password": "x"},
                headers=attacker,
            )
            assert r.status_code == 401
        r = c.post(
            "/auth/login",
            json={"email": victim.email, "password": victim.password},
            headers=attacker,
        )
        assert r.status_code == 429
        r = c.post(
            "/auth/login",
            json={"email": victim.email, "password": victim.password},
            headers={"X-Forwarded-For": "198.51.100.2"},
        )
        assert r.status_code == 200


def _fail_login(c: httpx.Client, forwarded_for: str) -> int:
    return c.post(
        "/auth/login",
        json={"email": f"guess-{uuid.uuid4().hex[:8]}@example.com", "password": "x"},
        headers={"X-Forwarded-For": forwarded_for},
    ).status_code


def test_behind_a_trusted_proxy_the_address_it_saw_counts_not_what_the_client_wrote(
    start_server,  # type: ignore[no-untyped-def]
) -> None:
    server = start_server(login_max_failures_per_address=3, trusted_proxies="127.0.0.1")
    with httpx.Client(base_url=server.url) as c:
        victim = signup(c)
        # The client writes a new X-Forwarded-For each time; the proxy appends the address
        # it really saw (203.0.113.9), which is the one that counts.
        for i in range(3):
            assert _fail_login(c, f"10.9.{i}.1, 203.0.113.9") == 401
        r = c.post(
            "/auth/login",
            json={"email": victim.email, "password": victim.password},
            headers={"X-Forwarded-For": "10.9.200.1, 203.0.113.9"},
        )
        assert r.status_code == 429, r.text
        r = c.post(
            "/auth/login",
            json={"email": victim.email, "password": victim.password},
            headers={"X-Forwarded-For": "203.0.113.10"},
        )
        assert r.status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(start_server, database_url) -> None:  # type: ignore[no-untyped-def]
    server = start_server(login_max_failures_per_address=3, login_lockout_seconds=3)
    with httpx.Client(base_url=server.url) as c:
        victim = signup(c)
        # Other tests' failures from loopback share this counter: start it from zero.
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("DELETE FROM login_throttle WHERE key = 'address:127.0.0.1'")
        for i in range(3):
            _fail_login(c, f"198.18.{i}.1")
        # Every attempt came from this connection's address, whatever the header said.
        r = c.post(
            "/auth/login",
            json={"email": victim.email, "password": victim.password},
            headers={"X-Forwarded-For": "198.18.250.1"},
        )
        assert r.status_code == 429, r.text
        # Let the loopback address's lock run out before other tests sign in.
        deadline = time.monotonic() + 10
        while (
            c.post(
                "/auth/login", json={"email": victim.email, "password": victim.password}
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "the address lock did not run out"
            time.sleep(0.2)


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    import pytest
    from pydantic import ValidationError

    from phi_core_api.settings import CoreApiSettings

    assert CoreApiSettings(trusted_proxies="10.0.0.5, 192.168.0.0/24").trusted_proxy_list == [
        "10.0.0.5",
        "192.168.0.0/24",
    ]
    assert CoreApiSettings().trusted_proxy_list == []
    with pytest.raises(ValidationError, match="proxy.internal"):
        CoreApiSettings(trusted_proxies="10.0.0.5,proxy.internal")
