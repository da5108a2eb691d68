"""Failed sign-ins through the web server count against the browser's address, not the web
server's: core-api (trusting the web server, PHI_TRUSTED_PROXIES) and the real Next.js server
(`server.mjs`, the production build), with browsers on different loopback addresses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from core_factories import signup
from web_server import web_server

from phi_core_api.main import create_app
from phi_core_api.settings import CoreApiSettings
from phi_service.testing import LiveServer

WEB = Path(__file__).resolve().parents[1]
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings = CoreApiSettings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("phi-web-address"),
        jwt_secret="web-address-secret-" + "x" * 40,
        # The web server reaches core-api from loopback, as in `make dev`.
        trusted_proxies="127.0.0.1",
        login_max_failures_per_address=MAX_FAILURES,
    )
    core = LiveServer(create_app(settings), settings).start()
    try:
        with web_server({"PHI_CORE_API_URL": core.url}) as web:
            yield web.url, core.url
    finally:
        core.stop()


def _browser(web: str, address: str) -> httpx.Client:
    """A client connecting from ``address`` (any 127.x.y.z is this machine)."""
    return httpx.Client(
        base_url=web,
        transport=httpx.HTTPTransport(local_address=address),
        headers={"Origin": web},
        timeout=30,
    )


def test_two_browsers_do_not_share_the_sign_in_limit_and_a_forged_header_does_not_help(
    stack: tuple[str, str],
) -> None:
    web, core_url = stack
    # Addresses of their own: the counters stay in the test database for the whole run.
    network = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}"
    attacker, neighbour = f"{network}.7", f"{network}.8"
    with httpx.Client(base_url=core_url) as core:
        user = signup(core)
    with _browser(web, attacker) as a, _browser(web, neighbour) as b:
        good = {"email": user.email, "password": user.password}
        for i in range(MAX_FAILURES):
            r = a.post(
                "/api/session/login",
                json={"email": f"guess{i}-{random.getrandbits(32):x}@example.com", "password": "x"},
                # What the attacker writes is kept but not believed: the web server appends
                # the address it saw, and core-api counts that one.
                headers={"X-Forwarded-For": f"198.18.{i}.1"},
            )
            assert r.status_code == 401, r.text
        r = a.post("/api/session/login", json=good, headers={"X-Forwarded-For": "198.18.99.1"})
        assert r.status_code == 429, r.text
        # Another browser on the same web server is not locked out with the attacker.
        r = b.post("/api/session/login", json=good)
        assert r.status_code == 200, r.text
