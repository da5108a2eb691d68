"""HTTP helpers for document tests."""

from __future__ import annotations

import time
from typing import Any

import httpx
from core_factories import UserCtx


def upload(
    client: httpx.Client,
    user: UserCtx,
    data: bytes,
    name: str,
    *,
    agent_id: str | None = None,
    org_id: str | None = None,
    source_type: str = "SOP",
) -> httpx.Response:
    path = f"/agents/{agent_id}/documents" if agent_id else f"/orgs/{org_id}/documents"
    return client.post(
        path,
        files={"file": (name, data, "application/octet-stream")},
        data={"source_type": source_type},
        headers=user.headers,
    )


def wait_done(
    client: httpx.Client, user: UserCtx, doc: dict[str, Any], timeout: float = 90
) -> dict[str, Any]:
    """Poll a document until it is READY or FAILED."""
    scope = f"/agents/{doc['agent_id']}" if doc["agent_id"] else f"/orgs/{doc['org_id']}"
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"{scope}/documents/{doc['id']}", headers=user.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in ("READY", "FAILED"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"document still {body['status']} after {timeout}s")
        time.sleep(0.2)


def search(
    client: httpx.Client, user: UserCtx, agent_id: str, query: str, **extra: Any
) -> httpx.Response:
    return client.post(
        f"/agents/{agent_id}/search-docs", json={"query": query, **extra}, headers=user.headers
    )
