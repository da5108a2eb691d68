"""A worker's health page. /ready tells the truth about its database: a real worker process
reaches the test database through a TCP relay the test can cut (the server refusing
connections) or stall (packets that go nowhere, as behind a dead network link); /ready
answers 503 within its 3 s check either way, and 200 again once the database is back.
/metrics needs the metrics token when one is set."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from orch_factories import worker_env

from phi_platform.embedded_pg import free_port
from phi_service.testing import WorkerProcess


class Relay:
    """Forwards a loopback port to the database; ``mode`` says what it does with traffic."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "forward"  # or "refuse" (connections reset) or "stall" (nothing moves)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.2)
                if self.mode == "stall":
                    continue  # hold the bytes: the peer waits as on a dead link
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):  # closed by cut() meanwhile
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        """What a stopped server does: open connections reset, new ones refused."""
        self.mode = "refuse"
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def relay(database_url: str) -> Iterator[Relay]:
    parts = urlsplit(database_url)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield relay
    relay.close()


@pytest.fixture
def worker_through(
    relay: Relay, database_url: str, orch_settings: Callable[..., Any]
) -> Iterator[tuple[WorkerProcess, str]]:
    parts = urlsplit(database_url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{relay.port}"
    relayed = urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) > 1 else host))
    port = free_port()
    worker = WorkerProcess(
        "phi_orchestrator.worker",
        worker_env(orch_settings(database_url=relayed), worker_metrics_port=port),
    ).wait_ready()
    yield worker, f"http://127.0.0.1:{port}"
    worker.kill()


def _ready(url: str) -> tuple[int, float]:
    started = time.monotonic()
    r = httpx.get(f"{url}/ready", timeout=30)
    return r.status_code, time.monotonic() - started


def _until(url: str, status: int, within: float) -> list[tuple[int, float]]:
    seen = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seen.append(_ready(url))
        if seen[-1][0] == status:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"/ready never answered {status}: {seen}")


@pytest.mark.parametrize("outage", ["refused", "stalled"])
def test_worker_ready_is_503_while_its_database_is_unreachable(
    relay: Relay, worker_through: tuple[WorkerProcess, str], outage: str
) -> None:
    worker, url = worker_through
    assert _ready(url)[0] == 200
    if outage == "refused":
        relay.cut()
    else:
        relay.mode = "stall"
    seen = _until(url, 503, within=10)
    # Each answer within the check's 3 s (and some slack for a loaded machine).
    assert all(seconds < 5 for _, seconds in seen), seen
    r = httpx.get(f"{url}/ready", timeout=30)
    assert r.status_code == 503 and "database unreachable" in r.text, r.text
    assert r.headers["Retry-After"]
    relay.cut()
    relay.mode = "forward"
    _until(url, 200, within=30)
    assert worker.proc.poll() is None, worker.output


def test_worker_metrics_need_the_metrics_token_when_set(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    port = free_port()
    token = "worker-metrics-" + "w" * 24
    worker = start_worker(worker_metrics_port=port, metrics_token=token)
    url = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{url}/metrics").status_code == 401
    r = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "phi_queue_jobs" in r.text
    assert httpx.get(f"{url}/ready").status_code == 200
    assert worker.proc.poll() is None
