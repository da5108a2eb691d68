"""Query vectors for search, shared by the services that search: a bounded LRU cache of the
vectors of recent questions in front of the embedding provider.

Embedding a question is the only CPU-heavy step of a search (the database part is a few
milliseconds), and the same questions come back: the web app's suggested searches, a report
that asks its agent the same things every day, users retrying. A vector depends only on the
model and the text, so it is kept, keyed by both; measured in docs/benchmarks.md ("Mixed
load").
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Hashable
from typing import Any

import numpy as np
from cachetools import LRUCache
from prometheus_client import Counter

from phi_search.search import QueryEmbedder

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
