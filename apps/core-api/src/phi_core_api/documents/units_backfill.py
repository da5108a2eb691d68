"""Search units for documents stored without them, built by the workers on their own.

Documents ingested before migration 0008 have chunks (with vectors) but no units, and search
matches on units only: such a document cannot be found. A worker looks for them when it starts
and every minute after (``tasks.queue_missing_units``) and queues one job per document
(``tasks.build_document_units``), which cuts the units from the stored chunks and embeds the
units alone: the chunks keep their vectors, and the file is not read again.

* Bounded: at most :data:`BATCH` documents are waiting or running at any time; each run tops
  the queue up to that, so a database with many old documents is worked through batch after
  batch without flooding the queue ahead of new uploads.
* Fair: each run takes the organizations' documents in turns (the oldest document of every
  organization first, then the second of each...), and the jobs carry their organization's
  lock like ingestion does, so one organization's backlog holds at most one worker slot.
* No double work: a document with a job waiting or running is not queued again (the job's
  queueing lock says the same), and the job writes under the document's row lock only when
  the document still has no units and the same chunks; ingestion and ``phi-documents
  reembed`` take that lock too.
* A document whose job failed for good (after its retries) is not queued again; its failed
  job stays in ``procrastinate_jobs``, and ``phi-documents reembed`` rebuilds every unit.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from phi_core_api.documents.chunking import Chunk, document_units, embedding_text
from phi_core_api.documents.ingest import write_units
from phi_llm.types import EmbeddingBackend

logger = logging.getLogger(__name__)

BUILD_TASK = "documents:build_document_units"
# Documents with a units job waiting or running, at most. A job embeds one document's units
# (a 100-page manual: ~1,500 units, about a minute on 2 cores with the local model).
BATCH = 20

_FIND = """
WITH jobs AS (
    SELECT j.args->>'document_id' AS document_id, j.status FROM procrastinate_jobs j
    WHERE j.task_name = %(task)s AND j.status IN ('todo', 'doing', 'failed')
), waiting AS (
    SELECT document_id FROM jobs WHERE status IN ('todo', 'doing')
), missing AS (
    SELECT d.id, d.org_id,
           row_number() OVER (PARTITION BY d.org_id ORDER BY d.created_at, d.id) AS turn
    FROM documents d
    WHERE d.status = 'READY' AND d.chunk_count > 0
      AND NOT EXISTS (SELECT 1 FROM document_units u WHERE u.document_id = d.id)
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.document_id = d.id::text)
)
SELECT id, org_id, (SELECT count(*) FROM waiting) AS waiting, (SELECT count(*) FROM missing)
FROM missing ORDER BY turn, id LIMIT %(limit)s
"""


@dataclass
class Found:
    documents: list[tuple[uuid.UUID, uuid.UUID]]  # (document, organization) to queue now
    waiting: int  # jobs already waiting or running
    missing: int  # documents without units and without a job


async def find_documents_without_units(conn: Any, batch: int = BATCH) -> Found:
    """READY documents with chunks and no units, in organization turns, enough to bring the
    waiting jobs up to ``batch``."""
    rows = await (await conn.execute(_FIND, {"task": BUILD_TASK, "limit": batch})).fetchall()
    if not rows:
        return Found([], 0, 0)
    waiting, missing = int(rows[0][2]), int(rows[0][3])
    room = max(0, batch - waiting)
    return Found([(r[0], r[1]) for r in rows[:room]], waiting, missing)


async def unit_vector_dim(conn: Any) -> int:
    row = await (
        await conn.execute(
            "SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = 'document_units'::regclass AND attname = 'embedding'"
        )
    ).fetchone()
    return int(row[0]) if row else -1


def build_units(
    conn: psycopg.Connection[Any], provider: EmbeddingBackend, document_id: uuid.UUID
) -> int | None:
    """Cut and embed the units of a READY document's stored chunks and write them; the chunks'
    vectors are kept. Returns the number of units written, or None when there was nothing to
    do (the document is gone, not READY, already has units, or was ingested again)."""
    rows = conn.execute(
        "SELECT c.id, c.chunk_index, c.chunk_text, c.metadata->'heading_path', d.org_id, "
        "d.agent_id FROM document_chunks c JOIN documents d ON d.id = c.document_id "
        "WHERE c.document_id = %s AND d.status = 'READY' "
        "AND NOT EXISTS (SELECT 1 FROM document_units u WHERE u.document_id = d.id) "
        "ORDER BY c.chunk_index",
        (document_id,),
    ).fetchall()
    if not rows:
        return None
    chunks = [Chunk.stored(r[1], r[2], r[3]) for r in rows]
    chunk_ids = {r[1]: r[0] for r in rows}
    units = document_units(chunks)
    if not units:
        return None
    vectors = provider.embed_passages([embedding_text(c.heading_path, u.text) for c, u in units])
    with conn.transaction():
        # Ingestion and reembed write under this lock too; a delete waits for it.
        locked = conn.execute(
            "SELECT 1 FROM documents WHERE id = %s AND status = 'READY' FOR UPDATE",
            (document_id,),
        ).fetchone()
        if locked is None:
            return None
        has_units = conn.execute(
            "SELECT 1 FROM document_units WHERE document_id = %s LIMIT 1", (document_id,)
        ).fetchone()
        current = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM document_chunks WHERE document_id = %s", (document_id,)
            ).fetchall()
        }
        if has_units is not None or current != set(chunk_ids.values()):
            return None  # built or re-ingested while we were embedding
        doc = {"org_id": rows[0][4], "agent_id": rows[0][5]}
        write_units(conn, doc, document_id, chunk_ids, units, vectors)
    return len(units)
