"""Background worker: ``python -m phi_core_api.worker`` (or ``phi-worker``).

Runs the procrastinate worker for every task of the core API. Start as many as you like, on
this machine or others pointed at the same database; ``make dev`` starts one.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from functools import lru_cache
from typing import Any

from phi_core_api.settings import CoreApiSettings

warnings.filterwarnings("ignore", module="platformdirs")


@lru_cache
def current_settings() -> CoreApiSettings:
    """Settings of this worker process (read once from the environment)."""
    return CoreApiSettings()


@lru_cache
def embedding_provider() -> Any:
    from phi_llm.embeddings import get_embedding_provider

    return get_embedding_provider(current_settings())


async def run() -> None:
    from phi_core_api.jobs import create_job_app

    settings = current_settings()
    # Load the embedding model before taking jobs, so the first job is not slowed by it.
    provider = embedding_provider()
    await asyncio.to_thread(provider.embed_query, "warm-up")
    app = create_job_app(settings)
    async with app.open_async():
        logging.getLogger(__name__).info(
            "worker ready (concurrency %d)", settings.worker_concurrency
        )
        await app.run_worker_async(
            concurrency=settings.worker_concurrency,
            update_heartbeat_interval=max(1.0, settings.worker_stalled_seconds / 4),
            stalled_worker_timeout=settings.worker_stalled_seconds,
            delete_jobs="successful",
            install_signal_handlers=True,
        )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    asyncio.run(run())


if __name__ == "__main__":
    main()
