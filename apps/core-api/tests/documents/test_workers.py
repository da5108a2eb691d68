"""Several worker processes share the queue; a killed worker's job is picked up again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
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
    # 25 pages take a minute or more to embed when the 2 cores are shared with other runs.
    done = wait_done(client, owner, doc, timeout=240)
    assert done["status"] == "READY", done
    assert done["page_count"] == 25
    assert f"document {doc['id']}: READY" in rescuer.output
    assert f"document {doc['id']}: READY" not in doomed.output


def _job_of(database_url: str, document_id: str) -> tuple[str, int] | None:
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        row = conn.execute(
            "SELECT status::text, attempts FROM procrastinate_jobs "
            "WHERE args->>'document_id' = %s ORDER BY id DESC LIMIT 1",
            (document_id,),
        ).fetchone()
    return (row[0], row[1]) if row else None


def test_a_killed_workers_job_is_retried_on_time_while_every_slot_is_busy(
    client: httpx.Client, live_server: Any, start_own_worker: Callable[..., Any]
) -> None:
    stalled = 4
    env = {"PHI_WORKER_STALLED_SECONDS": str(stalled), "PHI_WORKER_CONCURRENCY": "1"}
    db = live_server.settings.database_url
    doomed = start_own_worker(**env)
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    victim = upload(client, owner, _sop(25), "victim.pdf", agent_id=agent["id"]).json()
    deadline = time.monotonic() + 30
    while (_job_of(db, victim["id"]) or ("", 0))[0] != "doing":
        assert time.monotonic() < deadline, "the doomed worker never started its job"
        time.sleep(0.05)
    # Long jobs of another organization for the rescuer's only work slot.
    other = signup(client)
    other_org = create_org(client, other, "Other Co")
    other_agent = create_agent(client, other, other_org["id"])
    busy = [
        upload(client, other, _sop(25), f"busy-{i}.pdf", agent_id=other_agent["id"]).json()
        for i in range(3)
    ]
    start_own_worker(**env)
    deadline = time.monotonic() + 60
    while (_job_of(db, busy[0]["id"]) or ("", 0))[0] != "doing":
        assert time.monotonic() < deadline, "the rescuer never took a long job"
        time.sleep(0.05)

    doomed.kill()
    killed_at = time.monotonic()
    # Within the stall limit plus one period of the maintenance task (5 s), plus slack for
    # a busy machine: the job is back in the queue (or already running again).
    limit = stalled + 5 + 4
    while True:
        status, attempts = _job_of(db, victim["id"]) or ("", 0)
        if attempts >= 1:
            break
        assert time.monotonic() - killed_at < limit, (
            f"job still {status} {time.monotonic() - killed_at:.0f} s after its worker died"
        )
        time.sleep(0.1)
    # The rescuer's work slot was held by a long job the whole time.
    assert any((_job_of(db, d["id"]) or ("", 0))[0] == "doing" for d in busy)
