"""Optional rerank of search's first passages by a language model.

Search ranks by embeddings and full text; a model that reads the question and the passages can
tell which one answers it when the embedding cannot (docs/benchmarks.md, "rerank"). This is off
by default: it costs a model call per search, and where the route is the builtin provider
there is no model to judge relevance with, so the order is kept as search made it (the builtin
result carries ``produced_without_llm``). A failed or unusable answer also keeps the order:
rerank can only move a passage search already found, never lose one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from phi_llm.errors import LLMError
from phi_llm.types import CallContext, LLMRouter
from phi_search.search import SearchHit

logger = logging.getLogger(__name__)

# The answer asked of the model: the number of the passage that answers the question best.
# One number, not a full order: small models (the ``light`` class) manage that reliably.
PICK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"passage": {"type": "integer"}},
    "required": ["passage"],
}
SYSTEM = (
    "You pick the passage that answers a question. Reply with JSON "
    '{"passage": N}, where N is the number of the passage that best answers the question.'
)
RERANK_TASK = "search_rerank"


class Reranker(Protocol):
    """Reorders search hits for a question; returns the same hits, possibly in a new order."""

    async def rerank(
        self, query: str, hits: Sequence[SearchHit], context: CallContext | None = None
    ) -> list[SearchHit]: ...


def rerank_prompt(query: str, hits: Sequence[SearchHit], max_chars: int) -> str:
    parts = [f"Question: {query}", ""]
    for i, hit in enumerate(hits, 1):
        where = " > ".join(hit.heading_path) or hit.document_name
        body = " ".join(hit.text.split())[:max_chars]
        parts += [f"Passage {i} ({where}):", body, ""]
    parts.append("Which passage answers the question best? Reply with its number as JSON.")
    return "\n".join(parts)


class LLMReranker:
    """Asks the router's ``task_class`` (``light`` by default) which of the first ``top_n``
    hits answers the question, and moves that one to the front; the rest keep their order."""

    def __init__(
        self,
        router: LLMRouter,
        *,
        top_n: int = 3,
        task_class: str = "light",
        max_chars: int = 600,
        max_tokens: int = 16,
    ) -> None:
        self.router = router
        self.top_n = top_n
        self.task_class = task_class
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    async def rerank(
        self, query: str, hits: Sequence[SearchHit], context: CallContext | None = None
    ) -> list[SearchHit]:
        hits = list(hits)
        head = hits[: self.top_n]
        if len(head) < 2:
            return hits
        call = context or CallContext()
        try:
            result = await self.router.chat(
                [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": rerank_prompt(query, head, self.max_chars)},
                ],
                task_class=self.task_class,
                json_schema=PICK_SCHEMA,
                schema_name="passage_pick",
                max_tokens=self.max_tokens,
                temperature=0,
                context=CallContext(call.org_id, call.agent_id, call.task_id, RERANK_TASK),
            )
        except LLMError as exc:
            logger.warning("search rerank skipped: %s", exc)
            return hits
        if result.produced_without_llm:
            return hits
        pick = result.parsed.get("passage") if isinstance(result.parsed, dict) else None
        if not isinstance(pick, int) or isinstance(pick, bool) or not 1 <= pick <= len(head):
            logger.warning("search rerank skipped: unusable answer %r", result.content[:80])
            return hits
        return [hits[pick - 1], *hits[: pick - 1], *hits[pick:]]
