"""Search questions' vectors: cached by model and normalised text (phi_search.query_embedding).

The API embeds through a real OpenAI-compatible HTTP server the test starts, so every
embedding the API asks for is a request the test can count and read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from core_factories import create_agent, create_org, signup
from document_api import search

from phi_llm.testing import FakeOpenAIServer


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


def _embedded(fake: FakeOpenAIServer) -> list[str]:
    """Every text the API sent to the embeddings endpoint, warm-up left out."""
    return [
        text
        for r in fake.requests
        if r["path"].endswith("/embeddings")
        for text in r["body"]["input"]
        if text != "warm-up"
    ]


def _api(start_server: Callable[..., Any], fake: FakeOpenAIServer, **overrides: Any) -> Any:
    return start_server(
        embedding_provider="openai",
        embedding_base_url=fake.base_url,
        embedding_api_key="unused",
        embedding_model="text-embedding-3-small",
        **overrides,
    )


def _agent(c: httpx.Client) -> tuple[Any, str]:
    owner = signup(c)
    org = create_org(c, owner)
    return owner, create_agent(c, owner, org["id"])["id"]


def test_a_repeated_question_is_embedded_once_and_the_cache_is_bounded(
    start_server: Callable[..., Any], fake: FakeOpenAIServer
) -> None:
    server = _api(start_server, fake, search_query_cache_size=2)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        owner, agent = _agent(c)

        def ask(question: str) -> None:
            r = search(c, owner, agent, question)
            assert r.status_code == 200, r.text

        ask("Where are the forklift keys?")
        # White space does not make another question; the text embedded is the normalised one.
        ask("  Where are the\tforklift   keys? ")
        assert _embedded(fake) == ["Where are the forklift keys?"]
        # Case does (the model reads it).
        ask("where are the forklift keys?")
        assert len(_embedded(fake)) == 2
        # Room for two: a third question pushes out the least recently used one.
        ask("Where are the forklift keys?")  # hit: now the most recent
        ask("Who signs the incident report?")  # evicts "where ..." (lower case)
        assert len(_embedded(fake)) == 3
        ask("Where are the forklift keys?")  # still kept
        assert len(_embedded(fake)) == 3
        ask("where are the forklift keys?")  # evicted: embedded again
        assert _embedded(fake)[-1] == "where are the forklift keys?"
        assert len(_embedded(fake)) == 4

        metrics = c.get("/metrics").text
        assert 'phi_search_query_cache_total{outcome="hit"}' in metrics


def test_a_failed_embedding_is_not_kept(
    start_server: Callable[..., Any], fake: FakeOpenAIServer
) -> None:
    server = _api(start_server, fake)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        owner, agent = _agent(c)
        fake.default = "500"
        assert search(c, owner, agent, "cold room temperature checks").status_code == 503
        failed = fake.calls
        fake.default = "ok"
        r = search(c, owner, agent, "cold room temperature checks")
        assert r.status_code == 200, r.text
        assert fake.calls > failed


def test_concurrent_searches_for_one_question_share_one_embedding(
    start_server: Callable[..., Any], fake: FakeOpenAIServer
) -> None:
    server = _api(start_server, fake)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        owner, agent = _agent(c)
        # The first embedding request takes 2 s: the other searches arrive meanwhile.
        fake.slow_seconds = 2
        fake.script.append("slow")
        with ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(lambda _: search(c, owner, agent, "forklift inspection"), range(6))
            )
        assert [r.status_code for r in answers] == [200] * 6
        assert _embedded(fake) == ["forklift inspection"]
