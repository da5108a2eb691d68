"""The monthly token budget holds when calls come through the service concurrently."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm import BudgetStopped, CallContext, PostgresAccountant, Router, RouterConfig
from phi_llm.client import RouterClient
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


def misbehaving(base_url: str, *, stream: bool = True) -> RouterConfig:
    """One OpenAI-compatible provider only (no fallback to hide what it does)."""
    return RouterConfig.model_validate(
        {
            "providers": {"openai": {"kind": "openai", "base_url": base_url, "stream": stream}},
            "routes": {"heavy": [{"provider": "openai", "model": "gpt-4o-mini"}]},
            "retries": 0,
        }
    )


async def test_a_provider_answering_past_max_tokens_cannot_overspend_the_budget(
    sessionmaker, fake_openai, serve
) -> None:
    """Issue 17: a provider that ignores max_tokens (here 1000 tokens for 140 asked) made 20
    concurrent calls spend 20,220 tokens of a 3,000-token budget, because the router settled
    whatever it reported. Answers are now streamed and cut at the cap."""
    budget, cap = 3000, 140
    org_id = await make_org(sessionmaker, budget=budget)
    fake_openai.answer_tokens = 1000
    fake_openai.stream_delay = 0.002  # all 20 answers are streaming at once
    router = Router(
        misbehaving(fake_openai.base_url), accountant=PostgresAccountant(sessionmaker), env={}
    )
    server = serve(create_app(router, token="svc"))
    headers = {"Authorization": "Bearer svc", "X-Phi-Org-Id": str(org_id)}
    body = {"model": "heavy", "messages": MESSAGES, "max_tokens": cap}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=body, headers=headers) for _ in range(20))
        )
    await router.aclose()
    spent = await usage(sessionmaker, org_id)
    print(f"20 concurrent calls, budget {budget}: {spent} tokens spent")
    assert spent <= budget + cap, spent
    ok = [a.json() for a in answers if a.status_code == 200]
    assert len(ok) + sum(a.status_code == 429 for a in answers) == 20
    assert len(ok) >= budget // (6 + cap) - 1  # the budget was used, not refused wholesale
    for answer in ok:
        assert answer["usage"]["completion_tokens"] == cap
        assert answer["choices"][0]["finish_reason"] == "length"
    rows = await calls_of(sessionmaker, org_id)
    assert sum(r.tokens_in + r.tokens_out for r in rows) == spent
    # The router stopped reading (and closed the connection) near the cap, not at 1000.
    assert fake_openai.tokens_sent < 20 * 300, fake_openai.tokens_sent


async def test_once_a_response_takes_usage_to_the_budget_the_org_is_stopped(
    sessionmaker, fake_openai, serve
) -> None:
    """Without streaming, an answer past its cap is refused (502 overshoot) but charged; the
    one that takes the month to the budget stops the organization: every further call is
    refused with 429 naming the budget it stopped at, until the budget is raised above it."""
    org_id = await make_org(sessionmaker, budget=2000)
    fake_openai.answer_tokens = 1000
    router = Router(
        misbehaving(fake_openai.base_url, stream=False),
        accountant=PostgresAccountant(sessionmaker),
        env={},
    )
    server = serve(create_app(router, token="svc"))
    headers = {"Authorization": "Bearer svc", "X-Phi-Org-Id": str(org_id)}
    body = {"model": "heavy", "messages": MESSAGES, "max_tokens": 100}
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=headers) as client:
        for expected_usage in (1011, 2022):
            refused = await client.post("/v1/chat/completions", json=body)
            assert refused.status_code == 502, refused.text
            error = refused.json()["error"]
            assert error["code"] == "overshoot"
            assert (error["allowed"], error["tokens_out"]) == (100, 1000)
            assert await usage(sessionmaker, org_id) == expected_usage  # charged all the same

        # As if reservations of calls in flight had been released: usage is under the budget
        # again, and a small call would fit, but the organization stays stopped.
        async with sessionmaker() as s, s.begin():
            await s.execute(
                text("UPDATE llm_token_usage SET used = 100 WHERE org_id = :org"), {"org": org_id}
            )
        stopped = await client.post("/v1/chat/completions", json={**body, "max_tokens": 5})
        assert stopped.status_code == 429, stopped.text
        error = stopped.json()["error"]
        assert error["stopped_at_budget"] == 2000 and error["code"] == "token_budget_exceeded"
        assert "raise monthly_token_budget above 2000" in error["message"]
        native = await client.post(
            "/chat", json={"messages": MESSAGES, "task_class": "heavy", "org_id": str(org_id)}
        )
        assert native.status_code == 429 and native.json()["stopped_at_budget"] == 2000
        router_client = RouterClient(server.url, "svc")
        with pytest.raises(BudgetStopped) as raised:
            await router_client.chat(
                MESSAGES, task_class="heavy", context=CallContext(org_id=org_id)
            )
        assert raised.value.stopped_at_budget == 2000
        await router_client.aclose()
        assert fake_openai.calls == 2  # refused before the provider

        async with sessionmaker() as s, s.begin():
            await s.execute(
                text("UPDATE organizations SET monthly_token_budget = 5000 WHERE id = :org"),
                {"org": org_id},
            )
        fake_openai.answer_tokens = None
        again = await client.post("/v1/chat/completions", json=body)
        assert again.status_code == 200, again.text
    rows = await calls_of(sessionmaker, org_id)
    assert [(r.outcome, r.tokens_out) for r in rows if r.outcome != "refused"] == [
        ("error", 1000),
        ("error", 1000),
        ("ok", 7),
    ]
    await router.aclose()
