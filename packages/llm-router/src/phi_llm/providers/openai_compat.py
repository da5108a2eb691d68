"""``openai`` provider: the official SDK against any OpenAI-compatible base URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from phi_llm.config import ProviderConfig
from phi_llm.errors import ProviderError
from phi_llm.providers.base import Provider
from phi_llm.providers.registry import register
from phi_llm.types import ChatRequest, ChatResult, estimate_tokens


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@register("openai")
class OpenAIProvider(Provider):
    def __init__(self, name: str, config: ProviderConfig, env: Mapping[str, str]) -> None:
        super().__init__(name, config, env)
        # Local servers (llama.cpp, vLLM, Ollama) accept any key; the SDK insists on one.
        self.client = openai.AsyncOpenAI(
            api_key=config.api_key(env) or "unset",
            base_url=config.base_url or None,
            max_retries=0,  # the router retries, with its own backoff and accounting
            # The SDK's default client closes itself from __del__ on whatever event loop is
            # running at collection time; a client collected after its own loop ended then
            # fails inside an unrelated loop (seen across tests, and possible in workers that
            # run one loop per job). A plain client is closed by aclose() only.
            http_client=openai.DefaultAsyncHttpxClient(),
        )

    def _response_format(self, request: ChatRequest) -> dict[str, Any] | None:
        if request.json_schema is None:
            return None
        if self.config.structured_output == "json_object":
            return {"type": "json_object", "schema": request.json_schema}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": request.schema_name,
                "schema": request.json_schema,
                "strict": False,
            },
        }

    async def chat(self, request: ChatRequest) -> ChatResult:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "timeout": request.timeout,
        }
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        response_format = self._response_format(request)
        if response_format is not None:
            kwargs["response_format"] = response_format
        try:
            response = await self.client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            raise self.error(
                request.model, "timeout", f"no answer within {request.timeout}s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise self.error(request.model, "unavailable", f"cannot connect: {exc}") from exc
        except openai.RateLimitError as exc:
            raise self.error(
                request.model,
                "rate_limited",
                "rate limited",
                429,
                _retry_after(exc.response.headers),
            ) from exc
        except openai.APIStatusError as exc:
            kind = "server_error" if exc.status_code >= 500 else "bad_request"
            raise self.error(request.model, kind, _short(exc.message), exc.status_code) from exc
        except (openai.OpenAIError, ValueError, TypeError) as exc:
            raise self.error(
                request.model, "bad_response", f"unreadable answer: {_short(exc)}"
            ) from exc
        return self._result(request, response)

    def _result(self, request: ChatRequest, response: Any) -> ChatResult:
        # A misbehaving server can answer 200 with a body that is not a chat completion at all
        # (the SDK then hands back a str or a half-filled object).
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise self.error(request.model, "bad_response", "answer is not a chat completion")
        choice = response.choices[0]
        content = choice.message.content if choice.message else None
        if not isinstance(content, str):
            raise self.error(request.model, "bad_response", "answer has no text content")
        usage = response.usage
        prompt_text = "".join(m["content"] for m in request.messages)
        return ChatResult(
            content=content,
            provider=self.name,
            model=response.model or request.model,
            tokens_in=usage.prompt_tokens if usage else estimate_tokens(prompt_text),
            tokens_out=usage.completion_tokens if usage else estimate_tokens(content),
            finish_reason=choice.finish_reason or "stop",
        )

    async def aclose(self) -> None:
        await self.client.close()


def _short(value: object, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["OpenAIProvider", "ProviderError"]
