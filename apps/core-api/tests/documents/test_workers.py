"""Several worker processes share the queue; a killed worker's job is picked up again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from core_factories import create_agent, create_org, signup
from document_api import upload, wait_done
from document_files import make_pdf


def _sop(pages: int, words_per_page: int = 350) -> bytes:
    vocabulary = (
        "pallet dock carrier label scanner aisle rack shift supervisor report forklift "
        "inventory count cold room chilled loading unloading truck driver incident"
    ).split()
    text = []
    for p in range(pages):
        words = [vocabulary[(p * 7 + i * 3) % len(vocabulary)] for i in range(words_per_page)]
        text.append([f"Section {p + 1}", " ".join(words) + "."])
    return make_pdf(text)


def test_each_job_runs_once_with_two_workers(
    client: httpx.Client, start_own_worker: Callable[..., Any]
) -> None:
    workers = [start_own_worker(), start_own_worker()]
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    docs = [
        upload(
            client,
            owner,
            f"Procedure {i}: check seal {i} on every trailer.".encode(),
            f"p{i}.txt",
            agent_id=agent["id"],
        ).json()
        for i in range(8)
    ]
    try:
        for doc in docs:
            assert wait_done(client, owner, doc)["status"] == "READY"
    except AssertionError:
        print("".join(w.output for w in workers))
        raise
    time.sleep(0.5)  # let the log lines arrive
    logs = "".join(w.output for w in workers)
    for doc in docs:
        assert logs.count(f"document {doc['id']}: READY") == 1, doc["id"]
    for doc in docs:
        body = client.get(
            f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers
        ).json()
        assert body["chunk_count"] == 1


def test_job_of_a_killed_worker_is_retried_by_another(
    client: httpx.Client, start_own_worker: Callable[..., Any]
) -> None:
    fast_stall = {"PHI_WORKER_STALLED_SECONDS": "3", "PHI_WORKER_CONCURRENCY": "1"}
    doomed = start_own_worker(**fast_stall)
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    doc = upload(client, owner, _sop(25), "big-sop.pdf", agent_id=agent["id"]).json()
    path = f"/agents/{agent['id']}/documents/{doc['id']}"
    deadline = time.monotonic() + 30
    while client.get(path, headers=owner.headers).json()["status"] != "PROCESSING":
        assert time.monotonic() < deadline, "the worker never started the job"
        time.sleep(0.02)
    doomed.kill()
    assert client.get(path, headers=owner.headers).json()["status"] == "PROCESSING"

    rescuer = start_own_worker(**fast_stall)
    done = wait_done(client, owner, doc, timeout=90)
    assert done["status"] == "READY", done
    assert done["page_count"] == 25
    assert f"document {doc['id']}: READY" in rescuer.output
    assert f"document {doc['id']}: READY" not in doomed.output
