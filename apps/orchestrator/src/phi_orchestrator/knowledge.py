"""What the workflows search and remember: the agent's documents, and the memories of its
namespace and its organization's (``phi_search``), with one embedding model loaded on first use.

Results are plain dicts, as they go into a task's checkpointed state and its output."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import text

from phi_orchestrator.settings import OrchestratorSettings
from phi_orchestrator.tasks.audit import ActingTask
from phi_search import memory as store
from phi_search.memory import MemoryLimits, MemoryRecord, MemorySource
from phi_search.search import SearchUnavailable, search_documents
from phi_service.audit import Target, record_event

logger = logging.getLogger(__name__)


def memory_dict(memory: MemoryRecord, score: float | None = None) -> dict[str, Any]:
    """A memory as workflows pass it on: its text with its source and date."""
    return {
        "memory_id": str(memory.id),
        "namespace": memory.namespace,
        "text": memory.text,
        "source": memory.source,
        "source_task_id": str(memory.source_task_id) if memory.source_task_id else None,
        "source_user_id": str(memory.source_user_id) if memory.source_user_id else None,
        "report_day": memory.report_day.isoformat() if memory.report_day else None,
        "created_at": memory.created_at.isoformat(),
        "updated_at": memory.updated_at.isoformat(),
        "score": score,
    }


async def _has_rows(session: Any, table: str, org_id: uuid.UUID, agent_id: uuid.UUID) -> bool:
    """Whether the agent or its organization has anything in ``table``: with nothing to
    search, the question is not even embedded."""
    return bool(
        (
            await session.execute(
                text(
                    f"SELECT EXISTS (SELECT 1 FROM {table} WHERE org_id = :org "
                    "AND (agent_id = :agent OR agent_id IS NULL))"
                ),
                {"org": org_id, "agent": agent_id},
            )
        ).scalar()
    )


class Knowledge:
    """Document search and memory for the task runner (``TaskHandle`` calls it)."""

    def __init__(self, settings: OrchestratorSettings, sessionmaker: Any) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.limits = MemoryLimits.from_settings(settings)
        self._provider: Any = None
        self._query_embedder: Any = None

    @property
    def provider(self) -> Any:
        """The embedding provider (documents' model), loaded by the first search or memory."""
        if self._provider is None:
            from phi_llm.embeddings import get_embedding_provider
            from phi_search.query_embedding import cached

            self._provider = get_embedding_provider(self.settings)
            self._query_embedder = cached(self._provider, self.settings.search_query_cache_size)
        return self._provider

    @property
    def query_embedder(self) -> Any:
        self.provider  # noqa: B018
        return self._query_embedder

    async def search_documents(
        self, org_id: uuid.UUID, agent_id: uuid.UUID, query: str, top_k: int
    ) -> list[dict[str, Any]]:
        async with self.sessionmaker() as session:
            if not await _has_rows(session, "document_chunks", org_id, agent_id):
                return []
            try:
                hits = await search_documents(
                    session,
                    self.query_embedder,
                    org_id,
                    agent_id,
                    query,
                    top_k,
                    ef_search=self.settings.search_ef_search,
                    candidates=self.settings.search_candidates,
                    hybrid=self.settings.search_hybrid,
                )
            except SearchUnavailable:
                return []
        return [
            {
                "document_id": str(h.document_id),
                "document_name": h.document_name,
                "text": h.text,
                "excerpt": " ".join(h.text.split())[:300],
                "score": h.score,
                "page": h.page,
            }
            for h in hits
        ]

    async def recall(
        self, org_id: uuid.UUID, agent_id: uuid.UUID, query: str, top_k: int
    ) -> list[dict[str, Any]]:
        """The best live memories of the agent's namespace and its organization's for
        ``query``; [] when there are none or the embedding service is down."""
        async with self.sessionmaker() as session:
            if not await _has_rows(session, "memories", org_id, agent_id):
                return []
            try:
                hits = await store.search_memories(
                    session,
                    self.query_embedder,
                    org_id,
                    agent_id,
                    query,
                    top_k,
                    ef_search=self.settings.search_ef_search,
                    candidates=self.settings.search_candidates,
                    hybrid=self.settings.search_hybrid,
                )
            except SearchUnavailable as exc:
                logger.warning("memories not searched: %s", exc)
                return []
        return [memory_dict(h, h.score) for h in hits]

    async def remember(
        self,
        org_id: uuid.UUID,
        agent_id: uuid.UUID,
        task_id: uuid.UUID,
        text_: str,
        valid_until: datetime | None = None,
        by: ActingTask | None = None,
    ) -> dict[str, Any]:
        """Store a memory in the agent's namespace with the task as its source. The same text
        already there is not stored twice: that memory is returned (a step run again after a
        crash remembers once). Raises ``phi_service.errors.InvalidInput`` (empty or long text,
        past ``valid_until``) and ``phi_search.memory.MemoryStoreFull``. ``by``: the task as
        the actor of the ``memory.added`` event, written in the memory's transaction."""
        async with self.sessionmaker() as session:

            async def audit(memory_id: uuid.UUID) -> None:
                if by is not None:
                    await record_event(
                        session,
                        org_id,
                        by.actor,
                        "memory.added",
                        Target("memory", memory_id),
                        scope="agent",
                        agent_id=agent_id,
                        agent_name=by.agent_name,
                        source="task",
                        task_id=task_id,
                    )

            try:
                memory = await store.add_memory(
                    session,
                    self.provider,
                    org_id=org_id,
                    agent_id=agent_id,
                    text_=text_,
                    source=MemorySource.task(task_id),
                    limits=self.limits,
                    valid_until=valid_until,
                    before_commit=audit,
                )
            except store.DuplicateMemory as exc:
                memory = exc.existing
        return memory_dict(memory)

    async def remember_report_day(
        self,
        org_id: uuid.UUID,
        agent_id: uuid.UUID,
        task_id: uuid.UUID,
        day: date,
        text_: str,
        by: ActingTask | None = None,
    ) -> dict[str, Any]:
        """The agent's memory of a report's ``day`` (one per agent and day, replaced). ``by``:
        the task as the actor of its ``memory.added`` (a new day) or ``memory.changed`` (a
        day's report run again with another text) event; the same text again records none."""
        async with self.sessionmaker() as session:

            async def audit(memory_id: uuid.UUID, replaced: bool) -> None:
                if by is None:
                    return
                details: dict[str, Any] = {
                    "scope": "agent",
                    "agent_id": agent_id,
                    "agent_name": by.agent_name,
                    "task_id": task_id,
                    "report_day": day.isoformat(),
                }
                if replaced:
                    details["text_changed"] = True
                else:
                    details["source"] = "task"
                await record_event(
                    session,
                    org_id,
                    by.actor,
                    "memory.changed" if replaced else "memory.added",
                    Target("memory", memory_id),
                    **details,
                )

            memory = await store.remember_report_day(
                session,
                self.provider,
                org_id=org_id,
                agent_id=agent_id,
                task_id=task_id,
                day=day,
                text_=text_,
                limits=self.limits,
                before_commit=audit,
            )
        return memory_dict(memory)
