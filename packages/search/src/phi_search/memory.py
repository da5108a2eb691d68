"""Memories: short facts an agent or its organization keeps (``memories``, migration 0013),
stored with their source and date and searched like documents.

Two namespaces, the names an exported agent config already carries: the organization's
(``agent_id`` None, recalled by every agent of it) and each agent's own. Search ranks a
namespace's live memories for a question by meaning (the same embedding model as documents,
over the organization's own HNSW index when it has one: :mod:`phi_search.tenant_index`)
fused with their words (full text) by reciprocal rank fusion, as document search does; a
memory of a day the question names (a report's) comes first. Expired memories
(``valid_until`` passed) are never returned; the workers' housekeeping deletes them
(:func:`delete_expired`) and embeds memories stored while the embedding service was down
(:func:`embed_missing`), which until then are found by their words only.

Every function takes the caller's SQLAlchemy ``AsyncSession`` and commits what it writes.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_llm.embeddings import EmbeddingError
from phi_search.search import (
    RRF_K,
    QueryEmbedder,
    embed_question,
    prepare_tenant_scan,
    vector_literal,
)
from phi_service.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

SourceKind = Literal["task", "user"]
Namespace = Literal["agent", "org"]


class PassageEmbedder(Protocol):
    """What storing a memory needs of an embedding provider (``phi_llm.embeddings``
    providers, ``EmbeddingProcessPool`` and the query cache fit)."""

    name: str

    async def aembed_passages(self, texts: Sequence[str]) -> Any: ...


@dataclass(frozen=True)
class MemorySource:
    """Where a memory came from: a task (its id) or a person (their user id)."""

    kind: SourceKind
    id: uuid.UUID

    @classmethod
    def task(cls, task_id: uuid.UUID) -> MemorySource:
        return cls("task", task_id)

    @classmethod
    def user(cls, user_id: uuid.UUID) -> MemorySource:
        return cls("user", user_id)


# Called with the memory's id after a write succeeded, before its commit: what it writes on
# the same session commits or rolls back with the memory (core-api's audit events).
BeforeCommit = Callable[[uuid.UUID], Awaitable[None]]
# The same for a report's memory of its day: with whether it replaced the day's earlier text.
ReportDayCommit = Callable[[uuid.UUID, bool], Awaitable[None]]


@dataclass(frozen=True)
class MemoryLimits:
    """``max_per_org``: live memories one organization may keep (both namespaces);
    ``max_chars``: the longest text. Services build it from their settings
    (``PHI_MAX_MEMORIES_PER_ORG``, ``PHI_MEMORY_MAX_CHARS``) with :meth:`from_settings`."""

    max_per_org: int = 10_000
    max_chars: int = 2000

    @classmethod
    def from_settings(cls, settings: Any) -> MemoryLimits:
        return cls(settings.max_memories_per_org, settings.memory_max_chars)


class MemoryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("memory not found (it may have been deleted or have expired)")


class MemoryStoreFull(InvalidInput):
    """The organization keeps as many memories as it may: 422 saying so."""


class DuplicateMemory(Conflict):
    """The same text is already a live memory of the same namespace; ``existing`` is it."""

    def __init__(self, existing: MemoryRecord) -> None:
        super().__init__(
            f"the same text is already memory {existing.id} of this "
            f"{'agent' if existing.agent_id else 'organization'}; edit that one instead"
        )
        self.existing = existing


class MemoryRecord(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    agent_id: uuid.UUID | None = Field(description="null: the organization's namespace")
    namespace: Namespace = Field(
        description="'agent': the agent's own; 'org': the organization's, every agent's"
    )
    text: str
    source: SourceKind = Field(description="'task': written by a task; 'user': by a person")
    source_task_id: uuid.UUID | None = Field(description="the task that wrote it (source task)")
    source_user_id: uuid.UUID | None = Field(description="who wrote it (source user)")
    report_day: date | None = Field(description="the day a report memory is about")
    valid_until: datetime | None = Field(description="not recalled after this; null: always")
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    embedded: bool = Field(
        description="false while the memory waits for its vector (found by its words only)"
    )


class MemoryHit(MemoryRecord):
    score: float | None = Field(
        description="cosine similarity to the question, higher is closer; null: not embedded"
    )


COLUMNS = (
    "m.id, m.org_id, m.agent_id, m.text, m.source, m.source_task_id, m.source_user_id, "
    "m.report_day, m.valid_until, m.created_by, m.updated_by, m.created_at, m.updated_at, "
    "m.embedding IS NOT NULL AS embedded"
)
LIVE = "(m.valid_until IS NULL OR m.valid_until > now())"


def _record(row: Any, cls: type[MemoryRecord] = MemoryRecord, **extra: Any) -> Any:
    data = dict(row._mapping)
    data.pop("distance", None)
    data["namespace"] = "agent" if data["agent_id"] else "org"
    return cls(**data, **extra)


def _namespace(agent_id: uuid.UUID | None) -> str:
    """One namespace exactly: the agent's own, or the organization's."""
    if agent_id is None:
        return "m.org_id = :org_id AND m.agent_id IS NULL"
    return "m.org_id = :org_id AND m.agent_id = :agent_id"


def clean_text(value: str, limits: MemoryLimits) -> str:
    """The text as stored: without surrounding white space, non-empty, within the limit."""
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput("a memory needs some text; this one is empty")
    if "\x00" in cleaned:
        raise InvalidInput("the memory's text contains a NUL character; remove it")
    if len(cleaned) > limits.max_chars:
        raise InvalidInput(
            f"the memory's text has {len(cleaned)} characters; the most is {limits.max_chars} "
            "(PHI_MEMORY_MAX_CHARS): keep one fact per memory"
        )
    return cleaned


def _check_valid_until(valid_until: datetime | None) -> None:
    if valid_until is None:
        return
    if valid_until.tzinfo is None:
        raise InvalidInput("valid_until needs a time zone (e.g. 2026-12-31T23:59:00Z or +01:00)")
    if valid_until <= datetime.now(UTC):
        raise InvalidInput(f"valid_until {valid_until.isoformat()} is already past")


async def _embed(embedder: PassageEmbedder | None, value: str) -> str | None:
    """The text's vector as a pgvector literal, or None when the embedding service failed
    (the memory is stored all the same; :func:`embed_missing` gives it its vector later)."""
    if embedder is None:
        return None
    try:
        vectors = await embedder.aembed_passages([value])
    except EmbeddingError as exc:
        logger.warning("memory stored without its vector for now: %s", exc)
        return None
    return vector_literal(vectors[0])


async def _lock_org(session: AsyncSession, org_id: uuid.UUID) -> None:
    # Adds of one organization wait for each other, so two at once cannot both take the
    # last free place, nor both store the same text.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"memories:{org_id}"},
    )


async def _check_room(session: AsyncSession, org_id: uuid.UUID, limits: MemoryLimits) -> None:
    count = await session.scalar(
        text(f"SELECT count(*) FROM memories m WHERE m.org_id = :org_id AND {LIVE}"),
        {"org_id": org_id},
    )
    if (count or 0) >= limits.max_per_org:
        raise MemoryStoreFull(
            f"this organization keeps {count} memories, the most it may "
            f"(PHI_MAX_MEMORIES_PER_ORG={limits.max_per_org}); delete some first"
        )


async def count_memories(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Live memories of the organization, both namespaces (what the limit counts)."""
    return int(
        await session.scalar(
            text(f"SELECT count(*) FROM memories m WHERE m.org_id = :org_id AND {LIVE}"),
            {"org_id": org_id},
        )
        or 0
    )


async def list_memories(
    session: AsyncSession,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[MemoryRecord], int]:
    """One namespace's live memories, newest first, and how many it has in all."""
    params = {"org_id": org_id, "agent_id": agent_id, "limit": limit, "offset": offset}
    where = f"{_namespace(agent_id)} AND {LIVE}"
    rows = await session.execute(
        text(
            f"SELECT {COLUMNS} FROM memories m WHERE {where} "
            "ORDER BY m.created_at DESC, m.id DESC LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    total = await session.scalar(text(f"SELECT count(*) FROM memories m WHERE {where}"), params)
    return [_record(r) for r in rows], int(total or 0)


async def get_memory(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, memory_id: uuid.UUID
) -> MemoryRecord:
    """A live memory of exactly this namespace; :class:`MemoryNotFound` otherwise."""
    row = (
        await session.execute(
            text(
                f"SELECT {COLUMNS} FROM memories m WHERE m.id = :id AND {_namespace(agent_id)} "
                f"AND {LIVE}"
            ),
            {"id": memory_id, "org_id": org_id, "agent_id": agent_id},
        )
    ).first()
    if row is None:
        raise MemoryNotFound()
    return _record(row)  # type: ignore[no-any-return]


async def _same_text(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, value: str
) -> MemoryRecord | None:
    row = (
        await session.execute(
            text(
                f"SELECT {COLUMNS} FROM memories m WHERE {_namespace(agent_id)} AND {LIVE} "
                "AND m.text = :text LIMIT 1"
            ),
            {"org_id": org_id, "agent_id": agent_id, "text": value},
        )
    ).first()
    return _record(row) if row is not None else None


async def add_memory(
    session: AsyncSession,
    embedder: PassageEmbedder | None,
    *,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    text_: str,
    source: MemorySource,
    limits: MemoryLimits,
    valid_until: datetime | None = None,
    before_commit: BeforeCommit | None = None,
) -> MemoryRecord:
    """Store a memory in the agent's namespace (``agent_id``) or the organization's (None).

    The text is embedded first (``passage:`` role), outside the transaction; if the embedding
    service fails the memory is stored without a vector (see the module). Raises
    :class:`InvalidInput` for empty or over-long text or a past ``valid_until``,
    :class:`MemoryStoreFull` when the organization has ``limits.max_per_org`` live memories,
    :class:`DuplicateMemory` (``.existing``) when the namespace already has the same text.
    ``before_commit`` (given the new memory's id) writes in the same transaction (the audit
    event of the addition)."""
    value = clean_text(text_, limits)
    _check_valid_until(valid_until)
    vector = await _embed(embedder, value)
    await _lock_org(session, org_id)
    existing = await _same_text(session, org_id, agent_id, value)
    if existing is not None:
        await session.rollback()
        raise DuplicateMemory(existing)
    await _check_room(session, org_id, limits)
    user_id = source.id if source.kind == "user" else None
    row = (
        await session.execute(
            text(
                "INSERT INTO memories AS m (org_id, agent_id, text, embedding, source, "
                "source_task_id, source_user_id, valid_until, created_by, updated_by) "
                "VALUES (:org_id, :agent_id, :text, CAST(:embedding AS vector), :source, "
                ":task_id, :user_id, :valid_until, :user_id, :user_id) "
                f"RETURNING {COLUMNS}"
            ),
            {
                "org_id": org_id,
                "agent_id": agent_id,
                "text": value,
                "embedding": vector,
                "source": source.kind,
                "task_id": source.id if source.kind == "task" else None,
                "user_id": user_id,
                "valid_until": valid_until,
            },
        )
    ).one()
    if before_commit is not None:
        await before_commit(row.id)
    await session.commit()
    return _record(row)  # type: ignore[no-any-return]


_UNSET: Any = object()


async def update_memory(
    session: AsyncSession,
    embedder: PassageEmbedder | None,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    memory_id: uuid.UUID,
    *,
    updated_by: uuid.UUID | None,
    limits: MemoryLimits,
    text_: str | None = None,
    valid_until: datetime | None = _UNSET,
    before_commit: BeforeCommit | None = None,
) -> MemoryRecord:
    """Change a live memory's text (embedded again) and/or ``valid_until`` (None: forever);
    its source stays. Raises :class:`MemoryNotFound` outside this namespace."""
    current = await get_memory(session, org_id, agent_id, memory_id)
    await session.commit()
    sets = ["updated_by = :updated_by"]
    params: dict[str, Any] = {"id": current.id, "updated_by": updated_by}
    if text_ is not None:
        value = clean_text(text_, limits)
        if value != current.text:
            sets += ["text = :text", "embedding = CAST(:embedding AS vector)"]
            params.update(text=value, embedding=await _embed(embedder, value))
    if valid_until is not _UNSET:
        _check_valid_until(valid_until)
        sets.append("valid_until = :valid_until")
        params["valid_until"] = valid_until
    row = (
        await session.execute(
            text(
                f"UPDATE memories AS m SET {', '.join(sets)} WHERE m.id = :id AND {LIVE} "
                f"RETURNING {COLUMNS}"
            ),
            params,
        )
    ).first()
    if row is not None and before_commit is not None:
        await before_commit(row.id)
    await session.commit()
    if row is None:  # deleted or expired meanwhile
        raise MemoryNotFound()
    return _record(row)  # type: ignore[no-any-return]


async def delete_memory(
    session: AsyncSession,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    memory_id: uuid.UUID,
    before_commit: BeforeCommit | None = None,
) -> None:
    """Delete a memory of this namespace; :class:`MemoryNotFound` if there is none."""
    deleted = await session.scalar(
        text(f"DELETE FROM memories m WHERE m.id = :id AND {_namespace(agent_id)} RETURNING m.id"),
        {"id": memory_id, "org_id": org_id, "agent_id": agent_id},
    )
    if deleted is not None and before_commit is not None:
        await before_commit(deleted)
    await session.commit()
    if deleted is None:
        raise MemoryNotFound()


async def remember_report_day(
    session: AsyncSession,
    embedder: PassageEmbedder | None,
    *,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    task_id: uuid.UUID,
    day: date,
    text_: str,
    limits: MemoryLimits,
    before_commit: ReportDayCommit | None = None,
) -> MemoryRecord:
    """Keep a report's summary as the agent's memory of ``day``: one per agent and day,
    replaced (text, vector, source task) when a report of the same day runs again, so
    running it twice, or a step retried, leaves one. A new day's memory counts against
    ``limits.max_per_org`` (:class:`MemoryStoreFull`); a replacement does not.
    ``before_commit(memory_id, replaced)`` writes in the same transaction when the day is new
    (``replaced`` False) or its text changed (True); not when the same text is stored again."""
    value = clean_text(text_, limits)
    vector = await _embed(embedder, value)
    await _lock_org(session, org_id)
    replaces = (
        await session.execute(
            text("SELECT id, text FROM memories WHERE agent_id = :agent_id AND report_day = :day"),
            {"agent_id": agent_id, "day": day},
        )
    ).first()
    if replaces is None:
        await _check_room(session, org_id, limits)
    row = (
        await session.execute(
            text(
                "INSERT INTO memories AS m (org_id, agent_id, text, embedding, source, "
                "source_task_id, report_day) VALUES (:org_id, :agent_id, :text, "
                "CAST(:embedding AS vector), 'task', :task_id, :day) "
                "ON CONFLICT (agent_id, report_day) WHERE report_day IS NOT NULL DO UPDATE SET "
                "text = EXCLUDED.text, embedding = EXCLUDED.embedding, source = 'task', "
                "source_task_id = EXCLUDED.source_task_id, source_user_id = NULL, "
                "valid_until = NULL, updated_by = NULL "
                f"RETURNING {COLUMNS}"
            ),
            {
                "org_id": org_id,
                "agent_id": agent_id,
                "text": value,
                "embedding": vector,
                "task_id": task_id,
                "day": day,
            },
        )
    ).one()
    if before_commit is not None and (replaces is None or replaces.text != value):
        await before_commit(row.id, replaces is not None)
    await session.commit()
    return _record(row)  # type: ignore[no-any-return]


# -- search ------------------------------------------------------------------------------------

# Dates a question may name: ISO (2026-11-24), or with the month's name (24 November 2026,
# Nov 24, 2026). A memory of such a day (a report's) is ranked first.
_MONTHS = {
    m[:3]: i
    for i, m in enumerate(
        (
            "january february march april may june july august september october november december"
        ).split(),
        start=1,
    )
}
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b")
_MONTH_DAY_YEAR = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")


def days_named(question: str) -> list[date]:
    """The calendar days the question names, in the forms above (invalid dates ignored)."""
    found: list[date] = []

    def add(year: str, month: int | None, day: str) -> None:
        if month is None:
            return
        try:
            found.append(date(int(year), month, int(day)))
        except ValueError:
            pass

    def month_of(name: str) -> int | None:
        key = name.lower()[:3]
        full = next((m for m in _MONTHS if key == m), None)
        return _MONTHS[full] if full else None

    for y, m, d in _ISO_DAY.findall(question):
        add(y, int(m), d)
    for d, name, y in _DAY_MONTH_YEAR.findall(question):
        add(y, month_of(name), d)
    for name, d, y in _MONTH_DAY_YEAR.findall(question):
        add(y, month_of(name), d)
    return sorted(set(found))


def _scope(include_org: bool, agent_id: uuid.UUID | None) -> str:
    if agent_id is None:
        return "m.org_id = :org_id AND m.agent_id IS NULL"
    if not include_org:
        return "m.org_id = :org_id AND m.agent_id = :agent_id"
    # Both namespaces, the same tenant filter as document search.
    return "m.org_id = :org_id AND (m.agent_id = :agent_id OR m.agent_id IS NULL)"


# Three rankings fused by reciprocal rank fusion: nearest vectors, full-text matches
# (every word of the question, 'simple' configuration, as for documents), and memories of a
# day the question names; the last also decides the order first (a question about
# 2026-11-24 wants that day's report, not the most similar other day's).
SEARCH_SQL = """
WITH vec AS MATERIALIZED (
    SELECT m.id, m.embedding <=> CAST(:q AS vector) AS distance
      FROM memories m
     WHERE {scope} AND {live}
     ORDER BY m.embedding <=> CAST(:q AS vector)
     LIMIT :n
),
txt AS MATERIALIZED (
    SELECT m.id, ts_rank_cd(m.search_text, tq) AS text_rank
      FROM memories m, websearch_to_tsquery('simple', :text) tq
     WHERE {scope} AND {live} AND :hybrid AND m.search_text @@ tq
     ORDER BY text_rank DESC, m.id
     LIMIT :n
),
dated AS MATERIALIZED (
    SELECT m.id, m.report_day
      FROM memories m
     WHERE {scope} AND {live} AND m.report_day = ANY(CAST(:days AS date[]))
     ORDER BY m.report_day DESC, m.id
     LIMIT :n
),
ranks AS (
    SELECT id, row_number() OVER (ORDER BY distance, id) AS rank, false AS on_day
      FROM vec WHERE distance IS NOT NULL
    UNION ALL
    SELECT id, row_number() OVER (ORDER BY text_rank DESC, id), false FROM txt
    UNION ALL
    SELECT id, row_number() OVER (ORDER BY report_day DESC, id), true FROM dated
),
fused AS (
    SELECT id, sum(1.0 / (:rrf_k + rank)) AS rrf, bool_or(on_day) AS on_day
      FROM ranks
     GROUP BY id
     ORDER BY bool_or(on_day) DESC, rrf DESC, id
     LIMIT :k
)
SELECT {columns}, m.embedding <=> CAST(:q AS vector) AS distance
  FROM fused f JOIN memories m ON m.id = f.id
 ORDER BY f.on_day DESC, f.rrf DESC, m.id
"""


async def search_memory_vectors(
    session: AsyncSession,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    query_vector: Any,
    query: str,
    top_k: int,
    *,
    include_org: bool = True,
    ef_search: int = 200,
    candidates: int = 40,
    hybrid: bool = True,
    rrf_k: int = RRF_K,
) -> list[MemoryHit]:
    """Best live memories for an embedded question (see ``SEARCH_SQL``): the agent's and,
    with ``include_org``, its organization's; with ``agent_id`` None the organization's."""
    n = max(int(candidates), top_k)
    await prepare_tenant_scan(session, max(int(ef_search), n))
    sql = SEARCH_SQL.format(scope=_scope(include_org, agent_id), live=LIVE, columns=COLUMNS)
    rows = (
        await session.execute(
            text(sql),
            {
                "q": vector_literal(query_vector),
                "org_id": org_id,
                "agent_id": agent_id,
                "text": query,
                "hybrid": bool(hybrid),
                "days": [d.isoformat() for d in days_named(query)],
                "n": n,
                "k": top_k,
                "rrf_k": int(rrf_k),
            },
        )
    ).all()
    await session.commit()
    return [
        _record(
            r,
            MemoryHit,
            score=None if r.distance is None else round(1.0 - float(r.distance), 6),
        )
        for r in rows
    ]


async def search_memories(
    session: AsyncSession,
    embedder: QueryEmbedder,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    query: str,
    top_k: int,
    *,
    include_org: bool = True,
    ef_search: int = 200,
    candidates: int = 40,
    hybrid: bool = True,
) -> list[MemoryHit]:
    """Embed ``query`` (``query:`` role) and return the best ``top_k`` live memories of the
    agent's namespace and (``include_org``) its organization's; ``agent_id`` None searches
    the organization's only. Raises :class:`phi_search.SearchUnavailable` when the embedding
    service fails."""
    vector = await embed_question(embedder, query)
    return await search_memory_vectors(
        session,
        org_id,
        agent_id,
        vector,
        query,
        top_k,
        include_org=include_org,
        ef_search=ef_search,
        candidates=candidates,
        hybrid=hybrid,
    )


# -- housekeeping --------------------------------------------------------------------------


async def delete_expired(session: AsyncSession, batch: int = 5000) -> int:
    """Delete up to ``batch`` memories whose ``valid_until`` has passed; returns how many."""
    deleted = await session.execute(
        text(
            "DELETE FROM memories WHERE id IN (SELECT id FROM memories "
            "WHERE valid_until <= now() LIMIT :batch)"
        ),
        {"batch": batch},
    )
    await session.commit()
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]


async def embed_missing(session: AsyncSession, embedder: PassageEmbedder, batch: int = 64) -> int:
    """Give up to ``batch`` memories stored without a vector their vector; returns how many.
    A text changed meanwhile keeps its NULL and is taken by the next run."""
    rows = (
        await session.execute(
            text("SELECT id, text FROM memories WHERE embedding IS NULL ORDER BY id LIMIT :b"),
            {"b": batch},
        )
    ).all()
    await session.commit()
    if not rows:
        return 0
    vectors = await embedder.aembed_passages([r.text for r in rows])
    done = 0
    for row, vector in zip(rows, vectors, strict=True):
        result = await session.execute(
            text(
                "UPDATE memories SET embedding = CAST(:v AS vector) "
                "WHERE id = :id AND embedding IS NULL AND text = :text"
            ),
            {"v": vector_literal(vector), "id": row.id, "text": row.text},
        )
        done += int(result.rowcount or 0)  # type: ignore[attr-defined]
    await session.commit()
    return done
