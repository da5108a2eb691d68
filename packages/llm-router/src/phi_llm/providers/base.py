"""The one base class every provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

from phi_llm.config import ProviderConfig
from phi_llm.errors import ProviderError
from phi_llm.types import ChatRequest, ChatResult, CompletionRequest


class Provider(ABC):
    """A source of chat and text completions (OpenAI-compatible server, local GGUF, builtin).

    Providers do one attempt and raise :class:`ProviderError` on any failure; retries,
    timeouts, fallback and accounting are the router's job.
    """

    kind: ClassVar[str]
    produces_llm_output: ClassVar[bool] = True
    # Whether chat() honours ChatRequest.tools and returns the model's tool calls.
    supports_tools: ClassVar[bool] = True

    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str]) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    async def chat(self, request: ChatRequest) -> ChatResult:
        """One chat completion; with ``request.json_schema`` the content must be that JSON."""

    async def complete(self, request: CompletionRequest) -> ChatResult:
        """Text completion of a prompt; by default a one-message chat (works on every server)."""
        return await self.chat(
            ChatRequest(
                model=request.model,
                messages=[{"role": "user", "content": request.prompt}],
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                timeout=request.timeout,
                facts=request.facts,
                task=request.task,
            )
        )

    async def aclose(self) -> None:  # noqa: B027  (an optional hook)
        """Release connections or loaded models."""

    def error(
        self,
        model: str,
        kind: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> ProviderError:
        return ProviderError(self.name, model, kind, message, status, retry_after)
