"""ASK over the agent's documents: the answer cites the passages search found."""

from __future__ import annotations

from typing import Any

import httpx
from orch_factories import add_document, make_tenant, run_task, wait_task

PASSAGES = [
    "Pallets in the cold chain zone are counted every day before 07:00 by the shift lead.",
    "Forklift batteries are charged in bay 3 and checked weekly.",
]


def test_ask_cites_the_agents_documents(api: httpx.Client, database_url: str, worker: Any) -> None:
    tenant = make_tenant(database_url)
    document_id = add_document(database_url, tenant, PASSAGES, "Cold chain SOP")
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
