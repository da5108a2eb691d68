"""Property-based run of the orchestrator's OpenAPI document: no generated request may cause
a 5xx, whether it carries a user's token or a local-agent key."""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from orch_factories import create_key, make_tenant


@pytest.fixture(scope="module")
def fuzz_target(orchestrator, database_url):  # type: ignore[no-untyped-def]
    tenant = make_tenant(database_url)
    with httpx.Client(base_url=orchestrator.url) as c:
        key = create_key(c, tenant)
    return orchestrator, {
        "user": {"Authorization": f"Bearer {tenant.owner.token}"},
        "key": {"Authorization": f"Bearer {key}"},
    }


@pytest.fixture(scope="module")
def api_schema(fuzz_target):  # type: ignore[no-untyped-def]
    server, _ = fuzz_target
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


FUZZ = settings(
    max_examples=int(os.environ.get("PHI_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def _check(case, fuzz_target, who: str) -> None:  # type: ignore[no-untyped-def]
    server, headers = fuzz_target
    response = case.call(base_url=server.url, headers=headers[who], timeout=60)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )


@schema.parametrize()
@FUZZ
def test_no_server_errors_with_a_user_token(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    _check(case, fuzz_target, "user")


@schema.parametrize()
@FUZZ
def test_no_server_errors_with_a_local_agent_key(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    _check(case, fuzz_target, "key")
