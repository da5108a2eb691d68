"""Routing, fallback, retry, timeout and structured-output checks against real HTTP servers."""

from __future__ import annotations

import json
import time

import pytest

from phi_llm import (
    BUILTIN_LABEL,
    AllProvidersFailed,
    InMemoryAccountant,
    Router,
    RouterConfig,
    UnknownTaskClass,
)
from phi_llm.config import config_from_env

pytestmark = pytest.mark.anyio

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["title", "count"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "user", "content": "Summarise: 12 pallets arrived, 3 were damaged."}]


def openai_then_builtin(base_url: str, *, timeout: float = 5.0, retries: int = 2) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "providers": {"openai": {"kind": "openai", "base_url": base_url}},
            "routes": {
                "heavy": [
                    {"provider": "openai", "model": "test-model"},
                    {"provider": "builtin", "model": "builtin"},
                ]
            },
            "timeout": timeout,
            "retries": retries,
            "backoff": 0.01,
        }
    )


def openai_only(base_url: str, **kw: float) -> RouterConfig:
    cfg = openai_then_builtin(base_url, **kw)
    cfg.routes["heavy"] = cfg.routes["heavy"][:1]
    return cfg


async def test_nothing_configured_routes_every_class_to_builtin() -> None:
    router = Router(env={})
    for task_class in ("default", "light", "heavy"):
        result = await router.chat(MESSAGES, task_class=task_class)
        assert result.provider == "builtin"
        assert result.produced_without_llm
        assert result.content.startswith(BUILTIN_LABEL)
        # The builtin summary keeps the figures it was given.
        assert "12 pallets arrived" in result.content


async def test_openai_key_sends_heavy_and_light_to_openai_with_builtin_fallback() -> None:
    cfg = config_from_env({"OPENAI_API_KEY": "sk-test"})
    for task_class in ("heavy", "light"):
        assert [e.provider for e in cfg.routes[task_class]] == ["openai", "builtin"]
    cfg = config_from_env(
        {"PHI_OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "PHI_OPENAI_MODEL": "big"}
    )
    assert cfg.providers["openai"].base_url == "http://127.0.0.1:1/v1"
    assert cfg.routes["heavy"][0].model == "big"


async def test_ok_answer_comes_from_openai_with_usage_and_cost(fake_openai) -> None:
    accountant = InMemoryAccountant()
    cfg = openai_then_builtin(fake_openai.base_url)
    cfg.routes["heavy"][0].model = "gpt-4o-mini"
    router = Router(cfg, accountant=accountant, env={"OPENAI_API_KEY": "sk-test"})
    result = await router.chat(MESSAGES, task_class="heavy")
    assert (result.provider, result.content) == ("openai", fake_openai.reply)
    assert not result.produced_without_llm
    assert (result.tokens_in, result.tokens_out) == (11, 7)
    assert result.cost_usd == pytest.approx((11 * 0.15 + 7 * 0.60) / 1e6)
    assert fake_openai.requests[0]["auth"] == "Bearer sk-test"
    [record] = accountant.records
    assert (record.outcome, record.provider, record.tokens_in) == ("ok", "openai", 11)
    await router.aclose()


async def test_429_is_retried_with_backoff_then_succeeds(fake_openai) -> None:
    fake_openai.script.extend(["429", "429"])
    accountant = InMemoryAccountant()
    router = Router(openai_then_builtin(fake_openai.base_url), accountant=accountant, env={})
    result = await router.chat(MESSAGES, task_class="heavy")
    assert result.provider == "openai"
    assert fake_openai.calls == 3
    assert [r.outcome for r in accountant.records] == ["error", "error", "ok"]
    assert "rate_limited" in (accountant.records[0].error or "")
    await router.aclose()


async def test_persistent_500_exhausts_retries_then_falls_back(fake_openai) -> None:
    fake_openai.default = "500"
    accountant = InMemoryAccountant()
    router = Router(
        openai_then_builtin(fake_openai.base_url, retries=2), accountant=accountant, env={}
    )
    result = await router.chat(MESSAGES, task_class="heavy")
    assert result.provider == "builtin"
    assert fake_openai.calls == 3  # one try plus two retries
    assert [(r.provider, r.outcome) for r in accountant.records] == [
        ("openai", "error"),
        ("openai", "error"),
        ("openai", "error"),
        ("builtin", "ok"),
    ]
    await router.aclose()


async def test_slow_provider_times_out_and_falls_back_quickly(fake_openai) -> None:
    fake_openai.default = "slow"
    accountant = InMemoryAccountant()
    router = Router(
        openai_then_builtin(fake_openai.base_url, timeout=0.3), accountant=accountant, env={}
    )
    started = time.monotonic()
    result = await router.chat(MESSAGES, task_class="heavy")
    assert time.monotonic() - started < 2.0
    assert result.provider == "builtin"
    assert fake_openai.calls == 1  # a timeout is not retried on the same provider
    assert accountant.records[0].outcome == "timeout"
    await router.aclose()


async def test_garbage_body_is_not_retried_and_falls_back(fake_openai) -> None:
    fake_openai.default = "garbage"
    router = Router(openai_then_builtin(fake_openai.base_url), env={})
    result = await router.chat(MESSAGES, task_class="heavy")
    assert result.provider == "builtin"
    assert fake_openai.calls == 1
    await router.aclose()


async def test_structured_output_nested_too_deep_falls_back(fake_openai) -> None:
    """Output nested past the JSON parser's recursion is a bad answer from that provider
    (it raised RecursionError out of the router)."""
    fake_openai.script.append("json:" + "[" * 5000 + "]" * 5000)
    router = Router(openai_then_builtin(fake_openai.base_url), env={})
    result = await router.chat(
        MESSAGES, task_class="heavy", json_schema=SCHEMA, facts={"title": "Intake", "count": 12}
    )
    assert result.provider == "builtin" and result.parsed == {"title": "Intake", "count": 12}
    await router.aclose()


async def test_output_that_breaks_the_schema_falls_back_to_valid_json(fake_openai) -> None:
    fake_openai.script.append("text")
    router = Router(openai_then_builtin(fake_openai.base_url), env={})
    result = await router.chat(
        MESSAGES, task_class="heavy", json_schema=SCHEMA, facts={"title": "Intake", "count": 12}
    )
    assert result.provider == "builtin"
    assert result.parsed == {"title": "Intake", "count": 12}
    assert json.loads(result.content) == result.parsed
    # The schema reached the server in OpenAI's structured-output form.
    fmt = fake_openai.requests[0]["body"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == SCHEMA
    await router.aclose()


async def test_structured_output_from_the_model_is_parsed(fake_openai) -> None:
    fake_openai.script.append('json:```json\n{"title": "Dock", "count": 3}\n```')
    router = Router(openai_then_builtin(fake_openai.base_url), env={})
    result = await router.chat(MESSAGES, task_class="heavy", json_schema=SCHEMA)
    assert result.provider == "openai"
    assert result.parsed == {"title": "Dock", "count": 3}
    await router.aclose()


async def test_all_failing_names_the_providers_with_502_or_503(fake_openai) -> None:
    fake_openai.default = "garbage"
    router = Router(openai_only(fake_openai.base_url), env={})
    with pytest.raises(AllProvidersFailed) as bad:
        await router.chat(MESSAGES, task_class="heavy")
    assert bad.value.http_status == 502
    assert "provider 'openai'" in str(bad.value)

    # Nothing listening on the port: unavailable, so 503.
    fake_openai.stop()
    router = Router(openai_only(fake_openai.base_url), env={})
    with pytest.raises(AllProvidersFailed) as down:
        await router.chat(MESSAGES, task_class="heavy")
    assert down.value.http_status == 503
    assert down.value.providers == ["openai"]
    await router.aclose()


async def test_complete_goes_through_the_same_route(fake_openai) -> None:
    fake_openai.script.append("500")
    router = Router(openai_then_builtin(fake_openai.base_url), env={})
    result = await router.complete("Write one line about safety.", task_class="heavy")
    assert (result.provider, result.content) == ("openai", fake_openai.reply)
    assert (
        fake_openai.requests[-1]["body"]["messages"][0]["content"] == "Write one line about safety."
    )
    await router.aclose()


async def test_unknown_class_is_refused_and_provider_model_can_be_named(fake_openai) -> None:
    router = Router(openai_then_builtin(fake_openai.base_url), env={})
    with pytest.raises(UnknownTaskClass, match="heavy"):
        await router.chat(MESSAGES, task_class="hevy")
    result = await router.chat(MESSAGES, task_class="openai/other-model")
    assert result.provider == "openai"
    assert fake_openai.requests[-1]["body"]["model"] == "other-model"
    assert "heavy" in router.model_names() and "openai/test-model" in router.model_names()
    await router.aclose()


async def test_embed_uses_the_embedding_provider_and_records_it(embedder) -> None:
    accountant = InMemoryAccountant()
    router = Router(env={}, accountant=accountant, embedder=embedder)
    docs = await router.embed(
        ["Forklifts must stop at the yellow line.", "The canteen opens at noon."]
    )
    query = await router.embed(["where do forklifts stop?"], input_type="query")
    assert docs.dim == 384 and len(docs.vectors) == 2 and len(docs.vectors[0]) == 384

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(query.vectors[0], docs.vectors[0]) > dot(query.vectors[0], docs.vectors[1])
    assert [(r.operation, r.provider, r.outcome) for r in accountant.records] == [
        ("embed", "local", "ok")
    ] * 2


async def test_default_embedder_is_the_platform_provider_and_its_errors_name_it() -> None:
    router = Router(env={})
    result = await router.embed(["Pallets are stacked three high."])
    assert (result.provider, result.model, result.dim) == ("local", "multilingual-e5-small", 384)

    # An OpenAI-compatible embedding endpoint that is down: a clear error, not a crash.
    from phi_llm.embeddings import OpenAICompatibleProvider

    down = OpenAICompatibleProvider(
        model="e5", dim=384, base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2
    )
    with pytest.raises(AllProvidersFailed) as failed:
        await Router(env={}, embedder=down).embed(["x"])
    assert failed.value.providers == ["openai"] and "127.0.0.1:9" in str(failed.value)
