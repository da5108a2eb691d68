"""The web app's real server for the tests: `server.mjs` over the production build."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from phi_platform.embedded_pg import free_port

WEB = Path(__file__).resolve().parents[1]


@dataclass
class WebServer:
    url: str
    port: int
    pid: int


@contextmanager
def web_server(env: Mapping[str, str]) -> Iterator[WebServer]:
    """Start `node server.mjs` on a free loopback port with ``env`` added to this process's
    environment; stopped on leaving."""
    if not (WEB / ".next" / "BUILD_ID").exists():
        pytest.fail("the web app is not built: run `make web-build` (make test does)")
    port = free_port()
    proc = subprocess.Popen(
        ["node", str(WEB / "server.mjs"), "--port", str(port), "--hostname", "127.0.0.1"],
        env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(url + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the web server did not start"
            time.sleep(0.2)
        yield WebServer(url, port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
