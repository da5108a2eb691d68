"""ASK over the agent's documents: the answer cites the passages search found."""

from __future__ import annotations

from typing import Any

import httpx
from orch_factories import make_tenant, run_task, sql, wait_task

PASSAGES = [
    "Pallets in the cold chain zone are counted every day before 07:00 by the shift lead.",
    "Forklift batteries are charged in bay 3 and checked weekly.",
]


def _add_document(database_url: str, tenant: Any) -> str:
    from phi_llm.embeddings import get_embedding_provider

    vectors = get_embedding_provider().embed_passages(PASSAGES)
    (document_id,) = sql(
        database_url,
        "INSERT INTO documents (org_id, agent_id, name, source_type, storage_path, status, "
        "chunk_count) VALUES (%s, %s, 'Cold chain SOP', 'SOP', 'x', 'READY', %s) RETURNING id",
        tenant.org_id,
        tenant.agent_id,
        len(PASSAGES),
    )[0]
    for i, (text, vector) in enumerate(zip(PASSAGES, vectors, strict=True)):
        literal = "[" + ",".join(f"{x:.6f}" for x in vector) + "]"
        (chunk_id,) = sql(
            database_url,
            "INSERT INTO document_chunks (document_id, org_id, agent_id, chunk_index, chunk_text, "
            "embedding, metadata) VALUES (%s, %s, %s, %s, %s, %s::vector, "
            '\'{"source_type": "SOP"}\') RETURNING id',
            document_id,
            tenant.org_id,
            tenant.agent_id,
            i,
            text,
            literal,
        )[0]
        # Search matches on units (sentence groups) and returns their passage: one unit each.
        sql(
            database_url,
            "INSERT INTO document_units (chunk_id, document_id, org_id, agent_id, unit_index, "
            "char_start, char_end, unit_text, embedding) "
            "VALUES (%s, %s, %s, %s, 0, 0, %s, %s, %s::vector)",
            chunk_id,
            document_id,
            tenant.org_id,
            tenant.agent_id,
            len(text),
            text,
            literal,
        )
    return str(document_id)


def test_ask_cites_the_agents_documents(api: httpx.Client, database_url: str, worker: Any) -> None:
    tenant = make_tenant(database_url)
    document_id = _add_document(database_url, tenant)
    task_id = run_task(
        api, tenant, "ASK", {"question": "When are cold chain pallets counted?", "top_k": 2}
    )
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    citations = task["output"]["citations"]
    assert citations and citations[0]["document_id"] == document_id
    assert "07:00" in citations[0]["excerpt"]
    assert "Cold chain SOP" in task["output"]["answer"] and "[1]" in task["output"]["answer"]
    # Another org's agent finds nothing of it.
    other = make_tenant(database_url)
    other_id = run_task(api, other, "ASK", {"question": "When are cold chain pallets counted?"})
    assert wait_task(api, other, other_id, {"SUCCESS"})["output"]["citations"] == []
