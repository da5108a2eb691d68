"""Runs a service's procrastinate worker with its resources in the job context.

Two procrastinate workers run in the process, on one event loop and one job app:

* the **work** worker takes the service's queues, ``worker_concurrency`` jobs at a time;
* the **maintenance** worker takes only the ``maintenance`` queue, one job at a time, so the
  housekeeping that puts a dead worker's jobs back in the queue runs on time even when every
  work slot is held by a long job (it used to wait ~110 s behind ingestion for a slot).

Neither stops when the database goes away: procrastinate stops a worker whose notification
listener or heartbeat fails, and a job whose status cannot be saved fails the worker loop.
Each worker is started again after a backoff (0.5 s doubling to 10 s) until SIGINT/SIGTERM,
once the database answers. Jobs that were running when the connection dropped stay
``doing`` under the old worker id; ``retry_stalled_jobs`` queues them again after
``worker_stalled_seconds``. procrastinate's pool checks a connection before lending it, so
nothing is handed a connection that died with the old server.

The worker also serves ``/health``, ``/ready`` and ``/metrics`` on ``worker_metrics_port``
(0: no server). A port already taken costs the worker only that page, never its jobs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import procrastinate

from phi_service.jobs import MAINTENANCE_QUEUE
from phi_service.memory import limit_malloc_arenas, trim_memory_periodically
from phi_service.observability import BackgroundPage, configure_logging, job_observability
from phi_service.settings import ServiceSettings

warnings.filterwarnings("ignore", module="platformdirs")

logger = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0


async def _database_answers(app: procrastinate.App) -> bool:
    try:
        await app.connector.execute_query_one_async("SELECT 1 AS ok")
    except Exception:
        return False
    return True


async def _keep_running(
    app: procrastinate.App,
    stopping: asyncio.Event,
    label: str,
    options: dict[str, Any],
) -> None:
    """Run one procrastinate worker; start it again whenever it ends before ``stopping``."""
    backoff = FIRST_BACKOFF
    while not stopping.is_set():
        task = asyncio.create_task(app.run_worker_async(**options), name=label)
        stop_wait = asyncio.create_task(stopping.wait())
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.is_set() and not task.done():
            # A graceful stop: procrastinate finishes the running jobs when cancelled.
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            return
        stop_wait.cancel()
        try:
            task.result()
            problem = "stopped on its own (lost its database connection)"
        except Exception as exc:
            problem = f"failed: {type(exc).__name__}: {exc}".strip()
        if stopping.is_set():
            return
        logger.warning("%s %s; starting it again in %.1f s", label, problem, backoff)
        await _sleep_unless(stopping, backoff)
        while not stopping.is_set() and not await _database_answers(app):
            backoff = min(MAX_BACKOFF, backoff * 2)
            logger.warning("%s: database unreachable; next try in %.1f s", label, backoff)
            await _sleep_unless(stopping, backoff)
        backoff = FIRST_BACKOFF
        if not stopping.is_set():
            logger.info("%s: database reachable again; restarting", label)


async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def run_worker(
    app: procrastinate.App,
    settings: ServiceSettings,
    *,
    queues: Sequence[str],
    resources: Mapping[str, Any] | None = None,
    name: str = "worker",
    on_start: Callable[[procrastinate.App], Awaitable[None]] | None = None,
) -> None:
    """Run jobs of ``queues`` (and, on a slot of its own, the maintenance queue) until
    SIGINT/SIGTERM, riding out database outages.

    ``resources`` (plus ``settings``) are given to every job as
    ``context.additional_context``; build expensive ones (models, routers) before calling.
    ``on_start`` runs once the app is open, before the first job (to queue start-up jobs); its
    failure is logged and the worker starts anyway.
    """
    context = {"settings": settings, **(resources or {})}
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    common: dict[str, Any] = {
        "update_heartbeat_interval": max(1.0, settings.worker_stalled_seconds / 4),
        "stalled_worker_timeout": settings.worker_stalled_seconds,
        "fetch_job_polling_interval": settings.worker_poll_seconds,
        "delete_jobs": "successful",
        "install_signal_handlers": False,
        "additional_context": context,
        "worker_middleware": [job_observability],
    }
    metrics_server = None
    async with app.open_async():
        if settings.worker_metrics_port:
            metrics_server = await _serve_health(
                app, settings.worker_metrics_port, name, settings.metrics_token
            )
        if on_start is not None:
            try:
                await on_start(app)
            except Exception:
                logger.exception("%s: its start-up step failed", name)
        logger.info(
            "%s ready (concurrency %d, queues %s; maintenance on its own slot)",
            name,
            settings.worker_concurrency,
            ", ".join(queues),
        )
        await asyncio.gather(
            _keep_running(
                app,
                stopping,
                f"{name} ({', '.join(queues)})",
                {**common, "queues": list(queues), "concurrency": settings.worker_concurrency},
            ),
            _keep_running(
                app,
                stopping,
                f"{name} (maintenance)",
                {**common, "queues": [MAINTENANCE_QUEUE], "concurrency": 1},
            ),
        )
        if metrics_server is not None:
            await metrics_server.stop()
    logger.info("%s stopped", name)


async def _serve_health(
    app: procrastinate.App, port: int, name: str, metrics_token: str | None = None
) -> BackgroundPage | None:
    """``/health``, ``/ready`` and ``/metrics`` of this worker on ``port``, in the background.
    A port already taken (a second worker on the machine, another stack) only costs this
    worker its page: it is logged and the worker runs its jobs without one (None)."""
    from fastapi import FastAPI

    from phi_service.observability import (
        database_check,
        health_router,
        queue_depth_collector,
        serve_page,
    )

    async def scalar(sql: str) -> Any:
        row = await app.connector.execute_query_one_async(sql)
        return next(iter(row.values())) if row else None

    page = FastAPI(title=f"{name} health", openapi_url=None, docs_url=None, redoc_url=None)
    page.include_router(
        health_router(
            [database_check(scalar)], [queue_depth_collector(app)], metrics_token=metrics_token
        )
    )
    server = await serve_page(page, "127.0.0.1", port, f"{name} health")
    if server is None:
        logger.warning(
            "%s: no health page (PHI_WORKER_METRICS_PORT chooses another port, 0 none)", name
        )
    return server


def worker_main(run: Callable[[], Any], service: str = "worker") -> None:
    """Entry point body of a worker command: JSON logging, then ``asyncio.run(run())``, with
    two malloc arenas at most and free memory handed back every 30 s (``phi_service.memory``:
    the threads that ingest documents left their arenas tens of MB above idle)."""
    limit_malloc_arenas()
    configure_logging(service)

    async def main() -> None:
        trimming = asyncio.create_task(trim_memory_periodically())
        try:
            await run()
        finally:
            trimming.cancel()

    asyncio.run(main())
