"""``openai`` provider: the official SDK against any OpenAI-compatible base URL.

Answers are streamed by default, so that the router's output cap holds even against a server
that ignores ``max_tokens``: reading stops, and the connection is closed, once the answer
reaches the cap. A provider configured with ``stream: false`` is asked for the whole answer;
the router then refuses (and charges) an answer longer than the cap.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageFunctionToolCall,
)

from phi_llm.config import ProviderConfig
from phi_llm.errors import ProviderError
from phi_llm.providers.base import Provider
from phi_llm.providers.registry import register
from phi_llm.types import ChatRequest, ChatResult, ToolCall, estimate_tokens, prompt_text

# Characters a streamed answer may hold per token of its cap before it is cut, for servers
# that send several tokens a chunk (twice the usual average: honest answers stay below it).
MAX_CHARS_PER_TOKEN = 8


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
        if request.tools:
            kwargs["tools"] = request.tools
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        try:
            if self.config.stream:
                return await self._streamed(request, kwargs)
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
        except httpx.HTTPError as exc:  # the connection broke while streaming
            raise self.error(request.model, "server_error", f"stream broken: {exc}") from exc
        except (openai.OpenAIError, ValueError, TypeError) as exc:
            raise self.error(
                request.model, "bad_response", f"unreadable answer: {_short(exc)}"
            ) from exc
        return self._result(request, response)

    async def _streamed(self, request: ChatRequest, kwargs: dict[str, Any]) -> ChatResult:
        """Read the answer as a stream, stopping at ``request.max_tokens`` output tokens."""
        cap = request.max_tokens
        stream = await self.client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        pieces = chars = 0
        model, finish, usage, cut, chunks = request.model, "stop", None, False, 0
        # Tool calls arrive in pieces: an id and a name first, then the arguments' text in
        # fragments, each piece naming the call's index.
        calls: dict[int, dict[str, str]] = {}
        async with stream:
            async for chunk in stream:
                if not isinstance(chunk, ChatCompletionChunk):
                    raise self.error(request.model, "bad_response", "stream chunk is not a chunk")
                chunks += 1
                model = chunk.model or model
                usage = chunk.usage or usage
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                piece = choice.delta.content if choice.delta else None
                for delta in (choice.delta.tool_calls if choice.delta else None) or []:
                    call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] = delta.id or call["id"]
                    if delta.function is not None:
                        call["name"] += delta.function.name or ""
                        fragment = delta.function.arguments or ""
                        call["arguments"] += fragment
                        # Arguments count against the output cap like text does.
                        if fragment:
                            pieces += 1
                            chars += len(fragment)
                    if cap is not None and (pieces > cap or chars > cap * MAX_CHARS_PER_TOKEN):
                        cut = True
                        break
                if cut:
                    break
                if piece:
                    # Servers send a token a chunk; one sending more per chunk is held by the
                    # text's size (an answer averages about 4 characters a token).
                    if cap is not None and (
                        pieces + 1 > cap or chars + len(piece) > cap * MAX_CHARS_PER_TOKEN
                    ):
                        # Past what was asked for: keep what fits and stop reading. A server
                        # that honours max_tokens never gets here, and its usage is read.
                        if pieces < cap:
                            parts.append(piece[: max(0, cap * MAX_CHARS_PER_TOKEN - chars)])
                        cut = True
                        break
                    parts.append(piece)
                    pieces += 1
                    chars += len(piece)
                finish = choice.finish_reason or finish
        if chunks == 0:
            # What a server that does not stream (or answers an HTML page) comes back as.
            raise self.error(request.model, "bad_response", "answer is not a chat completion")
        content = "".join(parts)
        prompt = prompt_text(request.messages)
        tool_calls = [
            _tool_call(c["id"], c["name"], c["arguments"]) for _, c in sorted(calls.items())
        ]
        if cut:
            # Leaving the block closed the connection; whatever the server makes after that
            # is not read, and the answer counts as the cap: all that was asked for. The
            # server's usage (sent last) never came, so the prompt is estimated.
            assert cap is not None
            tokens_in, tokens_out, finish = estimate_tokens(prompt), cap, "length"
            tool_calls = []  # a call whose arguments were cut off is no call
        elif usage is not None:
            tokens_in, tokens_out = usage.prompt_tokens, usage.completion_tokens
        else:
            tokens_in = estimate_tokens(prompt)
            written = content + "".join(c["function"]["arguments"] for c in tool_calls)
            tokens_out = max(pieces, estimate_tokens(written))
            if cap is not None:
                tokens_out = min(cap, tokens_out)
        return ChatResult(
            content=content,
            provider=self.name,
            model=model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            finish_reason=finish,
            tool_calls=tool_calls,
        )

    def _result(self, request: ChatRequest, response: Any) -> ChatResult:
        # A misbehaving server can answer 200 with a body that is not a chat completion at all
        # (the SDK then hands back a str or a half-filled object).
        if not isinstance(response, ChatCompletion) or not response.choices:
            raise self.error(request.model, "bad_response", "answer is not a chat completion")
        choice = response.choices[0]
        content = choice.message.content if choice.message else None
        tool_calls = [
            _tool_call(c.id, c.function.name, c.function.arguments)
            for c in (choice.message.tool_calls if choice.message else None) or []
            # Only function calls: a "custom" tool call is no tool this router offers.
            if isinstance(c, ChatCompletionMessageFunctionToolCall)
        ]
        if content is None and tool_calls:
            content = ""
        if not isinstance(content, str):
            raise self.error(request.model, "bad_response", "answer has no text content")
        usage = response.usage
        prompt = prompt_text(request.messages)
        written = content + "".join(c["function"]["arguments"] for c in tool_calls)
        return ChatResult(
            content=content,
            provider=self.name,
            model=response.model or request.model,
            tokens_in=usage.prompt_tokens if usage else estimate_tokens(prompt),
            tokens_out=usage.completion_tokens if usage else estimate_tokens(written),
            finish_reason=choice.finish_reason or "stop",
            tool_calls=tool_calls,
        )

    async def aclose(self) -> None:
        await self.client.close()


def _tool_call(call_id: str | None, name: str | None, arguments: str | None) -> ToolCall:
    return {
        "id": call_id or f"call_{uuid.uuid4().hex[:12]}",
        "type": "function",
        "function": {"name": name or "", "arguments": arguments or ""},
    }


def _short(value: object, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["OpenAIProvider", "ProviderError"]
