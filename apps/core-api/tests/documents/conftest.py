from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest


class WorkerProcess:
    """A real `python -m phi_core_api.worker` process; its output is kept for assertions."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phi_core_api.worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 60) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while not any("worker ready" in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        return self

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _worker_factory(live_server: Any) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []
    settings = live_server.settings

    def start(**env_overrides: str) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": settings.database_url,
                "PHI_DATA_DIR": str(settings.data_dir),
                "PHI_WORKER_STALLED_SECONDS": "60",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(env_overrides)
        worker = WorkerProcess(env)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def start_worker(live_server: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes on the test database and data dir (stopped after the module)."""
    yield from _worker_factory(live_server)


@pytest.fixture
def start_own_worker(live_server: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """Like ``start_worker`` but the workers stop at the end of the test."""
    yield from _worker_factory(live_server)
