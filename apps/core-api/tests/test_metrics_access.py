"""Who can read /metrics: anyone who reaches the port (the default), only holders of the
metrics token (PHI_METRICS_TOKEN), or only whoever reaches a separate address
(PHI_METRICS_HOST/PHI_METRICS_PORT), where the service's own port has no /metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from phi_platform.embedded_pg import free_port

TOKEN = "metrics-" + "k" * 32


def test_metrics_are_open_by_default(live_server: Any) -> None:
    r = httpx.get(f"{live_server.url}/metrics")
    assert r.status_code == 200 and "phi_http_requests_total" in r.text


def test_the_metrics_token_is_required_when_set(start_server: Callable[..., Any]) -> None:
    server = start_server(metrics_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.get(f"{server.url}/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert "phi_" not in r.text and r.headers["WWW-Authenticate"] == "Bearer"
    r = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "phi_http_requests_total" in r.text
    # Health and readiness stay open for load balancers.
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert httpx.get(f"{server.url}/ready").status_code == 200


def test_metrics_on_an_address_of_their_own(start_server: Callable[..., Any]) -> None:
    port = free_port()
    server = start_server(metrics_host="127.0.0.1", metrics_port=port, metrics_token=TOKEN)
    assert httpx.get(f"{server.url}/metrics").status_code == 404
    assert httpx.get(f"{server.url}/health").status_code == 200
    page = f"http://127.0.0.1:{port}/metrics"
    assert httpx.get(page).status_code == 401
    r = httpx.get(page, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "phi_http_requests_total" in r.text
    # The metrics page serves nothing else.
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 404
