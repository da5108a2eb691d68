"""What the documents domain needs in the API process: job queue, file storage, embedder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import procrastinate
from fastapi import Depends, FastAPI, Request

from phi_core_api.settings import CoreApiSettings
from phi_core_api.storage import FileStorage, storage_for
from phi_search.memory import PassageEmbedder
from phi_search.rerank import Reranker
from phi_search.search import QueryEmbedder

logger = logging.getLogger(__name__)


@asynccontextmanager
async def documents_lifespan(app: FastAPI, settings: CoreApiSettings) -> AsyncIterator[None]:
    from phi_core_api.jobs import create_job_app
    from phi_llm.embeddings import EmbeddingError, get_embedding_provider
    from phi_search.query_embedding import EmbeddingProcessPool, cached

    app.state.storage = storage_for(settings)
    # A store that cannot be reached (a wrong bucket, endpoint or key) stops the start with
    # a message naming it, rather than failing every upload later.
    check = getattr(app.state.storage, "check", None)
    if check is not None:
        await asyncio.to_thread(check)
    logger.info("documents are stored in %s", app.state.storage.describe())
    provider = get_embedding_provider(settings)
    pool = None
    if provider.name == "local" and settings.search_embed_processes > 0:
        # The model runs in its own processes, started by the first search and stopped when
        # searches stop (its memory goes back: docs/benchmarks.md, issue 24).
        pool = EmbeddingProcessPool(
            settings,
            settings.search_embed_processes,
            idle_seconds=settings.search_embed_idle_seconds or None,
        )
    else:
        # Load the model now rather than in the first search request. A remote embedding
        # service that is down must not keep the API from starting: search answers 503 until
        # it is back.
        try:
            await asyncio.to_thread(provider.embed_query, "warm-up")
        except EmbeddingError as exc:
            logger.warning("embedding service not reachable at start-up: %s", exc)
    app.state.embedding_pool = pool
    app.state.embedder = cached(pool or provider, settings.search_query_cache_size)
    app.state.search_reranker = None
    if settings.search_rerank:
        from phi_core_api.profiles.runtime import build_router
        from phi_search.rerank import LLMReranker

        app.state.search_reranker = LLMReranker(
            build_router(settings, app.state.db.sessionmaker),
            top_n=settings.search_rerank_top_n,
        )
    jobs = create_job_app(settings)
    try:
        async with jobs.open_async():
            app.state.jobs = jobs
            yield
    finally:
        if pool is not None:
            await pool.aclose()


def _jobs(request: Request) -> procrastinate.App:
    return request.app.state.jobs  # type: ignore[no-any-return]


def _storage(request: Request) -> FileStorage:
    return request.app.state.storage  # type: ignore[no-any-return]


def _embedder(request: Request) -> QueryEmbedder:
    return request.app.state.embedder  # type: ignore[no-any-return]


def _search_reranker(request: Request) -> Reranker | None:
    return request.app.state.search_reranker  # type: ignore[no-any-return]


def _passage_embedder(request: Request) -> PassageEmbedder:
    # The same object: the query cache hands stored text through to the pool or provider.
    return request.app.state.embedder  # type: ignore[no-any-return]


JobsDep = Annotated[procrastinate.App, Depends(_jobs)]
StorageDep = Annotated[FileStorage, Depends(_storage)]
EmbedderDep = Annotated[QueryEmbedder, Depends(_embedder)]
RerankerDep = Annotated[Reranker | None, Depends(_search_reranker)]
PassageEmbedderDep = Annotated[PassageEmbedder, Depends(_passage_embedder)]
