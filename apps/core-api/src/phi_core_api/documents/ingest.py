"""The ingestion pipeline of one document: read, extract, chunk, embed, store.

Used by the background job (``tasks.py``) and by ``bench/ingestion.py``, which times the
stages. Each chunk is stored with its units (``document_units``: the list items and sentence
groups search matches on), all embedded in one batch. Every outcome leaves the document READY
(with its chunks) or FAILED (with a reason a person can act on); chunks and units are written
with COPY in the same transaction that marks the document READY, so a search never sees half a
document and a retried job starts clean.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from phi_core_api.documents.chunking import (
    HEADING_PATH_SEPARATOR,
    Chunk,
    ChunkingOptions,
    Unit,
    chunk_document,
    document_units,
    embedding_text,
)
from phi_core_api.documents.extraction import ExtractionError, ExtractionLimits, extract
from phi_core_api.storage import FileStorage
from phi_llm.types import EmbeddingBackend


@dataclass
class IngestReport:
    status: str  # READY, FAILED, SKIPPED
    error: str | None = None
    pages: int | None = None
    chunks: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def mark_failed(conn: psycopg.Connection[Any], document_id: uuid.UUID, reason: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE documents SET status = 'FAILED', error = %s, chunk_count = 0 WHERE id = %s",
            (reason[:2000], document_id),
        )
        conn.execute("DELETE FROM document_chunks WHERE document_id = %s", (document_id,))


def claim(conn: psycopg.Connection[Any], document_id: uuid.UUID) -> dict[str, Any] | None:
    """Mark the document PROCESSING; None when it is gone or already finished."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE documents SET status = 'PROCESSING', error = NULL "
            "WHERE id = %s AND status IN ('PENDING', 'PROCESSING') "
            "RETURNING org_id, agent_id, name, source_type, storage_path",
            (document_id,),
        ).fetchone()
    if row is None:
        return None
    keys = ("org_id", "agent_id", "name", "source_type", "storage_path")
    return dict(zip(keys, row, strict=True))


def ingest(
    conn: psycopg.Connection[Any],
    storage: FileStorage,
    provider: EmbeddingBackend,
    document_id: uuid.UUID,
    limits: ExtractionLimits,
    chunking: ChunkingOptions | None = None,
) -> IngestReport:
    """Run the pipeline for one claimed-or-claimable document. Embedding errors propagate
    (the job decides whether to retry); everything else ends in READY or FAILED."""
    doc = claim(conn, document_id)
    if doc is None:
        return IngestReport(status="SKIPPED")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        data = storage.read(doc["storage_path"])
    except FileNotFoundError:
        mark_failed(conn, document_id, "the stored file is missing; upload it again")
        return IngestReport(status="FAILED", error="the stored file is missing")
    try:
        extracted = extract(data, doc["name"], limits)
    except ExtractionError as exc:
        mark_failed(conn, document_id, str(exc))
        return IngestReport(status="FAILED", error=str(exc))
    times["extract"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chunks = chunk_document(extracted, chunking)
    times["chunk"] = time.perf_counter() - t0
    if not chunks:
        mark_failed(conn, document_id, "the document contains no text")
        return IngestReport(status="FAILED", error="the document contains no text")

    units = document_units(chunks)
    t0 = time.perf_counter()
    vectors = provider.embed_passages(
        [embedding_text(c.heading_path, c.text) for c in chunks]
        + [embedding_text(c.heading_path, u.text) for c, u in units]
    )
    chunk_vectors, unit_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
    times["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with conn.transaction():
        # Lock the row: a delete that raced us wins, and we write nothing.
        still_there = conn.execute(
            "SELECT 1 FROM documents WHERE id = %s AND status = 'PROCESSING' FOR UPDATE",
            (document_id,),
        ).fetchone()
        if still_there is None:
            return IngestReport(status="SKIPPED")
        conn.execute("DELETE FROM document_chunks WHERE document_id = %s", (document_id,))
        chunk_ids = {chunk.index: uuid.uuid4() for chunk in chunks}
        with conn.cursor().copy(
            "COPY document_chunks (id, document_id, org_id, agent_id, chunk_index, chunk_text, "
            "embedding, metadata) FROM STDIN"
        ) as copy:
            for chunk, vector in zip(chunks, chunk_vectors, strict=True):
                meta = chunk.metadata() | {"source_type": doc["source_type"]}
                copy.write_row(
                    (
                        chunk_ids[chunk.index],
                        document_id,
                        doc["org_id"],
                        doc["agent_id"],
                        chunk.index,
                        chunk.text,
                        vector,
                        Jsonb(meta),
                    )
                )
        write_units(conn, doc, document_id, chunk_ids, units, unit_vectors)
        conn.execute(
            "UPDATE documents SET status = 'READY', error = NULL, chunk_count = %s, "
            "page_count = %s WHERE id = %s",
            (len(chunks), extracted.page_count, document_id),
        )
    times["insert"] = time.perf_counter() - t0
    return IngestReport(
        status="READY", pages=extracted.page_count, chunks=len(chunks), seconds=times
    )


def write_units(
    conn: psycopg.Connection[Any],
    doc: dict[str, Any],
    document_id: uuid.UUID,
    chunk_ids: dict[int, uuid.UUID],
    units: list[tuple[Chunk, Unit]],
    vectors: Any,
) -> None:
    """COPY the units of a document's chunks (the chunk rows exist already)."""
    with conn.cursor().copy(
        "COPY document_units (chunk_id, document_id, org_id, agent_id, unit_index, char_start, "
        "char_end, unit_text, heading_path, embedding) FROM STDIN"
    ) as copy:
        for (chunk, unit), vector in zip(units, vectors, strict=True):
            copy.write_row(
                (
                    chunk_ids[chunk.index],
                    document_id,
                    doc["org_id"],
                    doc["agent_id"],
                    unit.index,
                    unit.char_start,
                    unit.char_end,
                    unit.text,
                    HEADING_PATH_SEPARATOR.join(chunk.heading_path),
                    vector,
                )
            )


def connect(url: str) -> psycopg.Connection[Any]:
    """A psycopg connection that sends numpy arrays as pgvector values."""
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(url, autocommit=True)
    register_vector(conn)
    return conn
