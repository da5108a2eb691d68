"""An organization that passes the chunk threshold gets its own HNSW index from the worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from core_factories import create_agent, create_org, signup
from document_api import search, upload, wait_done

from phi_core_api.documents.ingest import connect
from phi_search.tenant_index import has_own_index

TEXTS = [
    "Forklift batteries are charged only in the ventilated battery room.",
    "Visitors sign in at reception and wear a visitor badge at all times.",
    "Chilled pallets may stay on the dock for at most 20 minutes.",
]


def test_worker_builds_the_index_once_the_organization_passes_the_threshold(
    client: httpx.Client, start_own_worker: Callable[..., Any], live_server: Any
) -> None:
    start_own_worker(PHI_SEARCH_TENANT_INDEX_MIN_CHUNKS="3")
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    org_id = uuid.UUID(org["id"])
    with connect(live_server.settings.libpq_database_url) as conn:
        for i, body in enumerate(TEXTS):
            r = upload(client, owner, body.encode(), f"note-{i}.txt", agent_id=agent["id"])
            assert wait_done(client, owner, r.json())["status"] == "READY"
            if i < 2:  # 1 and 2 chunks: below the threshold
                assert not has_own_index(conn, org_id)
        deadline = time.monotonic() + 60
        while not has_own_index(conn, org_id):
            assert time.monotonic() < deadline, "the worker did not build the index"
            time.sleep(0.2)

    hits = search(client, owner, agent["id"], "how long can cold pallets wait at the dock")
    assert hits.json()["results"][0]["document_name"] == "note-2.txt"
