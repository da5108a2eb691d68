"""Creates sent twice with one Idempotency-Key create once (a double click, a retry after a
lost answer); the same key with another request is refused."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
from core_factories import UserCtx, catalog_role, create_agent, create_org, invite, signup


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
    assert (
        f"Idempotency-Key ('{key}') was already used for a different request"
        in (other.json()["detail"])
    )
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


def _upload(
    client: httpx.Client, user: UserCtx, path: str, data: bytes, name: str, key: str
) -> httpx.Response:
    return client.post(
        path,
        files={"file": (name, data, "text/plain")},
        data={"source_type": "SOP"},
        headers={**user.headers, "Idempotency-Key": key},
    )


def _stored_files(live_server: Any, org_id: str) -> list[Path]:
    folder = Path(live_server.settings.data_dir) / "files" / org_id
    return sorted(folder.iterdir()) if folder.exists() else []


def test_an_upload_sent_twice_with_one_key_is_stored_once_and_answered_the_same(
    client: httpx.Client, live_server: Any
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    path = f"/agents/{agent['id']}/documents"
    data = b"Pallets are counted every night.\n" * 2000  # past one read chunk of the form
    key = str(uuid.uuid4())
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def send() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            start.wait()
            answers.append(_upload(c, owner, path, data, "counts.txt", key))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [202, 202], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    # A retry later (the answer was lost): still the first answer, nothing stored again.
    again = _upload(client, owner, path, data, "counts.txt", key)
    assert again.status_code == 202, again.text
    assert again.json() == answers[0].json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = client.get(path, headers=owner.headers).json()
    assert [d["id"] for d in listed] == [again.json()["id"]]
    assert len(_stored_files(live_server, org["id"])) == 1
    # The same key with another file, or the same file under another name: refused, naming
    # the key; nothing stored.
    for other, name in ((data + b"more", "counts.txt"), (data, "renamed.txt")):
        r = _upload(client, owner, path, other, name, key)
        assert r.status_code == 422, r.text
        assert key in r.json()["detail"] and "different request" in r.json()["detail"]
    assert len(_stored_files(live_server, org["id"])) == 1
    assert len(client.get(path, headers=owner.headers).json()) == 1


def test_an_org_wide_upload_refused_once_leaves_its_key_free(
    client: httpx.Client, live_server: Any
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    path = f"/orgs/{org['id']}/documents"
    key = str(uuid.uuid4())
    assert _upload(client, owner, path, b"", "empty.txt", key).status_code == 422
    first = _upload(client, owner, path, b"Dock 4 closes at 22:00.", "docks.txt", key)
    assert first.status_code == 202, first.text
    again = _upload(client, owner, path, b"Dock 4 closes at 22:00.", "docks.txt", key)
    assert again.status_code == 202 and again.json() == first.json()
    assert len(_stored_files(live_server, org["id"])) == 1


def test_accepting_an_invitation_twice_with_one_key_answers_the_same(
    client: httpx.Client,
) -> None:
    owner, invitee = signup(client), signup(client)
    org = create_org(client, owner, name="Accept Twice Ltd")
    invitation = invite(client, owner, org["id"], invitee.email, "ADMIN")
    path = f"/me/invitations/{invitation['id']}/accept"
    headers = {**invitee.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = client.post(path, headers=headers)
    assert first.status_code == 200, first.text
    # The answer was lost and the browser retries: the same answer, not "not found".
    again = client.post(path, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json() and again.json()["my_role"] == "ADMIN"
    assert again.headers["Idempotent-Replayed"] == "true"
    # The same key to accept another invitation: refused, naming the key; not joined.
    elsewhere = create_org(client, owner, name="Elsewhere Ltd")
    second = invite(client, owner, elsewhere["id"], invitee.email)
    other = client.post(f"/me/invitations/{second['id']}/accept", headers=headers)
    assert other.status_code == 422, other.text
    assert headers["Idempotency-Key"] in other.json()["detail"]
    assert [i["id"] for i in client.get("/me/invitations", headers=invitee.headers).json()] == [
        second["id"]
    ]
    members = client.get(f"/orgs/{org['id']}/members", headers=owner.headers).json()
    assert sorted(m["email"] for m in members) == sorted([owner.email, invitee.email])
