"""Search over the platform's document chunks: exact or per-tenant HNSW vector ranking, fused
with a full-text ranking (see docs/benchmarks.md for the measurements behind each choice)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_llm.embeddings import EmbeddingError
from phi_search.tenant_index import HAS_INDEX_SQL
from phi_search.tenant_index import index_name as tenant_index_name

SourceTypeName = Literal["JD", "SOP", "POLICY", "MANUAL", "OTHER"]


class SearchHit(BaseModel):
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    document_name: str
    source_type: SourceTypeName
    org_wide: bool
    page: int | None
    page_end: int | None
    heading_path: list[str]
    text: str
    score: float = Field(description="cosine similarity, higher is closer")


class QueryEmbedder(Protocol):
    """What search needs of an embedding provider (``phi_llm.embeddings`` providers fit)."""

    name: str

    # Any iterable of floats: the providers return numpy vectors.
    async def aembed_query(self, text: str) -> Iterable[float]: ...


class SearchUnavailable(EmbeddingError):
    """The embedding service failed, so the question could not be embedded. An
    ``EmbeddingError``, so the services' error mapping answers it with 503."""


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
    query: str,
    top_k: int,
    *,
    source_types: Sequence[str] | None = None,
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
    n = max(int(candidates), top_k)
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
        "k": top_k,
        "n": n,
    }
    type_filter = ""
    if source_types:
        type_filter = "AND c.metadata->>'source_type' = ANY(:types)"
        params["types"] = [str(t) for t in source_types]
    if hybrid:
        params["text"] = query
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


async def search_documents(
    session: AsyncSession,
    embedder: QueryEmbedder,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    query: str,
    top_k: int,
    *,
    source_types: Sequence[str] | None = None,
    ef_search: int = 200,
    candidates: int = 40,
    hybrid: bool = True,
) -> list[SearchHit]:
    """Embed ``query`` (``query:`` role) and return the best ``top_k`` chunks of the agent's
    and its organization's org-wide documents. Raises :class:`SearchUnavailable` when the
    embedding service fails."""
    try:
        vector = await embedder.aembed_query(query)
    except EmbeddingError as exc:
        raise SearchUnavailable(
            f"search is unavailable: the {embedder.name} embedding service failed ({exc})"
        ) from exc
    return await search(
        session,
        org_id,
        agent_id,
        vector,
        query,
        top_k,
        source_types=source_types,
        ef_search=ef_search,
        candidates=candidates,
        hybrid=hybrid,
    )
