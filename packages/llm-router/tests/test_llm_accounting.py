"""Accounting in llm_calls and the monthly token budget, on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm import (
    BudgetExceeded,
    CallContext,
    PostgresAccountant,
    Router,
    RouterConfig,
)
from phi_platform.db.models import Agent, LlmCall, Organization
from phi_platform.db.session import create_engine, create_sessionmaker

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "How many docks are open?"}]


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def make_org(
    sm: async_sessionmaker[AsyncSession], budget: int | None
) -> tuple[uuid.UUID, uuid.UUID]:
    async with sm() as s, s.begin():
        org = Organization(name=f"org-{uuid.uuid4().hex[:6]}", monthly_token_budget=budget)
        s.add(org)
        await s.flush()
        agent = Agent(org_id=org.id, name="Analyst")
        s.add(agent)
        await s.flush()
        return org.id, agent.id


async def calls_of(sm: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> list[LlmCall]:
    async with sm() as s:
        rows = await s.scalars(
            select(LlmCall).where(LlmCall.org_id == org_id).order_by(LlmCall.created_at, LlmCall.id)
        )
        return list(rows)


def config(base_url: str) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "providers": {"openai": {"kind": "openai", "base_url": base_url}},
            "routes": {
                "heavy": [
                    {"provider": "openai", "model": "gpt-4o-mini"},
                    {"provider": "builtin", "model": "builtin"},
                ]
            },
            "retries": 0,
        }
    )


async def test_every_attempt_is_recorded_with_its_context(sessionmaker, fake_openai) -> None:
    org_id, agent_id = await make_org(sessionmaker, None)
    fake_openai.script.append("garbage")
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    ctx = CallContext(org_id=org_id, agent_id=agent_id, task="generate_profile")
    first = await router.chat(MESSAGES, task_class="heavy", context=ctx)  # garbage -> builtin
    second = await router.chat(MESSAGES, task_class="heavy", context=ctx)  # openai ok
    assert (first.provider, second.provider) == ("builtin", "openai")

    rows = await calls_of(sessionmaker, org_id)
    assert [(r.provider, r.outcome) for r in rows] == [
        ("openai", "error"),
        ("builtin", "ok"),
        ("openai", "ok"),
    ]
    assert all(
        r.agent_id == agent_id and r.task_class == "heavy" and r.operation == "chat" for r in rows
    )
    assert "bad_response" in (rows[0].error or "")
    ok = rows[2]
    assert (ok.model, ok.tokens_in, ok.tokens_out) == ("gpt-4o-mini", 11, 7)
    assert float(ok.cost_usd) > 0 and ok.latency_ms >= 0
    assert float(rows[1].cost_usd) == 0  # builtin is free
    await router.aclose()


async def test_budget_refuses_calls_once_used_up_and_names_it(sessionmaker, fake_openai) -> None:
    org_id, _ = await make_org(sessionmaker, budget=30)
    other_org, _ = await make_org(sessionmaker, budget=None)
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=org_id))  # 18 tokens
    await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=org_id))  # 36 >= 30
    with pytest.raises(BudgetExceeded) as refused:
        await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=org_id))
    assert (refused.value.budget, refused.value.used) == (30, 36)
    assert "monthly token budget of 30 tokens" in str(refused.value)
    assert fake_openai.calls == 2  # the refused call never reached the provider
    assert [r.outcome for r in await calls_of(sessionmaker, org_id)] == ["ok", "ok", "refused"]

    # Another organization is not affected.
    result = await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=other_org))
    assert result.provider == "openai"
    await router.aclose()


async def test_tokens_of_earlier_months_do_not_count(sessionmaker, fake_openai) -> None:
    org_id, _ = await make_org(sessionmaker, budget=100)
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO llm_calls (org_id, operation, task_class, provider, model, "
                "tokens_in, outcome, created_at) VALUES (:org, 'chat', 'heavy', 'openai', "
                "'gpt-4o', 5000, 'ok', date_trunc('month', now()) - interval '1 day')"
            ),
            {"org": org_id},
        )
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    result = await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=org_id))
    assert result.provider == "openai"
    await router.aclose()


async def test_embeddings_are_accounted_too(sessionmaker, embedder) -> None:
    org_id, _ = await make_org(sessionmaker, budget=None)
    router = Router(env={}, accountant=PostgresAccountant(sessionmaker), embedder=embedder)
    await router.embed(["Fire exits must stay clear."], context=CallContext(org_id=org_id))
    [row] = await calls_of(sessionmaker, org_id)
    assert (row.operation, row.provider, row.model, row.outcome) == (
        "embed",
        "local",
        "multilingual-e5-small",
        "ok",
    )
    assert row.tokens_in > 0
