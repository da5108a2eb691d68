"""Documents stored before search units existed get them from the workers, with no command."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from core_factories import create_agent, create_org, signup
from document_api import search, upload, wait_done

from phi_core_api.documents.units_backfill import find_documents_without_units

UNITS = (
    "SELECT unit_text, heading_path FROM document_units WHERE document_id = %s "
    "ORDER BY chunk_id, unit_index"
)
CHUNK_VECTORS = "SELECT id, embedding::text FROM document_chunks WHERE document_id = %s ORDER BY id"


def _gate_hits(client: httpx.Client, owner: Any, agent_id: str) -> list[str]:
    r = search(client, owner, agent_id, "when does the yard gate close")
    assert r.status_code == 200, r.text
    return [h["text"][h["match_start"] : h["match_end"]] for h in r.json()["results"]]


def test_a_document_without_units_becomes_searchable_by_itself(
    client: httpx.Client, live_server: Any, start_own_worker: Callable[..., Any]
) -> None:
    url = live_server.settings.libpq_database_url
    first = start_own_worker()
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    doc = upload(
        client,
        owner,
        b"# Yard\n\n- Trailers are parked nose in.\n- The yard gate closes at 22:00.\n",
        "yard.md",
        agent_id=agent["id"],
    ).json()
    # A document of headings only has no sentence of its own: its chunk is its one unit, so
    # it can be found, and the backfill below does not take it for an old document.
    headings = upload(
        client, owner, b"# Dock rules\n\n## Night shift\n", "dock.md", agent_id=agent["id"]
    ).json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    assert wait_done(client, owner, headings)["status"] == "READY"
    with psycopg.connect(url, autocommit=True) as conn:
        units = conn.execute(UNITS, (doc["id"],)).fetchall()
        assert units == [
            ("- Trailers are parked nose in.", "Yard"),
            ("- The yard gate closes at 22:00.", "Yard"),
        ]
        assert conn.execute(UNITS, (headings["id"],)).fetchall() == [
            ("Dock rules\n\nNight shift", "Dock rules > Night shift")
        ]
        vectors = conn.execute(CHUNK_VECTORS, (doc["id"],)).fetchall()
        # The state of a database from before migration 0008: chunks, no units.
        conn.execute("DELETE FROM document_units WHERE document_id = %s", (doc["id"],))
    assert not any("22:00" in hit for hit in _gate_hits(client, owner, agent["id"]))

    # A worker starts, as after an upgrade, beside one already running; no command is run.
    workers = [first, start_own_worker()]
    deadline = time.monotonic() + 60
    while not any("22:00" in hit for hit in _gate_hits(client, owner, agent["id"])):
        assert time.monotonic() < deadline, "".join(w.output for w in workers)
        time.sleep(0.5)
    time.sleep(1)  # room for a second, wrong, write to show up
    with psycopg.connect(url) as conn:
        assert conn.execute(UNITS, (doc["id"],)).fetchall() == units
        # The chunks kept their vectors: only the units were embedded.
        assert conn.execute(CHUNK_VECTORS, (doc["id"],)).fetchall() == vectors
    logs = "".join(w.output for w in workers)
    assert f"document {doc['id']}: built 2 search units" in logs
    assert logs.count("built 2 search units") == 1
    assert "queued search-unit building for 1 documents of 1 organizations" in logs
    # The headings-only document was never taken for one without units.
    assert f"document {headings['id']}: built" not in logs


def test_documents_without_units_are_found_in_turns_of_organization(
    client: httpx.Client, live_server: Any
) -> None:
    url = live_server.settings.libpq_database_url
    owner = signup(client)
    big, small = create_org(client, owner)["id"], create_org(client, owner)["id"]
    ids: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for org in (big, big, big, small):
            ids.append(
                str(
                    conn.execute(
                        "INSERT INTO documents (org_id, name, source_type, storage_path, status, "
                        "chunk_count) VALUES (%s, 'old.md', 'SOP', %s, 'READY', 1) RETURNING id",
                        (org, f"{org}/{uuid.uuid4()}"),
                    ).fetchone()[0]  # type: ignore[index]
                )
            )
    try:

        async def found(batch: int) -> list[str]:
            async with await psycopg.AsyncConnection.connect(url) as conn:
                result = await find_documents_without_units(conn, batch)
            return [str(d) for d, _ in result.documents if str(d) in ids]

        # The small organization's one document comes before the big one's second.
        assert asyncio.run(found(100)) == [ids[0], ids[3], ids[1], ids[2]]
        # Bounded: never more than the batch.
        assert len(asyncio.run(found(2))) <= 2
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM documents WHERE id = ANY(%s::uuid[])", (ids,))
