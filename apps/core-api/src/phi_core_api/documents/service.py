"""Rules of the documents domain: upload, list, read, delete, search."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from typing import Any

import procrastinate
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_core_api.deps import OrgAccess
from phi_core_api.documents.extraction import (
    CONTENT_TYPES,
    EXTENSIONS,
    UnsupportedFileType,
    detect_kind,
)
from phi_core_api.documents.schemas import SearchHit, SearchIn, SourceType
from phi_core_api.documents.tenant_index import HAS_INDEX_SQL
from phi_core_api.documents.tenant_index import index_name as tenant_index_name
from phi_core_api.documents.upload_limit import too_large_detail
from phi_core_api.errors import ApiError, Conflict, InvalidInput, NotFound
from phi_core_api.storage import FileStorage
from phi_platform.db.models import Document

logger = logging.getLogger(__name__)

INGEST_TASK = "documents:ingest_document"


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class EmbeddingUnavailable(ApiError):
    status_code = 503


class DuplicateDocument(Conflict):
    """The same content (sha256) is already a document of the same agent, or org-wide."""

    def __init__(self, existing: Document) -> None:
        scope = f"/agents/{existing.agent_id}" if existing.agent_id else f"/orgs/{existing.org_id}"
        super().__init__(
            f"this file is already uploaded as document {existing.id} ({existing.name!r}, "
            f"{existing.status}); delete that document first to upload the file again",
            headers={"Location": f"{scope}/documents/{existing.id}"},
        )


def clean_filename(raw: str | None) -> str:
    """The file's own name: the last path segment, printable, at most 255 characters."""
    if not (raw or "").strip():
        raise InvalidInput("the uploaded file has no name")
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        raise InvalidInput(f"the file name {raw!r} is only path separators, not a file name")
    if set(name) <= {"."}:
        raise InvalidInput(f"the file name {name!r} is not a file name")
    return name[-255:]


async def enqueue_ingestion(jobs: procrastinate.App, document_id: uuid.UUID) -> None:
    """Queue the ingestion job; a job already waiting for this document is enough."""
    try:
        await jobs.configure_task(
            INGEST_TASK, queueing_lock=f"ingest:{document_id}", lock=f"ingest:{document_id}"
        ).defer_async(document_id=str(document_id))
    except procrastinate.exceptions.AlreadyEnqueued:
        pass


async def upload(
    session: AsyncSession,
    storage: FileStorage,
    jobs: procrastinate.App,
    access: OrgAccess,
    agent_id: uuid.UUID | None,
    filename: str | None,
    data: bytes,
    source_type: SourceType,
    max_bytes: int,
) -> Document:
    access.require_write()
    if len(data) > max_bytes:
        raise PayloadTooLarge(too_large_detail(max_bytes))
    if not data:
        raise InvalidInput("the file is empty (0 bytes)")
    name = clean_filename(filename)
    try:
        kind = detect_kind(data, name)
    except UnsupportedFileType as exc:
        raise UnsupportedMediaType(str(exc)) from exc
    sha256 = hashlib.sha256(data).hexdigest()
    existing = await _same_content(session, access.org_id, agent_id, sha256)
    if existing is not None:
        raise DuplicateDocument(existing)
    document = Document(
        org_id=access.org_id,
        agent_id=agent_id,
        name=name,
        source_type=source_type.value,
        storage_path="",
        content_type=CONTENT_TYPES[kind],
        size_bytes=len(data),
        sha256=sha256,
        status="PENDING",
        uploaded_by=access.user_id,
    )
    session.add(document)
    await session.flush()
    document.storage_path = f"{access.org_id}/{document.id}{EXTENSIONS[kind][0]}"
    await asyncio.to_thread(storage.save, document.storage_path, data)
    try:
        await session.commit()
    except BaseException:
        await asyncio.to_thread(storage.delete, document.storage_path)
        raise
    await session.refresh(document)
    try:
        await enqueue_ingestion(jobs, document.id)
    except Exception:
        # The document is safe; the worker's sweep queues PENDING documents left without a job.
        logger.exception("could not queue ingestion of %s", document.id)
    return document


async def _same_content(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, sha256: str
) -> Document | None:
    """A live document of the same scope with this content. Same-content uploads of one scope
    wait for each other (a transaction lock), so two at once cannot both get in. A FAILED
    document does not count: uploading the file again is how it is retried."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"document:{org_id}:{agent_id}:{sha256}"},
    )
    query = select(Document).where(
        Document.org_id == org_id,
        Document.agent_id == agent_id if agent_id is not None else Document.agent_id.is_(None),
        Document.sha256 == sha256,
        Document.status != "FAILED",
    )
    return (await session.scalars(query.limit(1))).first()


async def list_documents(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, limit: int, offset: int
) -> list[Document]:
    query = select(Document).where(Document.org_id == org_id)
    query = query.where(
        Document.agent_id == agent_id if agent_id is not None else Document.agent_id.is_(None)
    )
    query = query.order_by(Document.created_at.desc(), Document.id).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def get_document(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, document_id: uuid.UUID
) -> Document:
    document = await session.get(Document, document_id)
    if document is None or document.org_id != org_id or document.agent_id != agent_id:
        raise NotFound("document not found")
    return document


async def delete_document(session: AsyncSession, storage: FileStorage, document: Document) -> None:
    path = document.storage_path
    await session.delete(document)  # chunks go with it (ON DELETE CASCADE)
    await session.commit()
    if path:
        await asyncio.to_thread(storage.delete, path)


def vector_literal(vector: Any) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


# The :n nearest chunks of the tenant: from the organization's own HNSW index when it has one
# (iterative scan for the agent filter), otherwise by an exact scan of its rows; re-sorted
# exactly before the top_k are kept.
VECTOR_CANDIDATES = """
    SELECT c.id, c.embedding <=> CAST(:q AS vector) AS distance
      FROM document_chunks c
     WHERE c.org_id = :org_id
       AND (c.agent_id = :agent_id OR c.agent_id IS NULL)
       {type_filter}
     ORDER BY c.embedding <=> CAST(:q AS vector)
     LIMIT :n
"""

VECTOR_SEARCH_SQL = f"""
WITH hits AS MATERIALIZED ({VECTOR_CANDIDATES})
SELECT c.id, c.document_id, c.agent_id, c.chunk_text, c.metadata, h.distance,
       d.name, d.source_type
  FROM hits h
  JOIN document_chunks c ON c.id = h.id
  JOIN documents d ON d.id = c.document_id
 ORDER BY h.distance, c.id
 LIMIT :k
"""

# Reciprocal rank fusion of the vector candidates and a full-text ranking. websearch_to_tsquery
# needs every word of the query in the chunk, so a plain-language question rarely matches and
# leaves the vector ranking as it is, while codes and exact terms (SKU-4471, LOTO-R) that the
# embedding blurs are lifted to the top (measured in docs/benchmarks.md, "search quality").
HYBRID_SEARCH_SQL = f"""
WITH vec AS MATERIALIZED ({VECTOR_CANDIDATES}),
txt AS MATERIALIZED (
    SELECT c.id, ts_rank_cd(c.search_text, tq) AS text_rank
      FROM document_chunks c, websearch_to_tsquery('simple', :text) tq
     WHERE c.org_id = :org_id
       AND (c.agent_id = :agent_id OR c.agent_id IS NULL)
       AND c.search_text @@ tq
       {{type_filter}}
     ORDER BY text_rank DESC, c.id
     LIMIT :n
),
fused AS (
    SELECT id, sum(1.0 / (60 + rank)) AS rrf
      FROM (SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM vec
            UNION ALL
            SELECT id, row_number() OVER (ORDER BY text_rank DESC, id) AS rank FROM txt) ranks
     GROUP BY id
     ORDER BY rrf DESC, id
     LIMIT :k
)
SELECT c.id, c.document_id, c.agent_id, c.chunk_text, c.metadata,
       c.embedding <=> CAST(:q AS vector) AS distance, d.name, d.source_type
  FROM fused f
  JOIN document_chunks c ON c.id = f.id
  JOIN documents d ON d.id = c.document_id
 ORDER BY f.rrf DESC, c.id
"""


async def search(
    session: AsyncSession,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    query_vector: Any,
    data: SearchIn,
    ef_search: int,
    candidates: int,
    hybrid: bool = True,
) -> list[SearchHit]:
    """Best chunks among the agent's documents and its org's org-wide documents.

    ``candidates`` nearest chunks come from the organization's own HNSW index when
    ``phi-documents index-tenants`` built one, otherwise from an exact scan of its rows; with
    ``hybrid`` they are fused with a full-text ranking of the chunks holding every word of the
    query.
    """
    n = max(int(candidates), data.top_k)
    own_index = (
        await session.execute(text(HAS_INDEX_SQL), {"name": tenant_index_name(org_id)})
    ).scalar()
    if own_index:
        # One round trip for the three transaction-local settings: iterative scan for the
        # agent filter, the candidate list, and planning with the org id's value so that the
        # partial index matches even once the driver has prepared the statement. Without an
        # index of its own the organization's rows are scanned exactly (bitmap on org_id).
        await session.execute(
            text(
                "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.ef_search', :ef, true), "
                "set_config('plan_cache_mode', 'force_custom_plan', true)"
            ),
            {"ef": str(max(int(ef_search), n))},
        )
    params: dict[str, Any] = {
        "q": vector_literal(query_vector),
        "org_id": org_id,
        "agent_id": agent_id,
        "k": data.top_k,
        "n": n,
    }
    type_filter = ""
    if data.source_types:
        type_filter = "AND c.metadata->>'source_type' = ANY(:types)"
        params["types"] = [t.value for t in data.source_types]
    if hybrid:
        params["text"] = data.query
    sql = (HYBRID_SEARCH_SQL if hybrid else VECTOR_SEARCH_SQL).format(type_filter=type_filter)
    rows = (await session.execute(text(sql), params)).all()
    await session.commit()
    hits = []
    for row in rows:
        meta = row.metadata or {}
        hits.append(
            SearchHit(
                chunk_id=row.id,
                document_id=row.document_id,
                document_name=row.name,
                source_type=row.source_type,
                org_wide=row.agent_id is None,
                page=meta.get("page"),
                page_end=meta.get("page_end"),
                heading_path=meta.get("heading_path") or [],
                text=row.chunk_text,
                score=round(1.0 - float(row.distance), 6),
            )
        )
    return hits
