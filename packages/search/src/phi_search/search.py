"""Search over the platform's document chunks: exact or per-tenant HNSW vector ranking, fused
with a full-text ranking (see docs/benchmarks.md for the measurements behind each choice)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_llm.embeddings import EmbeddingError

if TYPE_CHECKING:
    from phi_search.rerank import Reranker

SourceTypeName = Literal["JD", "SOP", "POLICY", "MANUAL", "OTHER"]


class SearchHit(BaseModel):
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    document_name: str
    source_type: SourceTypeName
    org_wide: bool
    page: int | None = Field(description="page the passage starts on (PDF), else null")
    page_end: int | None
    heading_path: list[str] = Field(description="the headings the passage sits under")
    text: str = Field(description="the passage: the chunk that holds the matched unit")
    match_start: int = Field(
        description="offset in `text` where the matched unit (sentence group, list item) starts"
    )
    match_end: int = Field(description="offset in `text` where the matched unit ends")
    score: float = Field(description="cosine similarity of the matched unit, higher is closer")


class QueryEmbedder(Protocol):
    """What search needs of an embedding provider (``phi_llm.embeddings`` providers fit)."""

    name: str

    # Any iterable of floats: the providers return numpy vectors.
    async def aembed_query(self, text: str) -> Iterable[float]: ...


# Reciprocal rank fusion constant (1 / (RRF_K + rank)) and units fetched per passage
# candidate; chosen on the labelled sets (docs/benchmarks.md, "ranking").
RRF_K = 60
UNITS_PER_CANDIDATE = 3
# Hierarchical vector score of a candidate passage: its best unit's cosine, plus these shares of
# the passage's own cosine and of the best passage cosine in its document. A question about a
# short document then still finds "the document" while the unit picks the section; tuned on
# half of each labelled set and checked on the other half (docs/benchmarks.md, "hierarchical").
PASSAGE_WEIGHT = 0.25
DOCUMENT_WEIGHT = 0.25


class SearchUnavailable(EmbeddingError):
    """The embedding service failed, so the question could not be embedded. An
    ``EmbeddingError``, so the services' error mapping answers it with 503."""


def vector_literal(vector: Any) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


# Small-to-big: search matches on units (a list item, a group of sentences: document_units,
# embedded and full-text indexed with their heading path) and returns the enclosing passage
# (document_chunks). Two rankings are fused by reciprocal rank fusion, each listing passages:
#   uvec: the passages of the :nu nearest units (units of the same passage count once), ranked
#         by a hierarchical score: best unit + :wp x the passage's own cosine + :wd x the best
#         passage cosine of its document among these candidates;
#   utxt: units holding every word of the question (websearch_to_tsquery, 'simple'): exact
#         codes and terms the embedding blurs.
# A third ranking, the nearest passages as wholes, was measured and left out: no better on the
# labelled sets and a second HNSW walk per query. Nearest units come from the organization's
# own HNSW index when it has one (iterative scan for the agent filter), otherwise from an exact
# scan of its rows. Measured in docs/benchmarks.md ("small-to-big", "ranking").
TENANT_FILTER = """{t}.org_id = :org_id AND ({t}.agent_id = :agent_id OR {t}.agent_id IS NULL)"""

SEARCH_SQL = """
WITH uvec AS MATERIALIZED (
    SELECT u.id, u.chunk_id, u.embedding <=> CAST(:q AS vector) AS distance
      FROM document_units u
     WHERE {unit_filter} {unit_type_filter}
     ORDER BY u.embedding <=> CAST(:q AS vector)
     LIMIT :nu
),
utxt AS MATERIALIZED (
    SELECT u.id, u.chunk_id, ts_rank_cd(u.search_text, tq) AS text_rank
      FROM document_units u, websearch_to_tsquery('simple', :text) tq
     WHERE {unit_filter} AND :hybrid AND u.search_text @@ tq {unit_type_filter}
     ORDER BY text_rank DESC, u.id
     LIMIT :nu
),
-- Each passage once per ranking, at the rank of its best unit.
uvec_best AS (
    SELECT DISTINCT ON (chunk_id) chunk_id, id AS unit_id, distance
      FROM uvec ORDER BY chunk_id, distance, id
),
-- The vector ranking's score: the best unit, the passage itself, the best passage of its
-- document among the candidates (all three cosines to the question).
uvec_passage AS (
    SELECT b.chunk_id, c.document_id, 1 - b.distance AS unit_sim,
           1 - (c.embedding <=> CAST(:q AS vector)) AS passage_sim
      FROM uvec_best b JOIN document_chunks c ON c.id = b.chunk_id
),
uvec_scored AS (
    SELECT chunk_id, unit_sim + :wp * passage_sim
           + :wd * max(passage_sim) OVER (PARTITION BY document_id) AS score
      FROM uvec_passage
),
utxt_best AS (
    SELECT DISTINCT ON (chunk_id) chunk_id, id AS unit_id, text_rank
      FROM utxt ORDER BY chunk_id, text_rank DESC, id
),
ranks AS (
    SELECT chunk_id, row_number() OVER (ORDER BY score DESC, chunk_id) AS rank FROM uvec_scored
    UNION ALL
    SELECT chunk_id, row_number() OVER (ORDER BY text_rank DESC, chunk_id) FROM utxt_best
),
fused AS (
    SELECT chunk_id, sum(1.0 / (:rrf_k + rank)) AS rrf
      FROM ranks WHERE rank <= :n
     GROUP BY chunk_id
     ORDER BY rrf DESC, chunk_id
     LIMIT :k
)
SELECT c.id, c.document_id, c.agent_id, c.chunk_text, c.metadata, d.name, d.source_type,
       m.char_start, m.char_end,
       coalesce(v.distance, m.embedding <=> CAST(:q AS vector),
                c.embedding <=> CAST(:q AS vector)) AS distance
  FROM fused f
  JOIN document_chunks c ON c.id = f.chunk_id
  JOIN documents d ON d.id = c.document_id
  LEFT JOIN uvec_best v ON v.chunk_id = f.chunk_id
  LEFT JOIN utxt_best t ON t.chunk_id = f.chunk_id
  -- The unit shown as the match: the one holding the question's words, else the nearest.
  LEFT JOIN document_units m ON m.id = coalesce(t.unit_id, v.unit_id)
 ORDER BY f.rrf DESC, c.id
"""


async def prepare_tenant_scan(session: AsyncSession, ef_search: int) -> None:
    """Set up the transaction for a tenant-filtered vector search (documents or memories).

    One round trip for the three transaction-local settings: iterative scan for the agent
    filter, the candidate list, and planning with the org id's value so that the
    organization's partial HNSW index matches even once the driver has prepared the
    statement. They are sent whether or not the organization has its own index: without one
    they change nothing (there is no other HNSW index its rows can be read through, so its
    rows are scanned exactly, bitmap on org_id), and a separate own-index check cost one more
    round trip per search (docs/benchmarks.md, "search latency with units")."""
    await session.execute(
        text(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.ef_search', :ef, true), "
            "set_config('plan_cache_mode', 'force_custom_plan', true)"
        ),
        {"ef": str(int(ef_search))},
    )


async def embed_question(embedder: QueryEmbedder, query: str) -> Any:
    """The question's vector (``query:`` role); :class:`SearchUnavailable` when the embedding
    service fails."""
    try:
        return await embedder.aembed_query(query)
    except EmbeddingError as exc:
        raise SearchUnavailable(
            f"search is unavailable: the {embedder.name} embedding service failed ({exc})"
        ) from exc


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
    rrf_k: int = RRF_K,
    passage_weight: float = PASSAGE_WEIGHT,
    document_weight: float = DOCUMENT_WEIGHT,
) -> list[SearchHit]:
    """Best passages among the agent's documents and its org's org-wide documents, each with
    the unit (sentence group, list item) that matched; see ``SEARCH_SQL``."""
    n = max(int(candidates), top_k)
    await prepare_tenant_scan(session, max(int(ef_search), n * UNITS_PER_CANDIDATE))
    params: dict[str, Any] = {
        "q": vector_literal(query_vector),
        "org_id": org_id,
        "agent_id": agent_id,
        "k": top_k,
        "n": n,
        # Several units of one passage are near a question: fetch more units than passages.
        "nu": n * UNITS_PER_CANDIDATE,
        "rrf_k": int(rrf_k),
        "wp": float(passage_weight),
        "wd": float(document_weight),
        "text": query,
        "hybrid": bool(hybrid),
    }
    unit_type_filter = ""
    if source_types:
        unit_type_filter = (
            "AND EXISTS (SELECT 1 FROM documents ud WHERE ud.id = u.document_id "
            "AND ud.source_type = ANY(:types))"
        )
        params["types"] = [str(t) for t in source_types]
    sql = SEARCH_SQL.format(
        unit_filter=TENANT_FILTER.format(t="u"), unit_type_filter=unit_type_filter
    )
    rows = (await session.execute(text(sql), params)).all()
    await session.commit()
    hits = []
    for row in rows:
        meta = row.metadata or {}
        start = row.char_start if row.char_start is not None else 0
        end = row.char_end if row.char_end is not None else len(row.chunk_text)
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
                match_start=start,
                match_end=end,
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
    reranker: Reranker | None = None,
    rerank_top_n: int = 0,
) -> list[SearchHit]:
    """Embed ``query`` (``query:`` role) and return the best ``top_k`` chunks of the agent's
    and its organization's org-wide documents. Raises :class:`SearchUnavailable` when the
    embedding service fails. With a ``reranker`` (optional, see :mod:`phi_search.rerank`) the
    first ``max(top_k, rerank_top_n)`` hits are reordered by it before the first ``top_k`` are
    returned."""
    vector = await embed_question(embedder, query)
    hits = await search(
        session,
        org_id,
        agent_id,
        vector,
        query,
        max(top_k, rerank_top_n) if reranker is not None else top_k,
        source_types=source_types,
        ef_search=ef_search,
        candidates=candidates,
        hybrid=hybrid,
    )
    if reranker is not None:
        from phi_llm.types import CallContext

        hits = await reranker.rerank(query, hits, CallContext(org_id=org_id, agent_id=agent_id))
    return hits[:top_k]
