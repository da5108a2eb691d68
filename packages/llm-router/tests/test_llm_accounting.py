"""Accounting in llm_calls and the monthly token budget, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm import (
    BudgetExceeded,
    CallContext,
    ChatResult,
    PostgresAccountant,
    ResponseOvershoot,
    Router,
    RouterConfig,
    UnknownOrganization,
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
    org_id, _ = await make_org(sessionmaker, budget=40)
    other_org, _ = await make_org(sessionmaker, budget=None)
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    # Each call reserves 6 prompt + 10 output tokens and settles at the 18 it really used.
    for _ in range(2):
        await router.chat(
            MESSAGES, task_class="heavy", max_tokens=10, context=CallContext(org_id=org_id)
        )
    assert await usage(sessionmaker, org_id) == 36
    with pytest.raises(BudgetExceeded) as refused:  # 36 + 16 > 40
        await router.chat(
            MESSAGES, task_class="heavy", max_tokens=10, context=CallContext(org_id=org_id)
        )
    assert (refused.value.budget, refused.value.used, refused.value.needed) == (40, 36, 16)
    assert "monthly token budget of 40 tokens" in str(refused.value)
    assert fake_openai.calls == 2  # the refused call never reached the provider
    assert [r.outcome for r in await calls_of(sessionmaker, org_id)] == ["ok", "ok", "refused"]

    # Another organization is not affected.
    result = await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=other_org))
    assert result.provider == "openai"
    await router.aclose()


async def usage(sm: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> int:
    async with sm() as s:
        used = await s.scalar(
            text("SELECT used FROM llm_token_usage WHERE org_id = :org"), {"org": org_id}
        )
        return int(used or 0)


async def test_builtin_calls_are_recorded_but_never_consume_the_budget(sessionmaker) -> None:
    # A budget far below one call: builtin output costs no model tokens, so it is never refused.
    org_id, _ = await make_org(sessionmaker, budget=1)
    router = Router(env={}, accountant=PostgresAccountant(sessionmaker))
    for _ in range(3):
        result = await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=org_id))
        assert result.provider == "builtin"
    rows = await calls_of(sessionmaker, org_id)
    assert [(r.provider, r.outcome, float(r.cost_usd)) for r in rows] == [("builtin", "ok", 0)] * 3
    assert all(r.tokens_in > 0 for r in rows)  # recorded with their size
    assert await usage(sessionmaker, org_id) == 0
    await router.aclose()


async def test_a_failed_model_call_releases_its_reservation(sessionmaker, fake_openai) -> None:
    org_id, _ = await make_org(sessionmaker, budget=5000)
    fake_openai.script.append("garbage")  # openai fails, builtin answers
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    result = await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=org_id))
    assert result.provider == "builtin"
    assert await usage(sessionmaker, org_id) == 0
    await router.aclose()


async def test_a_model_call_for_an_organization_that_does_not_exist_is_refused(
    sessionmaker, fake_openai
) -> None:
    """Otherwise any made-up X-Phi-Org-Id would buy unmetered model calls."""
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    with pytest.raises(UnknownOrganization, match="does not exist"):
        await router.chat(MESSAGES, task_class="heavy", context=CallContext(org_id=uuid.uuid4()))
    assert fake_openai.calls == 0
    await router.aclose()


async def test_tokens_of_earlier_months_do_not_count(sessionmaker, fake_openai) -> None:
    org_id, _ = await make_org(sessionmaker, budget=100)
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "INSERT INTO llm_token_usage (org_id, month, used) VALUES "
                "(:org, (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 day')::date, "
                "5000)"
            ),
            {"org": org_id},
        )
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    result = await router.chat(
        MESSAGES, task_class="heavy", max_tokens=10, context=CallContext(org_id=org_id)
    )
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


async def test_without_max_tokens_the_reserve_caps_the_answer_too(
    sessionmaker, fake_openai
) -> None:
    """PHI_LLM_RESERVE_OUTPUT_TOKENS is what a call without max_tokens reserves, so it is
    also what the provider is asked for and where a longer answer is cut."""
    org_id, _ = await make_org(sessionmaker, budget=3000)
    fake_openai.answer_tokens = 1000
    only_openai = RouterConfig.model_validate(
        {
            "providers": {"openai": {"kind": "openai", "base_url": fake_openai.base_url}},
            "routes": {"heavy": [{"provider": "openai", "model": "gpt-4o-mini"}]},
            "retries": 0,
            "reserve_output_tokens": 150,
        }
    )
    router = Router(only_openai, accountant=PostgresAccountant(sessionmaker), env={})
    ctx = CallContext(org_id=org_id)
    results = await asyncio.gather(
        *(router.chat(MESSAGES, task_class="heavy", context=ctx) for _ in range(20)),
        return_exceptions=True,
    )
    await router.aclose()
    answered = [r for r in results if isinstance(r, ChatResult)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(answered) + len(refused) == 20
    assert len(answered) == 3000 // (6 + 150)  # 19 reservations of 156 fit in 3000
    assert {(r.tokens_out, r.finish_reason) for r in answered} == {(150, "length")}
    assert all(len(r.content) <= 150 * 4 for r in answered)
    assert {q["body"]["max_tokens"] for q in fake_openai.requests} == {150}
    assert await usage(sessionmaker, org_id) == 156 * len(answered)


async def test_an_unstreamed_answer_past_its_cap_is_refused_and_charged(
    sessionmaker, fake_openai
) -> None:
    org_id, _ = await make_org(sessionmaker, budget=None)
    fake_openai.answer_tokens = 1000
    config = RouterConfig.model_validate(
        {
            "providers": {
                "openai": {"kind": "openai", "base_url": fake_openai.base_url, "stream": False}
            },
            "routes": {
                "heavy": [
                    {"provider": "openai", "model": "gpt-4o-mini"},
                    {"provider": "builtin", "model": "builtin"},
                ]
            },
            "retries": 2,
        }
    )
    router = Router(config, accountant=PostgresAccountant(sessionmaker), env={})
    with pytest.raises(ResponseOvershoot) as refused:
        await router.chat(
            MESSAGES, task_class="heavy", max_tokens=100, context=CallContext(org_id=org_id)
        )
    await router.aclose()
    assert refused.value.http_status == 502 and refused.value.allowed == 100
    assert "1000 output tokens where 100 were allowed" in str(refused.value)
    # Neither retried nor passed on to builtin: the answer came, and was paid for.
    assert fake_openai.calls == 1
    rows = await calls_of(sessionmaker, org_id)
    assert [(r.outcome, r.tokens_in, r.tokens_out) for r in rows] == [("error", 11, 1000)]
    assert float(rows[0].cost_usd) > 0
    assert await usage(sessionmaker, org_id) == 1011


async def test_a_streamed_answer_within_its_cap_is_read_to_the_end_with_its_usage(
    sessionmaker, fake_openai
) -> None:
    """A server that honours max_tokens is never cut: its own token counts are settled."""
    org_id, _ = await make_org(sessionmaker, budget=None)
    fake_openai.answer_tokens = 10
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    result = await router.chat(
        MESSAGES, task_class="heavy", max_tokens=10, context=CallContext(org_id=org_id)
    )
    await router.aclose()
    assert (result.tokens_in, result.tokens_out, result.finish_reason) == (11, 10, "stop")
    assert result.content.split() == ["tok"] * 10
    assert fake_openai.requests[0]["body"]["stream"] is True
    assert await usage(sessionmaker, org_id) == 21


async def test_a_stream_of_many_tokens_a_chunk_is_cut_by_its_size(
    sessionmaker, fake_openai
) -> None:
    """Counting chunks alone would let a server send 50 tokens in each; the text's size (at
    most 8 characters a token of the cap) stops it too."""
    org_id, _ = await make_org(sessionmaker, budget=None)
    fake_openai.answer_tokens, fake_openai.chunk_tokens = 1000, 50
    router = Router(
        config(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    result = await router.chat(
        MESSAGES, task_class="heavy", max_tokens=100, context=CallContext(org_id=org_id)
    )
    await router.aclose()
    assert (result.tokens_out, result.finish_reason) == (100, "length")
    assert len(result.content) <= 800
    assert await usage(sessionmaker, org_id) == 106
