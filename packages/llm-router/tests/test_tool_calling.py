"""Tool calling through the in-process router against a real OpenAI-compatible HTTP server:
tools and tool_choice reach the server, the model's calls come back (whole and streamed),
results go back as tool messages, and the builtin provider is never asked to pick a tool."""

from __future__ import annotations

import json

import pytest

from phi_llm import AllProvidersFailed, InMemoryAccountant, Router, RouterConfig
from phi_llm.testing import FakeOpenAIServer
from phi_llm.types import tool_spec

pytestmark = pytest.mark.anyio

QUERY = tool_spec(
    "db_query",
    "Run one read-only SELECT",
    {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]},
)
ASK = [{"role": "user", "content": "How many orders were late?"}]


def config(base_url: str, *, stream: bool = True, builtin_fallback: bool = False) -> RouterConfig:
    heavy = [{"provider": "openai", "model": "m"}]
    if builtin_fallback:
        heavy.append({"provider": "builtin", "model": "builtin"})
    return RouterConfig.model_validate(
        {
            "providers": {"openai": {"kind": "openai", "base_url": base_url, "stream": stream}},
            "routes": {"heavy": heavy},
            "retries": 0,
            "timeout": 10,
        }
    )


@pytest.mark.parametrize("stream", [True, False])
async def test_the_models_tool_calls_come_back_and_results_go_back(
    fake_openai: FakeOpenAIServer, stream: bool
) -> None:
    fake_openai.script.extend(
        ['calls:[{"name": "db_query", "arguments": {"sql": "SELECT count(*) FROM orders"}}]', "ok"]
    )
    accountant = InMemoryAccountant()
    router = Router(config(fake_openai.base_url, stream=stream), accountant=accountant, env={})
    first = await router.chat(ASK, task_class="heavy", tools=[QUERY], tool_choice="auto")
    assert [c["function"]["name"] for c in first.tool_calls] == ["db_query"]
    assert json.loads(first.tool_calls[0]["function"]["arguments"]) == {
        "sql": "SELECT count(*) FROM orders"
    }
    sent = fake_openai.requests[0]["body"]
    assert sent["tools"] == [QUERY] and sent["tool_choice"] == "auto"
    call = first.tool_calls[0]
    conversation = [
        *ASK,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"rows": [[3]]}'},
    ]
    second = await router.chat(conversation, task_class="heavy", tools=[QUERY])
    assert second.content == fake_openai.reply and second.tool_calls == []
    replayed = fake_openai.requests[1]["body"]["messages"]
    assert replayed[1]["tool_calls"][0]["id"] == call["id"]
    assert replayed[2] == {"role": "tool", "tool_call_id": call["id"], "content": '{"rows": [[3]]}'}
    assert [r.outcome for r in accountant.records] == ["ok", "ok"]


async def test_a_chat_without_tools_sends_none(fake_openai: FakeOpenAIServer) -> None:
    router = Router(config(fake_openai.base_url), env={})
    await router.chat(ASK, task_class="heavy")
    assert "tools" not in fake_openai.requests[0]["body"]
    assert "tool_choice" not in fake_openai.requests[0]["body"]


async def test_builtin_never_answers_a_request_with_tools(fake_openai: FakeOpenAIServer) -> None:
    # The model is down; builtin could answer text, but it cannot choose tools: no fallback.
    fake_openai.default = "500"
    router = Router(config(fake_openai.base_url, builtin_fallback=True), env={})
    with pytest.raises(AllProvidersFailed) as failed:
        await router.chat(ASK, task_class="heavy", tools=[QUERY])
    assert "cannot call tools" in str(failed.value)
    assert await router.supports_tools("heavy")
    builtin_only = Router(env={})
    assert not await builtin_only.supports_tools("heavy")
    assert not await builtin_only.supports_tools("no-such-class")
    with pytest.raises(AllProvidersFailed, match="PHI_LLM_ROUTES"):
        await builtin_only.chat(ASK, task_class="heavy", tools=[QUERY])
