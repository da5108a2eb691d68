"""Creates sent twice with one Idempotency-Key create once (a double click, a retry after a
lost answer); the same key with another request is refused."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
from core_factories import UserCtx, catalog_role, create_org, signup


def _post(
    client: httpx.Client, user: UserCtx, path: str, body: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = dict(user.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers)


def _org_names(client: httpx.Client, user: UserCtx) -> list[str]:
    return [o["name"] for o in client.get("/orgs", headers=user.headers).json()]


def test_two_creates_at_once_with_one_key_make_one_organization(
    client: httpx.Client, live_server: Any
) -> None:
    user = signup(client)
    key = str(uuid.uuid4())
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def send() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            start.wait()
            answers.append(_post(c, user, "/orgs", {"name": "Double Click Ltd"}, key))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    assert _org_names(client, user) == ["Double Click Ltd"]
    # Later, the same key and body: still the first answer, still one organization.
    again = _post(client, user, "/orgs", {"name": "Double Click Ltd"}, key)
    assert again.status_code == 201 and again.json() == answers[0].json()
    assert _org_names(client, user) == ["Double Click Ltd"]


def test_same_key_with_another_body_or_path_is_refused(client: httpx.Client) -> None:
    user = signup(client)
    key = "form-" + uuid.uuid4().hex
    assert _post(client, user, "/orgs", {"name": "First"}, key).status_code == 201
    other = _post(client, user, "/orgs", {"name": "Second"}, key)
    assert other.status_code == 422
    assert "Idempotency-Key was already used for a different request" in other.json()["detail"]
    org = client.get("/orgs", headers=user.headers).json()[0]
    invited = _post(client, user, f"/orgs/{org['id']}/invitations", {"email": "x@example.com"}, key)
    assert invited.status_code == 422
    assert _org_names(client, user) == ["First"]


def test_keys_belong_to_their_account(client: httpx.Client) -> None:
    alice, bob = signup(client), signup(client)
    key = str(uuid.uuid4())
    first = _post(client, alice, "/orgs", {"name": "Alice's"}, key)
    # Bob's request with Alice's key is his own: no replay of her answer.
    second = _post(client, bob, "/orgs", {"name": "Alice's"}, key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_a_failed_create_leaves_the_key_free_and_bad_keys_are_named(
    client: httpx.Client,
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    role = catalog_role(client)
    path = f"/orgs/{org['id']}/agents"
    key = str(uuid.uuid4())
    bad = {"industry_id": role["industry_id"], "role_template_id": str(uuid.uuid4()), "name": "A"}
    assert _post(client, owner, path, bad, key).status_code == 422
    good = {"industry_id": role["industry_id"], "role_template_id": role["id"], "name": "A"}
    first = _post(client, owner, path, good, key)
    assert first.status_code == 201, first.text
    assert _post(client, owner, path, good, key).json()["id"] == first.json()["id"]
    agents = client.get(path, headers=owner.headers).json()
    assert [a["name"] for a in agents] == ["A"]
    for wrong in ("has space", "x" * 256, ""):
        r = _post(client, owner, "/orgs", {"name": "N"}, wrong)
        assert r.status_code == 422 and "Idempotency-Key must be" in r.json()["detail"], wrong
    # Without a key nothing changes: two creates make two.
    assert _post(client, owner, "/orgs", {"name": "Twice"}, None).status_code == 201
    assert _post(client, owner, "/orgs", {"name": "Twice"}, None).status_code == 201
    assert _org_names(client, owner).count("Twice") == 2
