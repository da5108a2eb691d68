"""Background jobs of memories, run by core-api's workers (they hold the embedding model)."""

from __future__ import annotations

import logging

import procrastinate

from phi_service.jobs import context_value

logger = logging.getLogger(__name__)


async def tidy_memories(context: procrastinate.JobContext, timestamp: int) -> None:
    """Delete memories whose ``valid_until`` has passed, and embed those stored while the
    embedding service was down (found by their words only until then)."""
    from phi_platform.db.session import create_engine, create_sessionmaker
    from phi_search import memory as store

    settings = context_value(context, "settings")
    embedder = context_value(context, "embedder")
    engine = create_engine(settings.resolved_database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            expired = 0
            while (batch := await store.delete_expired(session)) > 0:
                expired += batch
            embedded = await store.embed_missing(session, embedder)
    finally:
        await engine.dispose()
    if expired or embedded:
        logger.info("memories: %d expired deleted, %d embedded", expired, embedded)


def index_large_memory_stores(context: procrastinate.JobContext, timestamp: int) -> None:
    """Give organizations with many memories their own HNSW index (tenant_index.py)."""
    from phi_core_api.documents.ingest import connect
    from phi_search.tenant_index import ensure_tenant_indexes

    settings = context_value(context, "settings")
    with connect(settings.libpq_database_url) as conn:
        created = ensure_tenant_indexes(
            conn, settings.search_tenant_index_min_chunks, log=logger.info, groups=("memories",)
        )
    if created:
        logger.info("built memory search indexes: %s", ", ".join(created))


def make_blueprint() -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()
    blueprint.periodic(cron="* * * * *")(
        blueprint.task(name="tidy_memories", queueing_lock="tidy_memories", pass_context=True)(
            tidy_memories
        )
    )
    blueprint.periodic(cron="41 * * * *")(
        blueprint.task(
            name="index_large_memory_stores",
            queueing_lock="index_large_memory_stores",
            pass_context=True,
        )(index_large_memory_stores)
    )
    return blueprint
