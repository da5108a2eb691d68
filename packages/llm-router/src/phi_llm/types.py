"""Plain data passed between the router, its providers and its callers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

Operation = Literal["chat", "complete", "embed"]
Outcome = Literal["ok", "error", "timeout", "refused"]

# The label every builtin output carries, so nobody mistakes it for model output.
BUILTIN_LABEL = "Produced without an LLM by the builtin provider"


class Message(TypedDict):
    """A chat message in OpenAI's shape. With tool calling, an assistant turn may carry
    ``tool_calls`` (and empty content), and each result goes back as a ``tool`` message
    naming the ``tool_call_id`` it answers."""

    role: str
    content: str
    tool_calls: NotRequired[list[ToolCall]]
    tool_call_id: NotRequired[str]
    name: NotRequired[str]


class ToolCallFunction(TypedDict):
    name: str
    # JSON text, as the model wrote it: callers parse and validate it.
    arguments: str


class ToolCall(TypedDict):
    """A call the model asks for, in OpenAI's shape."""

    id: str
    type: Literal["function"]
    function: ToolCallFunction


def tool_spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool offered to the model, in OpenAI's ``tools`` shape (``parameters`` is a JSON
    Schema of its arguments)."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


@dataclass(frozen=True)
class CallContext:
    """Who a call is made for; recorded with every call and used for the budget check."""

    org_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    # Name of the job asking (e.g. "generate_profile"); the builtin provider picks its
    # composer by it.
    task: str | None = None


@dataclass
class ChatRequest:
    """What a provider receives for a chat or completion."""

    model: str
    messages: list[Message]
    json_schema: dict[str, Any] | None = None
    schema_name: str = "result"
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float = 30.0
    # Structured facts the caller also rendered into the prompt; the builtin provider
    # composes its output from them, model providers ignore them.
    facts: dict[str, Any] | None = None
    task: str | None = None
    # OpenAI-shaped tool specs (see tool_spec) and tool_choice ("auto", "none", "required"
    # or {"type": "function", "function": {"name": ...}}); only tool-capable providers get them.
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


@dataclass
class CompletionRequest:
    model: str
    prompt: str
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float = 30.0
    facts: dict[str, Any] | None = None
    task: str | None = None


@dataclass
class ChatResult:
    """A provider's answer. ``parsed`` is set when a JSON schema was requested."""

    content: str
    provider: str = ""
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = "stop"
    parsed: Any = None
    produced_without_llm: bool = False
    latency_ms: int = 0
    cost_usd: float = 0.0
    # The calls the model asks for (finish_reason "tool_calls"); empty otherwise.
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class EmbedResult:
    vectors: list[list[float]]
    provider: str
    model: str
    dim: int
    tokens_in: int = 0
    latency_ms: int = 0


@runtime_checkable
class EmbeddingBackend(Protocol):
    """What the router needs from an embedding provider (see :mod:`phi_llm.embeddings`)."""

    dim: int
    model: str

    # numpy arrays satisfy these as well as lists do.
    def embed_passages(self, texts: list[str]) -> Sequence[Sequence[float]]: ...

    def embed_query(self, text: str) -> Sequence[float]: ...


class LLMRouter(Protocol):
    """What a service calls to use models: the in-process :class:`phi_llm.Router` and the
    HTTP :class:`phi_llm.client.RouterClient` both provide it, so code written against this
    runs either way."""

    async def chat(
        self,
        messages: list[Message],
        *,
        task_class: str = "default",
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "result",
        max_tokens: int | None = None,
        temperature: float | None = None,
        facts: dict[str, Any] | None = None,
        context: CallContext | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> ChatResult: ...

    async def supports_tools(self, task_class: str) -> bool:
        """Whether a route entry of ``task_class`` can call tools (a model, not builtin)."""
        ...

    async def complete(
        self,
        prompt: str,
        *,
        task_class: str = "default",
        max_tokens: int | None = None,
        temperature: float | None = None,
        facts: dict[str, Any] | None = None,
        context: CallContext | None = None,
    ) -> ChatResult: ...

    async def embed(
        self, texts: list[str], *, input_type: str = "passage", context: CallContext | None = None
    ) -> EmbedResult: ...


@dataclass
class CallRecord:
    """One provider attempt (or a refusal), as written to ``llm_calls``."""

    operation: Operation
    task_class: str
    provider: str
    model: str
    outcome: Outcome
    context: CallContext = field(default_factory=CallContext)
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    cost_usd: float = 0.0
    error: str | None = None


def prompt_text(messages: list[Message]) -> str:
    """What a prompt's token estimate is taken from: every message's text and tool calls."""
    parts = []
    for m in messages:
        parts.append(m.get("content") or "")
        for call in m.get("tool_calls") or []:
            parts.append(call["function"]["name"] + call["function"]["arguments"])
    return "".join(parts)


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token) for providers that report none."""
    return max(1, (len(text) + 3) // 4) if text else 0
