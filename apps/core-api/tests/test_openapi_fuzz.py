"""Property-based run of the whole OpenAPI document: no generated request may cause a 5xx."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
import schemathesis
from core_factories import create_agent, create_org, signup
from hypothesis import HealthCheck, settings


@pytest.fixture(scope="module")
def fuzz_target(start_server):  # type: ignore[no-untyped-def]
    # Its own server, trusting X-Forwarded-For from loopback so that the flood of failed
    # sign-ins it sends is counted against a made-up address and cannot lock out the others.
    server = start_server(trusted_proxies="127.0.0.1")
    with httpx.Client(base_url=server.url) as c:
        user = signup(c)
        org = create_org(c, user)
        create_agent(c, user, org["id"])
    headers = {
        "Authorization": f"Bearer {user.token}",
        "X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250 + 1}",
    }
    return server, headers


@pytest.fixture(scope="module")
def api_schema(fuzz_target):  # type: ignore[no-untyped-def]
    server, _ = fuzz_target
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("PHI_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    server, headers = fuzz_target
    response = case.call(base_url=server.url, headers=headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
