"""Platform-wide read models for administrators (no tenant filter: callers are checked first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One pass per table, grouped by org, joined to the org list; "month" is the UTC calendar month.
_ORG_USAGE = text(
    """
    WITH month AS (
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start
    ),
    m AS (SELECT org_id, count(*) AS n FROM organization_members GROUP BY org_id),
    a AS (SELECT org_id, count(*) AS n FROM agents GROUP BY org_id),
    d AS (
        SELECT org_id, count(*) AS n, count(*) FILTER (WHERE status = 'FAILED') AS failed
        FROM documents GROUP BY org_id
    ),
    t AS (
        SELECT org_id, count(*) AS n, count(*) FILTER (WHERE status = 'FAILED') AS failed
        FROM tasks, month WHERE created_at >= month.start GROUP BY org_id
    ),
    l AS (
        SELECT org_id, count(*) AS calls, sum(tokens_in + tokens_out) AS tokens,
               sum(cost_usd) AS cost
        FROM llm_calls, month WHERE created_at >= month.start GROUP BY org_id
    )
    SELECT o.id, o.name, o.created_at, o.monthly_token_budget,
           coalesce(m.n, 0) AS members, coalesce(a.n, 0) AS agents,
           coalesce(d.n, 0) AS documents, coalesce(d.failed, 0) AS documents_failed,
           coalesce(t.n, 0) AS tasks_month, coalesce(t.failed, 0) AS tasks_failed_month,
           coalesce(l.calls, 0) AS llm_calls_month, coalesce(l.tokens, 0) AS llm_tokens_month,
           coalesce(l.cost, 0) AS llm_cost_usd_month
    FROM organizations o
    LEFT JOIN m ON m.org_id = o.id LEFT JOIN a ON a.org_id = o.id
    LEFT JOIN d ON d.org_id = o.id LEFT JOIN t ON t.org_id = o.id
    LEFT JOIN l ON l.org_id = o.id
    ORDER BY o.created_at DESC
    LIMIT :limit OFFSET :offset
    """
)

_FAILED_DOCUMENTS = text(
    """
    SELECT d.id, d.org_id, o.name AS org_name, d.agent_id, d.name, d.error, d.updated_at
    FROM documents d JOIN organizations o ON o.id = d.org_id
    WHERE d.status = 'FAILED' ORDER BY d.updated_at DESC LIMIT :limit
    """
)

_FAILED_GENERATIONS = text(
    """
    SELECT g.id, g.org_id, o.name AS org_name, g.agent_id, g.error, g.updated_at
    FROM profile_generations g JOIN organizations o ON o.id = g.org_id
    WHERE g.status = 'FAILED' ORDER BY g.updated_at DESC LIMIT :limit
    """
)

_FAILED_JOBS = text(
    """
    SELECT j.id, j.task_name, j.queue_name, j.args, j.attempts,
           (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS failed_at
    FROM procrastinate_jobs j WHERE j.status = 'failed' ORDER BY j.id DESC LIMIT :limit
    """
)


async def org_usage(session: AsyncSession, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await session.execute(_ORG_USAGE, {"limit": limit, "offset": offset})
    return [dict(r) for r in rows.mappings()]


async def failures(session: AsyncSession, limit: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for key, query in (
        ("documents", _FAILED_DOCUMENTS),
        ("profile_generations", _FAILED_GENERATIONS),
        ("jobs", _FAILED_JOBS),
    ):
        out[key] = [dict(r) for r in (await session.execute(query, {"limit": limit})).mappings()]
    return out
