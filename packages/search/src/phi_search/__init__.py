"""Search shared by the services: :func:`search_documents` ranks an agent's chunks and its
organization's org-wide chunks for a question (vectors fused with full text),
:mod:`phi_search.memory` stores and searches memories the same way, and
:mod:`phi_search.tenant_index` keeps an own HNSW index for large organizations."""

from phi_search.rerank import LLMReranker, Reranker
from phi_search.search import (
    QueryEmbedder,
    SearchHit,
    SearchUnavailable,
    search,
    search_documents,
    vector_literal,
)

__all__ = [
    "LLMReranker",
    "Reranker",
    "QueryEmbedder",
    "SearchHit",
    "SearchUnavailable",
    "search",
    "search_documents",
    "vector_literal",
]
