"""HTTP helpers for profile tests."""

from __future__ import annotations

import time
from typing import Any

import httpx
from core_factories import UserCtx


def generate(client: httpx.Client, user: UserCtx, agent_id: str) -> dict[str, Any]:
    r = client.post(f"/agents/{agent_id}/generate-profile", headers=user.headers)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def wait_generation(
    client: httpx.Client, user: UserCtx, generation: dict[str, Any], timeout: float = 90
) -> dict[str, Any]:
    """Poll a profile generation until it SUCCEEDED or FAILED."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(
            f"/agents/{generation['agent_id']}/profile-generations/{generation['id']}",
            headers=user.headers,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in ("SUCCEEDED", "FAILED"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"generation still {body['status']} after {timeout}s")
        time.sleep(0.2)
