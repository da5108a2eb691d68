"""`server.mjs` (the production build behind Node's HTTP server) tells whoever started it when
it cannot serve."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

WEB = Path(__file__).resolve().parents[1]


def test_a_taken_port_ends_the_server_with_an_error_naming_it() -> None:
    if not (WEB / ".next" / "BUILD_ID").exists():
        pytest.fail("the web app is not built: run `make web-build` (make test does)")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            ["node", str(WEB / "server.mjs"), "--port", str(port), "--hostname", "127.0.0.1"],
            env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in done.stderr
    assert "PHI_WEB_PORT" in done.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_redirects_stay_on_the_host_the_browser_used(host: str) -> None:
    # Next.js rewrote 127.0.0.1 to localhost in middleware redirects: a page opened on
    # http://127.0.0.1:3000 was sent to localhost (another origin: its client-side fetches
    # then failed CORS, and the session cookie of 127.0.0.1 did not go along).
    from web_server import web_server

    with web_server({}) as server:
        base = f"http://{host}:{server.port}"
        for path, target in [("/dashboard", "/login?next=%2Fdashboard"), ("/", "/login")]:
            r = httpx.get(base + path, headers={"RSC": "1"} if path == "/" else {})
            assert r.status_code == 307, r.text
            assert r.headers["location"] in (target, base + target), r.headers["location"]
        icon = httpx.get(base + "/favicon.ico")
        assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
