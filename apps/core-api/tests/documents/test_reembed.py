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
    # Sections with heading paths: ingestion and reembed must embed the same text (the path
    # and the chunk, one ``embedding_text``), so the vectors come out equal.
    doc = upload(
        client,
        owner,
        b"# Fleet\n\n## Fuel\n\nFuel the trucks before 7 am.\n\n## Tyres\n\n"
        b"Check tyre pressure weekly.",
        "fleet.md",
        agent_id=agent["id"],
    ).json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    settings = live_server.settings
    before = _vectors(settings.libpq_database_url, doc["id"])
    assert len(before) == 2
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


def test_reembed_to_a_model_of_another_dimension(fresh_database_url: str) -> None:
    """Switching to an 8-d model retypes the column, rewrites every vector and rebuilds the
    organizations' own indexes, on a database of its own (the shared one stays 384-d)."""
    import hashlib
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from phi_platform.db.migrate import upgrade

    dim = 8

    class Embeddings(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # a real OpenAI-compatible /v1/embeddings, 8-d
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = []
            for i, text in enumerate(inputs):
                raw = np.frombuffer(hashlib.sha256(text.encode()).digest()[:dim], np.uint8)
                vec = raw.astype(float) + 1
                data.append(
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": list(vec / np.linalg.norm(vec)),
                    }
                )
            out = json.dumps(
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Embeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    upgrade(fresh_database_url)
    url = fresh_database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        (org_id,) = conn.execute(
            "INSERT INTO organizations (name) VALUES ('o') RETURNING id"
        ).fetchone()  # type: ignore[misc]
        (doc_id,) = conn.execute(
            "INSERT INTO documents (org_id, name, source_type, storage_path, status) "
            "VALUES (%s, 'd.txt', 'SOP', 'x', 'READY') RETURNING id",
            (org_id,),
        ).fetchone()  # type: ignore[misc]
        for i in range(5):
            conn.execute(
                "INSERT INTO document_chunks (document_id, org_id, chunk_index, chunk_text, "
                "embedding) VALUES (%s, %s, %s, %s, array_fill(0.1, ARRAY[384])::vector)",
                (doc_id, org_id, i, f"chunk number {i}"),
            )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PHI_EMBEDDING_PROVIDER": "openai",
        "PHI_EMBEDDING_BASE_URL": f"http://127.0.0.1:{server.server_address[1]}/v1",
        "PHI_EMBEDDING_API_KEY": "test",
        "PHI_EMBEDDING_MODEL": "tiny-8d",
        "PHI_EMBEDDING_DIM": str(dim),
        "PHI_SEARCH_TENANT_INDEX_MIN_CHUNKS": "3",
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "phi_core_api.documents.cli", "reembed"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    with psycopg.connect(url) as conn:
        (kind,) = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'document_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()  # type: ignore[misc]
        dims = conn.execute(
            "SELECT DISTINCT vector_dims(embedding) FROM document_chunks"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'ix_document_chunks_hnsw_org_%'"
        ).fetchall()
        storage = conn.execute(
            "SELECT attrelid::regclass::text, attstorage FROM pg_attribute "
            "WHERE attrelid IN ('document_chunks'::regclass, 'document_units'::regclass) "
            "AND attname = 'embedding' ORDER BY 1"
        ).fetchall()
    assert kind == f"vector({dim})" and dims == [(dim,)]
    # Retyping must keep the vectors in the row (migration 0010).
    assert storage == [("document_chunks", "m"), ("document_units", "m")]
    assert len(indexes) == 1 and str(org_id) in indexes[0][0]


def test_reembed_gives_units_to_chunks_stored_without_them(
    client: httpx.Client, live_server: Any, start_worker: Callable[..., Any]
) -> None:
    start_worker()
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
    # Headings only: ingestion makes its chunks its units; reembed must cut it the same way.
    outline = upload(
        client, owner, b"# Yard rules\n\n## Night shift\n", "outline.md", agent_id=agent["id"]
    ).json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    assert wait_done(client, owner, outline)["status"] == "READY"
    url = live_server.settings.libpq_database_url
    query = (
        "SELECT unit_text, heading_path FROM document_units WHERE document_id = %s "
        "ORDER BY unit_index"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        outline_units = conn.execute(query, (outline["id"],)).fetchall()
        assert outline_units
        units = conn.execute(query, (doc["id"],)).fetchall()
        assert units == [
            ("- Trailers are parked nose in.", "Yard"),
            ("- The yard gate closes at 22:00.", "Yard"),
        ]
        # As a document stored before units existed.
        conn.execute("DELETE FROM document_units WHERE document_id = %s", (doc["id"],))
    env = {**os.environ, "DATABASE_URL": live_server.settings.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "phi_core_api.documents.cli", "reembed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute(query, (doc["id"],)).fetchall() == units
        assert conn.execute(query, (outline["id"],)).fetchall() == outline_units
    hits = search(client, owner, agent["id"], "when does the gate close").json()["results"]
    assert "closes at 22:00" in hits[0]["text"][hits[0]["match_start"] : hits[0]["match_end"]]
