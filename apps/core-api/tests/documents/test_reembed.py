from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import psycopg
from core_factories import create_agent, create_org, signup
from document_api import search, upload, wait_done


def _vectors(url: str, doc_id: str) -> dict[str, np.ndarray]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id::text, embedding::text FROM document_chunks WHERE document_id = %s",
            (doc_id,),
        ).fetchall()
    return {i: np.array([float(x) for x in v.strip("[]").split(",")]) for i, v in rows}


def test_reembed_command_rewrites_every_vector(
    client: httpx.Client, live_server: Any, start_worker: Callable[..., Any]
) -> None:
    start_worker()
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    doc = upload(
        client,
        owner,
        b"Fuel the trucks before 7 am.\n\nCheck tyre pressure weekly.",
        "fleet.txt",
        agent_id=agent["id"],
    ).json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    settings = live_server.settings
    before = _vectors(settings.libpq_database_url, doc["id"])
    with psycopg.connect(settings.libpq_database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE document_chunks SET embedding = array_fill(0.5, ARRAY[384])::vector "
            "WHERE document_id = %s",
            (doc["id"],),
        )
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PHI_DATA_DIR": str(settings.data_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "phi_core_api.documents.cli", "reembed", "--batch-size", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "done:" in result.stdout
    after = _vectors(settings.libpq_database_url, doc["id"])
    assert before.keys() == after.keys()
    for chunk_id, vector in before.items():
        assert np.allclose(vector, after[chunk_id], atol=1e-4)
    hits = search(client, owner, agent["id"], "when should trucks be refuelled").json()["results"]
    assert "Fuel the trucks" in hits[0]["text"]
