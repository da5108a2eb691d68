"""Background worker of core-api: ``python -m phi_core_api.worker`` (or ``phi-worker``).

Runs document ingestion and profile generation, and builds the search units of documents
stored without them (``documents/units_backfill.py``). Start as many as you like, on this
machine or others pointed at the same database; ``make dev`` starts one.
"""

from __future__ import annotations

import asyncio

from phi_core_api.documents.tasks import queue_missing_units_now
from phi_core_api.jobs import QUEUES, create_job_app
from phi_core_api.settings import CoreApiSettings
from phi_service.worker import run_worker, worker_main


async def run() -> None:
    from phi_llm.embeddings import get_embedding_provider

    settings = CoreApiSettings()
    # Load the embedding model before taking jobs, so the first job is not slowed by it.
    embedder = get_embedding_provider(settings)
    await asyncio.to_thread(embedder.embed_query, "warm-up")
    await run_worker(
        create_job_app(settings),
        settings,
        queues=QUEUES,
        resources={"embedder": embedder},
        # Documents stored before search units existed get them without waiting a minute.
        on_start=queue_missing_units_now,
    )


def main() -> None:
    worker_main(run)


if __name__ == "__main__":
    main()
