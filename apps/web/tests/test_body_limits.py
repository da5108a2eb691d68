"""The web server (`server.mjs`, the production build) caps every request body and the time
a request may take to arrive, before Next.js reads anything: 400 MB posted to the sign-in
route used to grow the process by 1.1 GB, and sent chunked it got no answer at all.

core-api runs behind it (a real one, on the test database) with a larger upload limit than
the web server's, so a 413 for an upload comes from the web server."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web_server import WebServer, web_server

from phi_core_api.main import create_app
from phi_core_api.settings import CoreApiSettings
from phi_service.testing import LiveServer

MB = 1024 * 1024
UPLOAD_LIMIT = 3 * MB  # PHI_MAX_UPLOAD_BYTES here; the web server allows 1 MB more for the form
TIMEOUT_SECONDS = 2
# What an attack may add to the server's peak memory (the old server: 1.1 GB).
RSS_BUDGET_KB = 40 * 1024


def peak_rss_kb(web: WebServer) -> int:
    """VmHWM: the most memory the web server's process has held since it started."""
    for line in Path(f"/proc/{web.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def web(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    settings = CoreApiSettings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("phi-web-limits"),
        jwt_secret="web-limits-secret-" + "x" * 40,
        max_upload_bytes=4 * UPLOAD_LIMIT,
    )
    core = LiveServer(create_app(settings), settings).start()
    env = {
        "PHI_CORE_API_URL": core.url,
        "PHI_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "PHI_MAX_REQUEST_BYTES": str(MB),
        "PHI_WEB_REQUEST_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    try:
        with web_server(env) as server:
            # Load the routes the tests use, so that their first load is not counted.
            for path in ("/api/session/login", "/api/session/signup", "/api/core/orgs"):
                r = httpx.post(
                    server.url + path, json={"email": "a@b.c"}, headers={"Origin": server.url}
                )
                assert r.status_code in (401, 422), r.text
            yield server
    finally:
        core.stop()


def _head(web: WebServer, path: str, extra: str = "", origin: str | None = None) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\n"
        f"Origin: {origin or web.url}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed without an answer: {data!r}")
        data += chunk
    return int(data.split(b" ", 2)[1])


def _send_chunked(sock: socket.socket, total_mb: int, sent: list[int]) -> None:
    """Send ``total_mb`` of body in 1 MB chunks until the server stops reading."""
    frame = b"%x\r\n" % MB + b"x" * MB + b"\r\n"
    try:
        for _ in range(total_mb):
            sock.sendall(frame)
            sent[0] += MB
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection: what is wanted


def test_a_declared_400_mb_body_gets_413_at_once(web: WebServer) -> None:
    peak = peak_rss_kb(web)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", web.port), timeout=30) as s:
        s.sendall(_head(web, "/api/session/login", f"Content-Length: {400 * MB}\r\n"))
        s.sendall(b'{"email": "' + b"x" * 65536)
        assert _status(s) == 413
    assert time.monotonic() - started < 1
    assert peak_rss_kb(web) - peak < RSS_BUDGET_KB


@pytest.mark.parametrize("path", ["/api/session/login", "/api/session/signup", "/api/core/orgs"])
def test_a_chunked_400_mb_body_is_cut_at_the_cap_with_413(web: WebServer, path: str) -> None:
    peak = peak_rss_kb(web)
    sent = [0]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", web.port), timeout=30) as s:
        s.sendall(_head(web, path, "Transfer-Encoding: chunked\r\n"))
        sender = threading.Thread(target=_send_chunked, args=(s, 400, sent), daemon=True)
        sender.start()
        status = _status(s)
        seconds = time.monotonic() - started
        sender.join(30)
    assert status == 413
    assert seconds < 1, seconds
    assert sent[0] < 100 * MB, f"{sent[0] // MB} MB were taken in before the server stopped"
    assert peak_rss_kb(web) - peak < RSS_BUDGET_KB


def test_a_body_answered_before_it_was_read_is_not_drained_past_the_cap(web: WebServer) -> None:
    """A foreign Origin gets 403 before the body is read; Node would then read and drop the
    rest of it to keep the connection: not 400 MB of it."""
    sent = [0]
    with socket.create_connection(("127.0.0.1", web.port), timeout=30) as s:
        s.sendall(
            _head(web, "/api/session/login", "Transfer-Encoding: chunked\r\n", "http://evil.test")
        )
        sender = threading.Thread(target=_send_chunked, args=(s, 400, sent), daemon=True)
        sender.start()
        assert _status(s) == 403
        sender.join(30)
    assert not sender.is_alive()
    assert sent[0] < 100 * MB, f"{sent[0] // MB} MB were read and dropped"


def _form(size: int) -> tuple[bytes, str]:
    """A multipart upload of a ``size``-byte text file: its bytes and Content-Type."""
    request = httpx.Request(
        "POST", "http://x", files={"file": ("big.txt", b"x" * size, "text/plain")}
    )
    return request.read(), request.headers["Content-Type"]


def test_uploads_have_the_upload_limit_instead(web: WebServer) -> None:
    path = f"/api/core/agents/{uuid.uuid4()}/documents"
    with httpx.Client(base_url=web.url, headers={"Origin": web.url}, timeout=30) as c:
        # Over the general 1 MB cap but within the upload limit: passed on to core-api,
        # which wants a signed-in user.
        body, kind = _form(2 * MB)
        headers = {"Content-Type": kind}
        assert c.post(path, content=body, headers=headers).status_code == 401
        assert c.post(path, content=iter([body]), headers=headers).status_code == 401  # chunked
        # Over the upload limit plus the form's allowance: refused here.
        big, kind = _form(UPLOAD_LIMIT + 2 * MB)
        headers = {"Content-Type": kind}
        assert c.post(path, content=big, headers=headers).status_code == 413
        assert c.post(path, content=iter([big]), headers=headers).status_code == 413
        # Other routes keep the 1 MB cap.
        r = c.post("/api/core/orgs", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "1 MB" in r.json()["detail"]


def test_a_request_still_arriving_after_the_time_limit_gets_408(web: WebServer) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", web.port), timeout=30) as s:
        s.sendall(_head(web, "/api/session/login", "Content-Length: 100\r\n") + b'{"email"')
        assert _status(s) == 408
    assert TIMEOUT_SECONDS <= time.monotonic() - started < TIMEOUT_SECONDS + 5


@pytest.mark.parametrize(
    "path",
    ["/api/core/metrics", "/api/core/ready", "/api/orchestrator/health", "/api/core/Metrics"],
)
def test_the_proxy_does_not_reach_the_services_operator_endpoints(
    web: WebServer, path: str
) -> None:
    r = httpx.get(web.url + path)
    assert r.status_code == 404 and "phi_http_requests_total" not in r.text
