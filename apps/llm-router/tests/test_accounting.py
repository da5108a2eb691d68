"""The monthly token budget holds when calls come through the service concurrently."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm import PostgresAccountant, Router, RouterConfig
from phi_llm_router.main import create_app
from phi_platform.db.models import LlmCall, Organization
from phi_platform.db.session import create_engine, create_sessionmaker

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "How many docks are open?"}]


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def make_org(sm: async_sessionmaker[AsyncSession], budget: int) -> uuid.UUID:
    async with sm() as s, s.begin():
        org = Organization(name=f"org-{uuid.uuid4().hex[:6]}", monthly_token_budget=budget)
        s.add(org)
        await s.flush()
        return org.id


async def calls_of(sm: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> list[LlmCall]:
    async with sm() as s:
        rows = await s.scalars(
            select(LlmCall).where(LlmCall.org_id == org_id).order_by(LlmCall.created_at, LlmCall.id)
        )
        return list(rows)


async def usage(sm: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> int:
    async with sm() as s:
        used = await s.scalar(
            text("SELECT used FROM llm_token_usage WHERE org_id = :org"), {"org": org_id}
        )
        return int(used or 0)


async def test_fifty_concurrent_calls_through_the_service_never_overspend(
    sessionmaker, fake_openai, serve
) -> None:
    """Before reservations, 20 concurrent calls spent 1104 tokens of a 300-token budget: every
    call passed the check before any was recorded."""
    budget, estimate = 300, 6 + 20  # prompt + max_tokens reserved per call; each really uses 18
    org_id = await make_org(sessionmaker, budget=budget)
    fake_openai.default = "slow"  # every call is in flight at once
    fake_openai.slow_seconds = 0.3
    only_openai = RouterConfig.model_validate(
        {
            "providers": {"openai": {"kind": "openai", "base_url": fake_openai.base_url}},
            "routes": {"heavy": [{"provider": "openai", "model": "gpt-4o-mini"}]},
            "retries": 0,
        }
    )
    router = Router(only_openai, accountant=PostgresAccountant(sessionmaker), env={})
    server = serve(create_app(router, token="svc"))
    headers = {"Authorization": "Bearer svc", "X-Phi-Org-Id": str(org_id)}
    body = {"model": "heavy", "messages": MESSAGES, "max_tokens": 20}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=body, headers=headers) for _ in range(50))
        )
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 429}, statuses
    rows = await calls_of(sessionmaker, org_id)
    spent = sum(r.tokens_in + r.tokens_out for r in rows if r.outcome == "ok")
    assert spent == 18 * statuses.count(200) == await usage(sessionmaker, org_id)
    assert spent <= budget + estimate
    # The budget was really used, not refused wholesale: at least budget / estimate calls ran.
    assert statuses.count(200) >= budget // estimate
    assert sum(1 for r in rows if r.outcome == "refused") == statuses.count(429)
    await router.aclose()
