"""Several worker processes share the queue; a killed worker's job is picked up again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from core_factories import create_agent, create_org, signup
from document_api import upload, wait_done
from document_files import make_pdf

T = TypeVar("T")


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


def poll(fetch: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 30) -> T:
    """Fetch until ``done`` holds, failing after ``timeout`` seconds with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}; last: {value}"
        time.sleep(0.1)


@pytest.fixture
def transitions(database_url: str) -> Iterator[Callable[[str], list[tuple[str, str]]]]:
    """Every status write on a document, in order, recorded by a trigger for this test.

    The pipeline is safe to run twice, so the end state alone cannot show a job delivered
    twice; the writes can (two claims). Finished jobs are deleted from the queue's tables."""
    url = database_url.replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE test_status_writes (seq bigserial, document_id uuid, "
            "old_status text, new_status text)"
        )
        conn.execute(
            "CREATE FUNCTION test_log_status_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN INSERT INTO test_status_writes (document_id, old_status, new_status) "
            "VALUES (NEW.id, OLD.status, NEW.status); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER test_status_writes AFTER UPDATE OF status ON documents "
            "FOR EACH ROW EXECUTE FUNCTION test_log_status_write()"
        )

    def writes(document_id: str) -> list[tuple[str, str]]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT old_status, new_status FROM test_status_writes "
                "WHERE document_id = %s ORDER BY seq",
                (document_id,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    yield writes
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER test_status_writes ON documents")
        conn.execute("DROP FUNCTION test_log_status_write()")
        conn.execute("DROP TABLE test_status_writes")


def stored_chunks(database_url: str, document_id: str) -> tuple[int, int, int]:
    """(chunk rows, distinct chunk indexes, the document's chunk_count)."""
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT count(c.id), count(DISTINCT c.chunk_index), d.chunk_count "
            "  FROM documents d LEFT JOIN document_chunks c ON c.document_id = d.id "
            " WHERE d.id = %s GROUP BY d.chunk_count",
            (document_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_each_job_runs_once_with_two_workers(
    client: httpx.Client,
    start_own_worker: Callable[..., Any],
    database_url: str,
    transitions: Callable[[str], list[tuple[str, str]]],
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
    once = [("PENDING", "PROCESSING"), ("PROCESSING", "READY")]
    try:
        for doc in docs:
            poll(
                lambda doc=doc: transitions(doc["id"]),
                lambda writes: writes[-1:] == [("PROCESSING", "READY")],
                what=f"document {doc['id']} to be READY",
                timeout=90,
            )
    except AssertionError:
        print("".join(w.output for w in workers))
        raise
    for doc in docs:
        # Claimed once and finished once, with one set of chunks: a job delivered twice
        # would claim the document a second time.
        assert transitions(doc["id"]) == once, doc["id"]
        assert stored_chunks(database_url, doc["id"]) == (1, 1, 1)


def test_job_of_a_killed_worker_is_retried_by_another(
    client: httpx.Client,
    start_own_worker: Callable[..., Any],
    database_url: str,
    transitions: Callable[[str], list[tuple[str, str]]],
) -> None:
    fast_stall = {"PHI_WORKER_STALLED_SECONDS": "3", "PHI_WORKER_CONCURRENCY": "1"}
    doomed = start_own_worker(**fast_stall)
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    # Long enough that the doomed worker is still on it when killed (a few seconds of
    # embedding); every extra page is paid twice, by both workers.
    doc = upload(client, owner, _sop(3), "big-sop.pdf", agent_id=agent["id"]).json()
    path = f"/agents/{agent['id']}/documents/{doc['id']}"
    deadline = time.monotonic() + 30
    while client.get(path, headers=owner.headers).json()["status"] != "PROCESSING":
        assert time.monotonic() < deadline, "the worker never started the job"
        time.sleep(0.02)
    doomed.kill()
    assert client.get(path, headers=owner.headers).json()["status"] == "PROCESSING"

    rescuer = start_own_worker(**fast_stall)
    try:
        # 3 pages take a quarter of a minute to embed when the 2 cores are shared.
        done = wait_done(client, owner, doc, timeout=240)
    except AssertionError:
        print(doomed.output, rescuer.output)
        raise
    assert done["status"] == "READY", done
    assert done["page_count"] == 3
    rows, distinct, count = stored_chunks(database_url, doc["id"])
    assert rows == distinct == count == done["chunk_count"] > 0
    # Claimed by the doomed worker, claimed again by the rescuer, finished once.
    assert transitions(doc["id"]) == [
        ("PENDING", "PROCESSING"),
        ("PROCESSING", "PROCESSING"),
        ("PROCESSING", "READY"),
    ]
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


def _clear_queue(database_url: str) -> None:
    """Drop the jobs and unfinished documents earlier tests left behind (documents of workers
    they killed or stopped), so that a test measuring slots sees only its own jobs. The
    documents must go too: a PENDING document without a job is queued again after a minute
    by ``requeue_pending_documents``, and a 25-page manual then holds a slot for minutes."""
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_jobs SET status = 'cancelled' WHERE status = 'todo'")
        conn.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE status = 'doing'")
        conn.execute("DELETE FROM documents WHERE status IN ('PENDING', 'PROCESSING')")


@pytest.fixture(scope="module", autouse=True)
def _leave_no_long_documents_behind(live_server: Any) -> Iterator[None]:
    """The next module's workers would otherwise spend minutes on this module's manuals."""
    yield
    _clear_queue(live_server.settings.database_url)


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


def test_one_organization_cannot_take_every_slot(
    client: httpx.Client, live_server: Any, start_own_worker: Callable[..., Any]
) -> None:
    """Two slots; a tenant queues several long documents, then another tenant uploads a
    small one: it starts on the second slot within seconds instead of waiting for them."""
    _clear_queue(live_server.settings.database_url)
    start_own_worker(PHI_WORKER_CONCURRENCY="2")
    busy = signup(client)
    busy_org = create_org(client, busy, "Big Uploads Ltd")
    busy_agent = create_agent(client, busy, busy_org["id"])
    big = [
        upload(client, busy, _sop(25), f"manual-{i}.pdf", agent_id=busy_agent["id"]).json()
        for i in range(4)
    ]
    deadline = time.monotonic() + 60
    while (
        client.get(
            f"/agents/{busy_agent['id']}/documents/{big[0]['id']}", headers=busy.headers
        ).json()["status"]
        != "PROCESSING"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    small_owner = signup(client)
    small_org = create_org(client, small_owner, "Small Co")
    small_agent = create_agent(client, small_owner, small_org["id"])
    sent = time.monotonic()
    small = upload(
        client, small_owner, b"Lock the cold room at 22:00.", "note.txt", agent_id=small_agent["id"]
    ).json()
    db = live_server.settings.database_url
    while (_job_of(db, small["id"]) or ("todo", 0))[0] == "todo":
        assert time.monotonic() - sent < 60, "the small document never started"
        time.sleep(0.05)
    started = time.monotonic() - sent
    done = wait_done(client, small_owner, small, timeout=120)
    waited = time.monotonic() - sent
    assert done["status"] == "READY", done
    # The busy tenant's documents are still being worked through, one at a time.
    statuses = [
        client.get(f"/agents/{busy_agent['id']}/documents/{d['id']}", headers=busy.headers).json()[
            "status"
        ]
        for d in big
    ]
    assert statuses.count("PROCESSING") <= 1 and "PENDING" in statuses, statuses
    print(
        f"small document of another organization: started after {started:.1f} s, "
        f"READY after {waited:.1f} s"
    )
    # It starts at once on the free slot (before, it waited for one of the long documents);
    # finishing takes longer on a busy machine, the long document's embeddings sharing the
    # process's model with it.
    assert started < 10, started


def test_deleting_a_processing_document_cancels_its_job(
    client: httpx.Client, live_server: Any, start_own_worker: Callable[..., Any]
) -> None:
    db = live_server.settings.database_url
    _clear_queue(db)
    start_own_worker(PHI_WORKER_CONCURRENCY="1")
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    doomed = upload(client, owner, _sop(40), "long.pdf", agent_id=agent["id"]).json()
    path = f"/agents/{agent['id']}/documents/{doomed['id']}"
    deadline = time.monotonic() + 60
    while client.get(path, headers=owner.headers).json()["status"] != "PROCESSING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.delete(path, headers=owner.headers).status_code == 204
    deleted_at = time.monotonic()
    while (_job_of(db, doomed["id"]) or ("", 0))[0] not in ("aborted", ""):
        assert time.monotonic() - deleted_at < 30, _job_of(db, doomed["id"])
        time.sleep(0.1)
    # The slot is free again: a small document of the same organization goes through.
    small = upload(client, owner, b"Sweep aisle 4 daily.", "sweep.txt", agent_id=agent["id"])
    assert wait_done(client, owner, small.json(), timeout=60)["status"] == "READY"
