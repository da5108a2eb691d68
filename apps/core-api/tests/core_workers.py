"""Worker processes of core-api on the test database and data dir, started by fixtures."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from phi_service.testing import WorkerProcess


def _worker_factory(live_server: Any, grace: float = 20) -> Iterator[Callable[..., WorkerProcess]]:
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
        worker = WorkerProcess("phi_core_api.worker", env, ready_marker="worker ready")
        started.append(worker)
        return worker.wait_ready()

    yield start
    # All at once: each one's grace runs alongside the others'.
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.terminate()
    deadline = time.monotonic() + grace
    for worker in started:
        worker.stop(max(0.0, deadline - time.monotonic()))
