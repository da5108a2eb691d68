"""Runs a service's procrastinate worker with its resources in the job context."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import procrastinate

from phi_service.jobs import MAINTENANCE_QUEUE
from phi_service.settings import ServiceSettings

warnings.filterwarnings("ignore", module="platformdirs")


async def run_worker(
    app: procrastinate.App,
    settings: ServiceSettings,
    *,
    queues: Sequence[str],
    resources: Mapping[str, Any] | None = None,
    name: str = "worker",
) -> None:
    """Run jobs of ``queues`` (and the maintenance queue) until SIGINT/SIGTERM.

    ``resources`` (plus ``settings``) are given to every job as
    ``context.additional_context``; build expensive ones (models, routers) before calling.
    """
    context = {"settings": settings, **(resources or {})}
    async with app.open_async():
        logging.getLogger(__name__).info(
            "%s ready (concurrency %d, queues %s)",
            name,
            settings.worker_concurrency,
            ", ".join([*queues, MAINTENANCE_QUEUE]),
        )
        await app.run_worker_async(
            queues=[*queues, MAINTENANCE_QUEUE],
            concurrency=settings.worker_concurrency,
            update_heartbeat_interval=max(1.0, settings.worker_stalled_seconds / 4),
            stalled_worker_timeout=settings.worker_stalled_seconds,
            delete_jobs="successful",
            install_signal_handlers=True,
            additional_context=context,
        )


def worker_main(run: Callable[[], Any]) -> None:
    """Entry point body of a worker command: logging set up, then ``asyncio.run(run())``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    asyncio.run(run())
